"""`python -m bench [serving|recover]`: serving throughput, and the loop's time to recover.

Both by default; name one to run only it (`make bench BENCH=recover`). `recover` is
bench/recover.py (fresh sandboxes, drift, the new champion on every replica, by phase).

Serving: throughput, p50, p99 and peak RSS of our server vs `mlflow models serve`.

Both servers run one worker, load the same registered artifact from the same MLflow server
(Postgres + SeaweedFS S3 started here by sandbox/services.py), and get the same wrk load with the
same body (an MLflow ``dataframe_split`` single row on ``/invocations``); our ``/predict``
(TF-serving ``instances``) is measured as an extra row. Servers run one at a time so they never
compete for the two cores. The inference log's cost is measured last (bench/inference_log.py).
Environment: BENCH_DURATION_SECONDS (default 10), BENCH_CLIENTS (default "8,32"),
BENCH_SKIP_TRAINING (set: reference model only).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from bench import inference_log, recover
from bench.load import LoadResult, lua_script, run_wrk, wrk_binary
from bench.models import (
    BenchModel,
    register_reference,
    register_training_default,
    training_available,
)
from bench.servers import Server, start_mlflow_serve, start_ours
from sandbox import services

TARGET_RATIO = 10.0


@dataclass(frozen=True)
class Row:
    """One measured (model, clients, server) cell."""

    model: str
    clients: int
    server: str
    result: LoadResult
    peak_rss: int
    mean_batch_rows: float | None  # ours only: rows per predict call during this cell


def _bodies(model: BenchModel) -> tuple[bytes, bytes]:
    columns = list(model.row)
    split = {"dataframe_split": {"columns": columns, "data": [[model.row[c] for c in columns]]}}
    return orjson.dumps(split), orjson.dumps({"instances": [model.row]})


def _batch_totals(server: Server) -> tuple[float, float] | None:
    """(rows, predict calls) so far, from our /metrics; None for the baseline."""
    response = httpx.get(server.url + "/metrics", timeout=10)
    if response.status_code != 200:
        return None
    totals = {"serving_batch_size_rows_sum": 0.0, "serving_batch_size_rows_count": 0.0}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] = sample.value
    return totals["serving_batch_size_rows_sum"], totals["serving_batch_size_rows_count"]


def _measure(
    server: Server, path: str, body: bytes, clients: list[int], seconds: int, work: Path
) -> list[tuple[int, LoadResult, float | None]]:
    script = lua_script(work, body)
    url = server.url + path
    run_wrk(url, script, clients[0], 2)  # warm-up: first requests, lazy imports, caches
    cells = []
    for c in clients:
        before = _batch_totals(server)
        result = run_wrk(url, script, c, seconds)
        after = _batch_totals(server)
        mean = None
        if before is not None and after is not None and after[1] > before[1]:
            mean = (after[0] - before[0]) / (after[1] - before[1])
        cells.append((c, result, mean))
    return cells


def bench_model(
    model: BenchModel, tracking_uri: str, clients: list[int], seconds: int, work: Path
) -> list[Row]:
    """Measure the baseline, then ours (same body), then ours on /predict."""
    split_body, instances_body = _bodies(model)
    rows: list[Row] = []
    plan = [
        ("mlflow models serve", "/invocations", split_body),
        ("serving /invocations", "/invocations", split_body),
        ("serving /predict", "/predict", instances_body),
    ]
    for label, path, body in plan:
        log = work / f"{model.name}-{label.replace(' ', '_').replace('/', '')}.log"
        if label.startswith("mlflow"):
            server = start_mlflow_serve(model.uri, tracking_uri, log)
        else:
            server = start_ours(model.name, tracking_uri, log)
        try:
            results = _measure(server, path, body, clients, seconds, work)
        finally:
            server.stop()
        rows.extend(Row(model.label, c, label, r, server.peak_rss, b) for c, r, b in results)
        print(f"  measured {label} on {model.label}", file=sys.stderr, flush=True)
    return rows


def render(rows: list[Row], notes: list[str], seconds: int) -> str:
    """The markdown table, ratio lines and notes."""
    out = [
        f"Serving benchmark: {seconds}s per cell, wrk, single-row requests, 1 worker each.",
        "",
        "| model | clients | server | req/s | p50 ms | p99 ms | peak RSS MiB | errors "
        "| rows/predict |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        batch = "-" if r.mean_batch_rows is None else f"{r.mean_batch_rows:.1f}"
        out.append(
            f"| {r.model} | {r.clients} | {r.server} | {r.result.requests_per_second:.0f} "
            f"| {r.result.p50_ms:.1f} | {r.result.p99_ms:.1f} | {r.peak_rss / 2**20:.0f} "
            f"| {r.result.errors} | {batch} |"
        )
    out.append("")
    for r in rows:
        if r.server == "mlflow models serve":
            continue
        base = next(
            b for b in rows
            if b.model == r.model and b.clients == r.clients and b.server == "mlflow models serve"
        )  # fmt: skip
        ratio = r.result.requests_per_second / max(base.result.requests_per_second, 1e-9)
        p99_ratio = r.result.p99_ms / max(base.result.p99_ms, 1e-9)
        met = ratio >= TARGET_RATIO and p99_ratio < 1.0
        verdict = "MEETS" if met else "MISSES"
        out.append(
            f"- {r.model}, {r.clients} clients, {r.server}: throughput x{ratio:.1f}, "
            f"p99 x{p99_ratio:.2f}, RSS x{r.peak_rss / max(base.peak_rss, 1):.2f} vs baseline "
            f"-> {verdict} the target (>= {TARGET_RATIO:.0f}x throughput at a lower p99)"
        )
    out.extend(["", *notes])
    return "\n".join(out)


def serving() -> str:
    """Start the services, register the models, measure; the table."""
    wrk_binary()
    seconds = int(os.environ.get("BENCH_DURATION_SECONDS", "10"))
    clients = [int(c) for c in os.environ.get("BENCH_CLIENTS", "8,32").split(",")]
    notes = [
        "Peak RSS is the whole process tree: for the baseline that includes the `mlflow` CLI "
        "parent that runs uvicorn.",
        f"Machine: {os.cpu_count()} cores shared with the load generator (wrk, 2 threads).",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        print("bench: starting Postgres, SeaweedFS S3, MLflow", file=sys.stderr, flush=True)
        started = time.monotonic()
        with (
            services.running(services.start_postgres(work / "pg")) as pg,
            services.running(services.start_s3(work / "s3")) as s3,
            services.running(services.start_mlflow(work / "mlflow", pg, s3)) as mlflow_srv,
        ):
            uri = mlflow_srv.tracking_uri
            log_env = inference_log.log_env(s3)
            models = [register_reference(uri)]
            if os.environ.get("BENCH_SKIP_TRAINING"):
                notes.append("Training app default model skipped: BENCH_SKIP_TRAINING is set.")
            elif training_available():
                try:
                    models.append(register_training_default(uri, mlflow_srv.env()))
                except RuntimeError as exc:
                    notes.append(f"Training app default model skipped: {exc}")
            else:
                notes.append("Training app default model skipped: `training` is not importable.")
            rows: list[Row] = []
            for model in models:
                print(f"bench: {model.label} ({model.uri})", file=sys.stderr, flush=True)
                rows.extend(bench_model(model, uri, clients, seconds, work))
                notes.extend(
                    inference_log.measure_cost(model, uri, clients, seconds, work, log_env)
                )
        notes.append(f"Total bench time {time.monotonic() - started:.0f}s.")
    return render(rows, notes, seconds)


BENCHES = {"serving": serving, "recover": recover.main}


def main(argv: list[str]) -> None:
    """Run the named benchmarks (default all) and print each report as it is done."""
    unknown = [name for name in argv if name not in BENCHES]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    for name in argv or list(BENCHES):
        print(BENCHES[name](), flush=True)
        print(flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
