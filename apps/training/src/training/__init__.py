"""Training app: train, register, gate, promote, roll back, retrain."""
