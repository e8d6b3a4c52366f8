"""`make bench`: our serving app against `mlflow models serve`, side by side, same load."""
