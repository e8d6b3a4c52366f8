"""orjson responses and the one error body shape used by every route."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

_ERROR_CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}


def json_response(content: Any, status_code: int = 200, version: str | None = None) -> Response:
    """Serialise with orjson (numpy-aware); ``version`` goes to the X-Model-Version header."""
    headers = {"X-Model-Version": version} if version is not None else None
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def error_response(status_code: int, message: str, field: str | None = None) -> Response:
    """MLflow scoring-server error shape (error_code, message) plus the field at fault."""
    code = _ERROR_CODES.get(status_code, "INVALID_PARAMETER_VALUE")
    if status_code >= 500:
        code = "SERVICE_UNAVAILABLE" if status_code == 503 else "INTERNAL_ERROR"
    return json_response({"error_code": code, "message": message, "field": field}, status_code)
