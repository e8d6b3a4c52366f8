"""Steady prediction traffic and, a few seconds later, its true labels: the sandbox's users.

    python -m sandbox.traffic --state .sandbox

reads jobs/traffic.json (replica URLs, rate, label delay) and sends one-row /predict requests
at a fixed rate, alternating between the serving replicas. Rows come from training's synthetic
generator (`training.data.generate`) with the drift knob read from the state folder every
second (`make sandbox-drift` sets it). Each row's true label goes to /feedback `label_delay`
seconds later, three times in four to the OTHER replica (labels may reach any replica). It
records a `swap` event when a replica's answers change model version, and writes its counters
to traffic.json in the state folder every second.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from mlops_contract import serving as srv

from sandbox.state import StateDir
from sandbox.stopping import stop_requested

# Rows generated per (seed, drift) block: one generator call per block, not per request.
BLOCK_ROWS = 500
# Labels waiting for their delay; beyond this the oldest are dropped (memory stays bounded).
MAX_PENDING_LABELS = 20_000
FEEDBACK_BATCH = 200
MAX_RATE = 200.0


@dataclass
class Counters:
    """What the traffic process did; written to the state folder every second."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    labels_sent: int = 0
    labels_failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    drift: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)

    def count(self, status: str) -> None:
        """Count one answer by status code (or error class)."""
        self.statuses[status] = self.statuses.get(status, 0) + 1


def rows(drift: Callable[[], float]) -> Iterator[tuple[dict[str, Any], int, float]]:
    """Endless (features, label, drift) from the training generator, new seed per block."""
    from training.data import TARGET, generate

    seed = 1000  # the champion trains on seed 0; the users' data is new data
    while True:
        knob = drift()
        frame = generate(BLOCK_ROWS, seed=seed, drift=knob)
        labels = frame.pop(TARGET).tolist()
        # Through JSON: plain Python numbers and strings, as a client would send them.
        records = json.loads(frame.to_json(orient="records"))
        for record, label in zip(records, labels, strict=True):
            yield record, int(label), knob
            if drift() != knob:
                break
        seed += 1


@dataclass
class Traffic:
    """The request loop: rate-limited predictions, delayed labels, swap detection."""

    replicas: list[str]
    rate: float
    label_delay: float
    state: StateDir
    client: httpx.Client
    counters: Counters = field(default_factory=Counters)
    pending: collections.deque[tuple[float, int, str, int]] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_PENDING_LABELS)
    )

    def predict(self, index: int, row: dict[str, Any], label: int) -> None:
        """Send one row to replica index % n; queue its label for the delay."""
        replica = index % len(self.replicas)
        self.counters.sent += 1
        try:
            answer = self.client.post(
                f"{self.replicas[replica]}{srv.PREDICT_PATH}", json={"instances": [row]}
            )
        except httpx.HTTPError as exc:
            self.counters.failed += 1
            self.counters.count(type(exc).__name__)
            return
        self.counters.count(str(answer.status_code))
        if answer.status_code != 200:
            self.counters.failed += 1
            return
        self.counters.ok += 1
        body = answer.json()
        self._saw_version(self.replicas[replica], str(body.get("model_version")))
        # Three labels in four go to another replica than the one that answered.
        target = (replica + (1 if index % 4 else 0)) % len(self.replicas)
        due = time.monotonic() + self.label_delay
        self.pending.append((due, target, body["ids"][0], label))

    def _saw_version(self, replica: str, version: str) -> None:
        previous = self.counters.versions.get(replica)
        self.counters.versions[replica] = version
        if previous is not None and previous != version:
            self.state.add_event("swap", replica=replica, previous=previous, version=version)

    def send_due_labels(self) -> None:
        """POST every label whose delay has passed, batched per target replica."""
        now = time.monotonic()
        batches: dict[int, list[dict[str, Any]]] = {}
        while self.pending and self.pending[0][0] <= now:
            _, target, prediction_id, label = self.pending.popleft()
            batches.setdefault(target, []).append({"id": prediction_id, "label": label})
        for target, feedback in batches.items():
            for start in range(0, len(feedback), FEEDBACK_BATCH):
                chunk = feedback[start : start + FEEDBACK_BATCH]
                try:
                    answer = self.client.post(
                        f"{self.replicas[target]}{srv.FEEDBACK_PATH}", json={"feedback": chunk}
                    )
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.counters.labels_sent += len(chunk)
                else:
                    self.counters.labels_failed += len(chunk)

    def write_counters(self) -> None:
        """traffic.json in the state folder: the counters, for status and tests."""
        out = self.state.root / "traffic.json"
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps({"time": time.time(), **vars(self.counters)}), encoding="utf-8")
        tmp.replace(out)

    def run_until(self, stop: Callable[[], bool]) -> None:
        """Send at `rate` per second until `stop()`; never bursts to catch up."""
        interval = 1.0 / self.rate
        knob = {"value": self.state.drift(), "read": time.monotonic()}

        def drift() -> float:
            if time.monotonic() - knob["read"] >= 1.0:
                knob["value"], knob["read"] = self.state.drift(), time.monotonic()
            return knob["value"]

        next_send = time.monotonic()
        last_write = 0.0
        for index, (row, label, used) in enumerate(rows(drift)):
            if stop():
                break
            if used != self.counters.drift:
                print(f"traffic: drift {self.counters.drift:g} -> {used:g}", flush=True)
                self.counters.drift = used
            self.predict(index, row, label)
            self.send_due_labels()
            if time.monotonic() - last_write >= 1.0:
                self.write_counters()
                last_write = time.monotonic()
            next_send = max(next_send + interval, time.monotonic() - interval)
            time.sleep(max(0.0, next_send - time.monotonic()))
        self.write_counters()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the traffic loop until SIGTERM (the sandbox's `down`)."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.traffic", description=__doc__)
    parser.add_argument("--state", type=Path, required=True, help="the sandbox state folder")
    args = parser.parse_args(argv)
    state = StateDir(args.state)
    job = state.read_job("traffic")
    rate = float(job["rate"])
    if not 0 < rate <= MAX_RATE:
        raise SystemExit(f"traffic rate must be in (0, {MAX_RATE:g}] requests/s, got {rate}")
    stopping = stop_requested()
    with httpx.Client(timeout=10.0) as client:
        traffic = Traffic(
            replicas=list(job["replicas"]),
            rate=rate,
            label_delay=float(job["label_delay"]),
            state=state,
            client=client,
        )
        print(f"traffic: {rate:g} req/s to {', '.join(traffic.replicas)}", flush=True)
        traffic.run_until(lambda: stopping() or not state.job("traffic").exists())
    return 0


if __name__ == "__main__":
    sys.exit(main())
