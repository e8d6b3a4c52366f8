"""The loop, closed, end to end over one sandbox (issue 9's acceptance), in about 5 minutes.

Scenario 1, drift: the champion serves; the traffic switches to drifted data; the drift (or
accuracy) alert fires in Prometheus (the schedule suspended until then: the loop is often
faster than the alert's one-minute hold); the next scheduled retrain decides to retrain, trains
on the logged production data (its MLflow run's dataset input is the inference-log snapshot),
the gate promotes (alias moved, `previous` set), both replicas answer with the new version, and its
online accuracy on drifted traffic is clearly above the old champion's on the same traffic.

Scenario 2, same sandbox, schedule suspended so the only registry moves are ours: a deliberately
weak candidate is trained with the CronJob's rendered env and rejected by the gate (exit 3)
on the champion's own recent labelled holdout, the champion unchanged; `rollback` restores the
previous champion and both replicas follow.

Throughout: continuous traffic with zero failed predictions and labels; at the end the timeline
PNG (four panels) is written and `down` leaves nothing running or listening. Every wait is
bounded and its failure names what was awaited and the log to read.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from mlflow.tracking import MlflowClient
from mlops_contract import metrics as m
from mlops_contract import registry as reg
from mlops_contract import serving as srv

from sandbox import timeline
from sandbox.recovery import recovery
from sandbox.stack import Sandbox
from sandbox.state import StateDir, port_listening, process_alive
from tests.sandbox.conftest import sandbox_stack_file

pytestmark = pytest.mark.integration

DRIFT_ALERTS = ("FeatureDriftHigh", "OnlineAccuracyDrop")
REPLICAS = ("serving-0", "serving-1")
# From the resume: the next schedule time (<= 60 s), a retrain (~10 s, 30 s on busy cores);
# one more schedule time as margin.
PROMOTION_TIMEOUT = 150.0
SWAP_TIMEOUT = 60.0
# PSI crosses 0.2 within ~15 s of the onset, then the rule's 1 minute hold, 5 s evaluations.
ALERT_TIMEOUT = 150.0
# A retrain check in flight (a check that trains takes ~10 s, 30 s on busy cores).
IDLE_TIMEOUT = 90.0
# The new champion's pushed figure needs one retrain run after the swap with enough rows.
RECOVERY_TIMEOUT = 150.0
# The new champion's online figure counts only with this many labelled rows (~10 s of traffic).
MIN_ROWS = 200
# "Clearly above": the old champion falls to ~0.66 on fully drifted rows, a model trained on
# them reaches ~0.8 (tests/training); half that gap is far outside the noise of 200+ rows.
RECOVERY_MARGIN = 0.05

T = TypeVar("T")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Postgres runs as `postgres` when we are root: its data dir's parents must be searchable,
    # which pytest's private tmp dirs are not.
    path = Path(tempfile.mkdtemp(prefix="sandbox-e2e-"))
    path.chmod(0o755)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _until(what: str, log: Path, seconds: float, probe: Callable[[], T | None]) -> T:
    """Poll `probe` every second until it returns something (not None: False is an answer)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() >= deadline:
            pytest.fail(f"waited {seconds:.0f}s for {what}; read {log}")
        time.sleep(1.0)


def _served_version(url: str, body: dict[str, Any]) -> str:
    answer = httpx.post(f"{url}{srv.PREDICT_PATH}", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["model_version"])


def _all_serve(sandbox: Sandbox, version: str) -> Callable[[], bool | None]:
    _, body = sandbox.sample_request()
    urls = sandbox.urls()
    return lambda: all(_served_version(urls[r], body) == version for r in REPLICAS) or None


def _query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=10)
    body = answer.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _by_version(prometheus: str, metric: str) -> dict[str, float]:
    return {
        r["metric"]["model_version"]: float(r["value"][1])
        for r in _query(prometheus, f'{metric}{{job="{m.JOB_RETRAIN}"}}')
    }


def _promotion_after(sandbox: Sandbox, moment: float) -> Callable[[], dict[str, Any] | None]:
    return lambda: next(
        (e for e in sandbox.events() if e["kind"] == "promotion" and e["time"] > moment), None
    )


def _old_champion_on_drift(sandbox: Sandbox, version: str, since: float) -> tuple[float, int]:
    """The old champion's online accuracy on drifted traffic, from the inference log.

    Read with training's own reader (the join `retrain` uses) over the rows that version served
    after the onset: a pure figure, where the pushed one mixes in the minutes before the drift.
    """
    from training import inference_log
    from training.data import TARGET
    from training.settings import Settings
    from training.storage import S3Config

    env = sandbox.state.read_job("retrain")["env"]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        settings = Settings()
    assert settings.inference_log_bucket
    window = inference_log.Window(start=datetime.fromtimestamp(since, UTC), end=datetime.now(UTC))
    rows = inference_log.read(
        S3Config.for_inference_log(settings), settings.inference_log_bucket, window
    ).labelled
    served = rows[rows[inference_log.MODEL_VERSION] == version]
    correct = served[inference_log.PREDICTION] == served[TARGET]
    return float(correct.mean()), len(served)


def _story(state: StateDir) -> str:
    """The loop's recent events and the retrain decisions, for a failure message."""
    events = [
        f"{e['time']:.1f} {e['kind']} {e.get('run', '')} {e.get('version', '')}"
        for e in state.events()[-15:]
        if e["kind"] != "swap"
    ]
    lines = state.log("scheduler").read_text().splitlines()
    decided = [line for line in lines if "decision:" in line or "PROMOTED" in line][-6:]
    return "\n".join(["events:", *events, "scheduler log:", *decided])


def _counters(state_dir: Path) -> dict[str, Any]:
    return dict(json.loads((state_dir / "traffic.json").read_text()))


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    assert head[12:16] == b"IHDR", head
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_drift_retrains_promotes_swaps_and_a_worse_candidate_changes_nothing(
    state_dir: Path,
) -> None:
    started = time.monotonic()
    state = StateDir(state_dir, any_port=True)
    printed: list[str] = []
    sandbox = Sandbox(state, say=printed.append, stack_file=sandbox_stack_file(state_dir))
    scheduler_log, traffic_log = state.log("scheduler"), state.log("traffic")
    records: dict[str, dict[str, Any]] = {}
    try:
        urls = sandbox.up()
        records = state.processes()
        prometheus = urls["prometheus"]
        client = MlflowClient(urls["mlflow"])
        job = state.read_job("retrain")
        model, alias = job["model_name"], job["model_alias"]  # what training moves, serving follows
        first = client.get_model_version_by_alias(model, alias).version
        _until(f"both replicas serving v{first}", state.log("serving-0"), SWAP_TIMEOUT,
               _all_serve(sandbox, first))  # fmt: skip
        time.sleep(10)  # some undrifted traffic in the log and the drift window first

        # --- scenario 1: drift -> alert, retrain on the log, promotion, swap, recovery ---
        # The alert holds for a minute; the loop often adapts sooner (the next check comes
        # within a minute and a retrain takes seconds), and then the alert never fires, which
        # is the loop doing its job. To see it fire every time, the schedule is suspended from
        # the onset until it fires (as `kubectl patch cronjob retrain` spec.suspend would);
        # `make bench BENCH=recover` times the loop without the pause.
        sandbox.suspend()
        time.sleep(1)  # a run that passed the suspend check just before has recorded its start
        _until(
            "the retrain check in flight to end",
            scheduler_log,
            IDLE_TIMEOUT,
            lambda: sandbox.idle() or None,
        )
        onset = sandbox.drift(1.0)["time"]
        firing = _until(
            f"{' or '.join(DRIFT_ALERTS)} firing in Prometheus (hold 1m)",
            state.log("prometheus"),
            ALERT_TIMEOUT,
            lambda: (
                _query(
                    prometheus,
                    f'ALERTS{{alertstate="firing", alertname=~"{"|".join(DRIFT_ALERTS)}"}}',
                )
                or None
            ),
        )
        print("alerts firing:", sorted({r["metric"]["alertname"] for r in firing}))
        resumed = sandbox.suspend(False)["time"]
        promotion = _until(
            "the next scheduled retrain to promote a new champion",
            scheduler_log,
            PROMOTION_TIMEOUT,
            _promotion_after(sandbox, resumed),
        )
        new = str(promotion["version"])
        assert promotion["previous"] == first, promotion
        assert client.get_model_version_by_alias(model, alias).version == new
        assert client.get_model_version_by_alias(model, reg.PREVIOUS_ALIAS).version == first
        _until(f"both replicas answering with v{new}", state.log("serving-1"), SWAP_TIMEOUT,
               _all_serve(sandbox, new))  # fmt: skip

        # The run decided to retrain, and said why; the phases are all in events and log.
        replicas = [urls[r] for r in REPLICAS]  # the traffic names replicas by URL
        timed = recovery(sandbox.events(), scheduler_log.read_text(), replicas, resumed)
        assert timed.version == new
        assert timed.reason.startswith(("drift: max PSI", "accuracy drop:")), timed.reason
        print(f"from the resume to both replicas on v{new}: {timed.total:.1f}s {timed.phases}")

        # Trained on the logged production data: the run's dataset input is the log snapshot.
        run = client.get_run(client.get_model_version(model, new).run_id)
        assert run.data.params["data_source"].startswith("inference-log:"), run.data.params
        sources = [d.dataset.source for d in run.inputs.dataset_inputs]
        assert any("s3://" in s and "inference-log" in s for s in sources), sources
        holdout = client.get_model_version(model, new).tags["gate.holdout"]
        assert holdout.startswith("s3://"), holdout
        assert "inference-log-holdout" in holdout, holdout

        # Online accuracy recovers: a version promoted after the drift (served drifted rows
        # only) has a pushed online figure on >= MIN_ROWS labelled rows, clearly above what the
        # old champion scored on the same kind of rows (read from the log, after the onset).
        def recovered() -> tuple[str, float] | None:
            online = _by_version(prometheus, m.ONLINE_ACCURACY_LOGGED)
            rows = _by_version(prometheus, m.LABELLED_ROWS_LOGGED)
            ready = [v for v in online if int(v) >= int(new) and rows.get(v, 0) >= MIN_ROWS]
            return (ready[0], online[ready[0]]) if ready else None

        version, online = _until(
            f"a pushed online accuracy of v{new} or later on >= {MIN_ROWS} labelled rows",
            scheduler_log,
            RECOVERY_TIMEOUT,
            recovered,
        )
        old, old_rows = _old_champion_on_drift(sandbox, first, onset + 5)
        print(f"online accuracy on drifted traffic: v{first} {old:.3f} ({old_rows} rows), "
              f"v{version} {online:.3f}")  # fmt: skip
        assert old_rows >= MIN_ROWS, old_rows
        assert online >= old + RECOVERY_MARGIN, (old, online)

        # --- scenario 2: a worse candidate changes nothing; rollback restores the previous ---
        sandbox.suspend()  # no scheduled promotion races ours from here
        _until(
            "the retrain check in flight to end",
            scheduler_log,
            IDLE_TIMEOUT,
            lambda: sandbox.idle() or None,
        )
        champion = client.get_model_version_by_alias(model, alias).version
        previous = client.get_model_version_by_alias(model, reg.PREVIOUS_ALIAS).version
        recent = client.get_model_version(model, champion).tags["gate.holdout"]
        weak = sandbox.training("train", "--n-estimators", "1", "--max-depth", "1", "--rows", "200")
        assert weak.returncode == 0, weak.stdout + weak.stderr
        candidate = re.search(r"registered \S+ version (\d+)", weak.stdout)
        assert candidate, weak.stdout
        gate = sandbox.training("promote", "--version", candidate[1], "--holdout", recent)
        assert gate.returncode == 3, gate.stdout + gate.stderr  # rejected
        assert "REJECTED" in gate.stdout, gate.stdout
        assert client.get_model_version_by_alias(model, alias).version == champion, _story(state)
        time.sleep(5)  # over two poll intervals: a (wrong) swap would show by now
        assert _all_serve(sandbox, champion)(), f"a replica left v{champion}"

        back = sandbox.training("rollback")
        assert back.returncode == 0, back.stdout + back.stderr
        assert client.get_model_version_by_alias(model, alias).version == previous
        _until(f"both replicas back on v{previous} after rollback", state.log("serving-0"),
               SWAP_TIMEOUT, _all_serve(sandbox, previous))  # fmt: skip

        # Continuous traffic, not one failed prediction or label, through both scenarios.
        time.sleep(1.5)  # the counters file is rewritten every second
        counters = _counters(state_dir)
        elapsed = time.time() - onset
        assert counters["failed"] == 0, f"{counters} (read {traffic_log})"
        assert counters["labels_failed"] == 0, f"{counters} (read {traffic_log})"
        assert counters["sent"] >= 10 * elapsed, (counters, elapsed)  # 25/s nominal
        assert counters["labels_sent"] >= counters["sent"] * 0.8, counters

        # The picture of the loop: four panels with data, a PNG of the expected size.
        panels, _ = timeline.collect(state)
        assert all(panels[name] for name in timeline.PANELS), {n: len(panels[n]) for n in panels}
        png = timeline.write_timeline(state, state_dir / "timeline.png")
        assert png.stat().st_size > 40_000, png.stat().st_size
        assert _png_size(png) == (1400, 1000)
    finally:
        records = records or state.processes()
        sandbox.down()
    assert [name for name, record in records.items() if process_alive(record)] == []
    ports = sorted({p for r in records.values() for p in r.get("ports", [])})
    assert ports
    assert [p for p in ports if port_listening(p)] == []
    print(f"e2e test took {time.monotonic() - started:.0f}s")
