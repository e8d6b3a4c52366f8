"""Pure ASGI middleware for request metrics (cheaper than BaseHTTPMiddleware)."""

from __future__ import annotations

import time

from mlops_contract import serving as routes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.metrics import ServingMetrics

# Fixed route labels: an unknown path must not create a new time series per URL.
ROUTES = frozenset({*routes.API_ROUTES, routes.HEALTH_PATH, routes.READY_PATH, routes.METRICS_PATH})


class MetricsMiddleware:
    """Counts requests by route and status, times them, and tracks requests in flight."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request; other scopes (lifespan) pass straight through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        status = 500  # if the app dies before answering, that is what the client sees
        metrics = self.metrics

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.inflight.inc()
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics.inflight.dec()
            metrics.request_duration.labels(route).observe(time.perf_counter() - start)
            metrics.requests.labels(route, str(status)).inc()
