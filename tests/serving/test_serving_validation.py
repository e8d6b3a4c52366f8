"""Every malformed input gets a 4xx whose message names the field; never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.serving.helpers import MAX_BATCH_ROWS, MAX_BODY_BYTES, SLOW_ROW

pytestmark = pytest.mark.integration


def _row(**changes: Any) -> dict[str, Any]:
    row = {**SLOW_ROW, **changes}
    return {k: v for k, v in row.items() if v is not _DROP}


_DROP = object()


def _body(value: Any) -> bytes:
    return orjson.dumps(value)


def _raw_row(literal: str) -> bytes:
    return (
        b'{"instances": [{"speed": ' + literal.encode()
        + b', "volume": 100.0, "hour": 8, "weather": "rain"}]}'
    )  # fmt: skip


PREDICT_CASES = [
    ("malformed JSON", b'{"instances": [', 400, "body"),
    ("not an object", b"[1, 2]", 400, "body"),
    ("empty body", b"", 400, "body"),
    ("no instances key", _body({"rows": [SLOW_ROW]}), 400, "instances"),
    ("unknown top-level key", _body({"instances": [SLOW_ROW], "extra": 1}), 422, "extra"),
    ("instances not a list", _body({"instances": SLOW_ROW}), 422, "instances"),
    ("empty batch", _body({"instances": []}), 422, "instances"),
    ("oversized batch", _body({"instances": [SLOW_ROW] * (MAX_BATCH_ROWS + 1)}), 422,
     "MAX_BATCH_ROWS"),
    ("row not an object", _body({"instances": [1]}), 422, "instances[0]"),
    ("missing feature", _body({"instances": [_row(speed=_DROP)]}), 422, "speed"),
    ("extra feature", _body({"instances": [_row(colour="red")]}), 422, "colour"),
    ("string for a number", _body({"instances": [_row(speed="fast")]}), 422, "speed"),
    ("boolean for a number", _body({"instances": [_row(speed=True)]}), 422, "speed"),
    ("null for a number", _body({"instances": [_row(speed=None)]}), 422, "speed"),
    ("fraction for an integer", _body({"instances": [_row(hour=8.5)]}), 422, "hour"),
    ("number for a category", _body({"instances": [_row(weather=3)]}), 422, "weather"),
    ("NaN", _raw_row("NaN"), 422, "speed"),
    ("Infinity", _raw_row("Infinity"), 422, "speed"),
    ("-Infinity", _raw_row("-Infinity"), 422, "speed"),
    ("overflow to infinity", _raw_row("1e999"), 422, "speed"),
    ("integer beyond int64", _body({"instances": [_row(hour=2**62)]})[:-3]
     .replace(b"4611686018427387904", b"4611686018427387904000") + b"}]}", 422, "hour"),
    ("number beyond float64", _raw_row("1" + "0" * 400), 422, "speed"),
    ("second row bad", _body({"instances": [SLOW_ROW, _row(volume="x")]}), 422,
     "instances[1].volume"),
    ("oversized body", b'{"instances": [' + b" " * MAX_BODY_BYTES + b"]}", 413, "MAX_BODY_BYTES"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [case[1:] for case in PREDICT_CASES],
    ids=[case[0] for case in PREDICT_CASES],
)
def test_predict_rejects_malformed_input_naming_the_field(
    client: TestClient, body: bytes, status: int, named: str
) -> None:
    response = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()
    assert named in error["message"], error
    assert error["error_code"]


def test_predict_rejects_an_oversized_chunked_body_without_content_length(
    client: TestClient,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000
        yield b"]}"

    response = client.post("/predict", content=chunks())
    assert response.status_code == 413
    assert "MAX_BODY_BYTES" in response.json()["message"]


def test_predict_rejects_a_declared_content_length_above_the_limit(client: TestClient) -> None:
    response = client.post(
        "/predict",
        content=_body({"instances": [SLOW_ROW]}),
        headers={"content-length": str(MAX_BODY_BYTES + 1)},
    )
    assert response.status_code == 413
    assert response.json()["field"] == "body"


INVOCATION_CASES = [
    ("no format key", {"rows": [SLOW_ROW]}, 400, "dataframe_split"),
    ("two format keys", {"inputs": [SLOW_ROW], "instances": [SLOW_ROW]}, 400, "exactly one"),
    ("split without data", {"dataframe_split": {"columns": ["speed"]}}, 422, "data"),
    ("split missing column", {"dataframe_split": {"columns": ["speed", "volume", "hour"],
                                                  "data": [[1.0, 2.0, 3]]}}, 422, "weather"),
    ("split unknown column", {"dataframe_split": {
        "columns": ["speed", "volume", "hour", "weather", "x"],
        "data": [[1.0, 2.0, 3, "rain", 1]]}}, 422, "'x'"),
    ("split short row", {"dataframe_split": {"columns": ["speed", "volume", "hour", "weather"],
                                             "data": [[1.0, 2.0]]}}, 422, "split.data[0]"),
    ("records wrong type", {"dataframe_records": [_row(volume="lots")]}, 422, "volume"),
    ("inputs ragged columns", {"inputs": {"speed": [1.0, 2.0], "volume": [1.0], "hour": [1],
                                          "weather": ["rain"]}}, 422, "same length"),
    ("inputs empty", {"inputs": []}, 422, "empty batch"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("payload", "status", "named"),
    [case[1:] for case in INVOCATION_CASES],
    ids=[case[0] for case in INVOCATION_CASES],
)
def test_invocations_rejects_malformed_payloads_naming_the_field(
    client: TestClient, payload: Any, status: int, named: str
) -> None:
    response = client.post("/invocations", json=payload)
    assert response.status_code == status, response.text
    assert named in response.json()["message"]


def test_invocations_refuses_non_json_content_types(client: TestClient) -> None:
    response = client.post(
        "/invocations", content=b"speed,volume\n1,2\n", headers={"content-type": "text/csv"}
    )
    assert response.status_code == 415
    assert "Content-Type" in response.json()["message"]


FEEDBACK_CASES = [
    ("no feedback key", {"labels": []}, 400, "feedback"),
    ("empty", {"feedback": []}, 422, "empty batch"),
    ("item not an object", {"feedback": [1]}, 422, "feedback[0]"),
    ("id not a string", {"feedback": [{"id": 1, "label": 0}]}, 422, "feedback[0].id"),
    ("label not a label", {"feedback": [{"id": "a", "label": [1]}]}, 422, "feedback[0].label"),
]


@pytest.mark.parametrize(
    ("payload", "status", "named"),
    [case[1:] for case in FEEDBACK_CASES],
    ids=[case[0] for case in FEEDBACK_CASES],
)
def test_feedback_rejects_malformed_payloads_naming_the_field(
    client: TestClient, payload: Any, status: int, named: str
) -> None:
    response = client.post("/feedback", json=payload)
    assert response.status_code == status, response.text
    assert named in response.json()["message"]


def test_no_malformed_request_was_answered_with_a_server_error(client: TestClient) -> None:
    # Runs after the cases above (same app): none of them may show up as a 5xx.
    client.post("/predict", json={"instances": [_row(speed="x")]})
    text = client.get("/metrics").text
    server_errors = [
        line for line in text.splitlines()
        if line.startswith("serving_requests_total{") and 'status="5' in line
        and 'route="/readyz"' not in line  # 503 before the first load is by design
    ]  # fmt: skip
    assert server_errors == []
    assert 'serving_requests_total{route="/predict",status="422"}' in text
