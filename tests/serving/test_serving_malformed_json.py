"""Malformed JSON of any depth or size is a 4xx on a real uvicorn server, never a 5xx.

A body of thousands of ``[`` used to reach the stdlib parser's recursion (or ``repr`` in an
error message), answer 500 and make uvicorn drop the keep-alive connection. Each case here is
sent on one kept-alive connection and followed by a valid request on that same connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.services import MlflowServer
from tests.serving.helpers import SLOW_ROW, Registered, ServingProcess, run_serving

pytestmark = pytest.mark.integration

BODY_LIMIT = 1_048_576  # MAX_BODY_BYTES of the server under test (the default)
BATCH_LIMIT = 64  # MAX_BATCH_ROWS of the server under test
DEPTHS = (10, 1000, 100_000)
FEATURES = b'["speed", "volume", "hour", "weather"]'

# Where the nested value goes on each route: the place validation looks at a client's value.
PLACES: dict[str, Callable[[bytes], bytes]] = {
    "/predict": lambda value: (
        b'{"instances": [{"speed": ' + value + b', "volume": 1.0, "hour": 8, "weather": "rain"}]}'
    ),
    "/invocations": lambda value: (
        b'{"dataframe_split": {"columns": ' + FEATURES + b', "data": [['
        + value + b', 1.0, 8, "rain"]]}}'
    ),
    "/feedback": lambda value: b'{"feedback": [{"id": "a", "label": ' + value + b"}]}",
}  # fmt: skip
VALID: dict[str, bytes] = {
    "/predict": orjson.dumps({"instances": [SLOW_ROW]}),
    "/invocations": orjson.dumps({"dataframe_records": [SLOW_ROW]}),
    "/feedback": orjson.dumps({"feedback": [{"id": "some-id", "label": 1}]}),
}
ROW = orjson.dumps(SLOW_ROW)
WRAPPERS = {
    "/predict": b"instances",
    "/invocations": b"dataframe_records",
    "/feedback": b"feedback",
}
FEEDBACK_ITEM = b'{"id": "a", "label": 1}'


def _nested(shape: str, depth: int) -> bytes:
    if shape == "arrays":
        return b"[" * depth + b"]" * depth
    if shape == "objects":
        return b'{"a": ' * depth + b"1" + b"}" * depth
    return b"[" * depth  # unclosed


def _wide(route: str, size: int) -> bytes:
    """A flat, valid JSON body of about ``size`` bytes: one array with many rows."""
    item = FEEDBACK_ITEM if route == "/feedback" else ROW
    head = b'{"' + WRAPPERS[route] + b'": ['
    count = max(1, (size - len(head) - 2) // (len(item) + 1))
    return head + b",".join([item] * count) + b"]}"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, mlflow_server: MlflowServer, registered: Registered
) -> Iterator[ServingProcess]:
    """The app under uvicorn on 127.0.0.1 (the failure was the server's, not TestClient's)."""
    env = {"MAX_BODY_BYTES": str(BODY_LIMIT), "MAX_BATCH_ROWS": str(BATCH_LIMIT)}
    tmp: Path = tmp_path_factory.mktemp("malformed-json")
    with run_serving(tmp, mlflow_server.tracking_uri, registered.name, **env) as process:
        process.wait_ready()
        yield process


@pytest.fixture
def connection(server: ServingProcess) -> Iterator[httpx.Client]:
    """One client holding one kept-alive connection."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=server.url, timeout=60, limits=limits) as client:
        yield client


def _client_port(response: httpx.Response) -> int:
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


def _send_then_follow_up(client: httpx.Client, route: str, body: bytes) -> httpx.Response:
    """POST ``body``, then a valid request; both on the same connection, the second a 200."""
    headers = {"content-type": "application/json"}
    response = client.post(route, content=body, headers=headers)
    follow_up = client.post(route, content=VALID[route], headers=headers)
    assert follow_up.status_code == 200, follow_up.text
    assert _client_port(follow_up) == _client_port(response), "the connection was dropped"
    return response


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", ["arrays", "objects", "unclosed arrays"])
@pytest.mark.parametrize("route", list(PLACES))
def test_deeply_nested_values_are_client_errors_and_keep_the_connection(
    connection: httpx.Client, route: str, shape: str, depth: int
) -> None:
    response = _send_then_follow_up(connection, route, PLACES[route](_nested(shape, depth)))
    assert response.status_code in (400, 422), response.text
    error = response.json()
    if response.status_code == 400:
        assert error["message"].startswith("malformed JSON body: "), error
        if depth == 100_000 and shape != "objects":
            assert "nested more than 64 levels deep" in error["message"], error
    else:  # parsed (orjson takes up to 1024 levels): the value is refused, naming its field
        assert error["field"].endswith(("[0].speed", "[0].label")), error
        assert "got array" in error["message"] or "got object" in error["message"], error


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("route", list(PLACES))
def test_a_deeply_nested_body_is_a_bad_request(
    connection: httpx.Client, route: str, depth: int
) -> None:
    response = _send_then_follow_up(connection, route, _nested("arrays", depth))
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"


@pytest.mark.parametrize("route", list(PLACES))
def test_a_wide_body_within_the_limit_is_refused_by_validation(
    connection: httpx.Client, route: str
) -> None:
    body = _wide(route, BODY_LIMIT - 64)
    assert BODY_LIMIT // 2 < len(body) <= BODY_LIMIT
    response = _send_then_follow_up(connection, route, body)
    assert response.status_code == 422, response.text
    assert f"exceed MAX_BATCH_ROWS={BATCH_LIMIT}" in response.json()["message"]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", list(PLACES))
def test_a_wide_body_above_the_limit_is_too_large(
    connection: httpx.Client, route: str, chunked: bool
) -> None:
    body = _wide(route, 2 * BODY_LIMIT)
    assert len(body) > BODY_LIMIT
    content = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    response = connection.post(route, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert "MAX_BODY_BYTES" in response.json()["message"]
    follow_up = connection.post(route, content=VALID[route])
    assert follow_up.status_code == 200, follow_up.text


def test_no_malformed_body_was_counted_as_a_server_error(server: ServingProcess) -> None:
    # Runs after the cases above (same server): none of them may count against the SLO.
    text = server.metrics()
    answered = [line for line in text.splitlines() if line.startswith("serving_requests_total{")]
    assert any('status="400"' in line for line in answered), answered
    # /readyz answers 503 until the first model is loaded, by design; no other 5xx may appear.
    server_errors = [
        line for line in answered if 'status="5' in line and 'route="/readyz"' not in line
    ]
    assert server_errors == []
