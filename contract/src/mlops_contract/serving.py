"""The model server's addressable facts: its name, port and HTTP routes."""

from typing import Final

NAME: Final = "serving"
COMPONENT: Final = "model-server"
# The container port, the Service port, the NetworkPolicy port and the scrape port.
PORT: Final = 8080
PORT_NAME: Final = "http"

PREDICT_PATH: Final = "/predict"
INVOCATIONS_PATH: Final = "/invocations"
FEEDBACK_PATH: Final = "/feedback"
HEALTH_PATH: Final = "/healthz"
READY_PATH: Final = "/readyz"
METRICS_PATH: Final = "/metrics"
# Routes that carry model traffic (SLIs); probes and scrapes would dilute them.
PREDICT_ROUTES: Final = (PREDICT_PATH, INVOCATIONS_PATH)
API_ROUTES: Final = (*PREDICT_ROUTES, FEEDBACK_PATH)
