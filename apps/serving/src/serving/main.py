"""The FastAPI app: ``uvicorn serving.main:app`` (one worker per pod)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request, Response

from serving.api.deps import NotReadyError
from serving.api.middleware import MetricsMiddleware
from serving.api.responses import error_response
from serving.api.routes import feedback, health, predict
from serving.registry import MLFLOW_HTTP_DEFAULTS
from serving.settings import Settings, load_settings
from serving.state import ServingState
from serving.validation import InputError

logger = logging.getLogger("serving")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the batcher and the registry follower; the first load happens in the background.

    The app answers /healthz and /readyz (503) at once instead of blocking startup on MLflow,
    so a pod whose registry is slow is visibly "not ready" rather than "not started".
    """
    state: ServingState = app.state.serving
    state.batcher.start()
    state.inference_log.start()
    follower = asyncio.create_task(state.follower.run(), name="registry-follower")
    try:
        yield
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await state.batcher.stop()
        await state.inference_log.stop()  # after the batcher: the last predictions are logged


async def _input_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, InputError)  # noqa: S101  # registered for InputError only
    return error_response(exc.status, exc.message, exc.field)


async def _not_ready(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotReadyError)  # noqa: S101  # registered for NotReadyError only
    return error_response(503, exc.message)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; settings come from the environment unless given (tests)."""
    settings = settings or load_settings()
    state = ServingState.create(settings)
    state.metrics.registry_up.set(0)
    state.metrics.offline_accuracy.set(math.nan)
    docs = "/docs" if settings.api_docs else None
    app = FastAPI(title="serving", lifespan=lifespan, docs_url=docs, redoc_url=None)
    app.state.serving = state
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(NotReadyError, _not_ready)
    for module in (predict, feedback, health):
        app.include_router(module.router)
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """Create ``app`` on first access, so importing this module never needs the environment."""
    global _app  # one app per process, built lazily for uvicorn
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        # The process's entry point (uvicorn asks for `app` once): the one place that sets
        # process-wide state, logging and MLflow's environment-only HTTP settings.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        for key, value in MLFLOW_HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        _app = create_app()
    return _app
