"""A picture of the loop: request rate, largest PSI, online accuracy, model version per replica.

    python -m sandbox timeline [--out loop.png] [--minutes 30]

Four stacked panels over time from Prometheus range queries (the sandbox's own Prometheus),
with vertical markers at drift onset, alert firing (the ALERTS series), retrain start and end,
promotion and swap (the events file; swaps also show as steps in the version panel). Online
accuracy is the figure `retrain` pushes from the joined inference log
(retrain_online_accuracy_ratio) when present, else serving's own rolling gauge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from mlops_contract import metrics as m
from mlops_contract import serving as srv
from mlops_contract import signals

from sandbox.state import StateDir, StateError

MAX_POINTS = 400
# Marker colour and label per event kind (alerts are added from the ALERTS series).
MARKERS = {
    "drift": ("tab:red", "drift onset"),
    "retrain_start": ("tab:gray", "retrain start"),
    "retrain_end": ("black", "retrain end"),
    "promotion": ("tab:green", "promotion"),
    "swap": ("tab:purple", "swap"),
    "alert": ("tab:orange", "alert firing"),
}


@dataclass(frozen=True)
class Series:
    """One labelled line: x in epoch seconds, y values."""

    label: str
    x: list[float]
    y: list[float]


class Prometheus:
    """Range queries against one Prometheus."""

    def __init__(self, url: str, start: float, end: float) -> None:
        """Query window [start, end] with a step that keeps at most MAX_POINTS points."""
        self.url, self.start, self.end = url.rstrip("/"), start, end
        self.step = max(1.0, (end - start) / MAX_POINTS)

    def range(self, query: str, label: str) -> list[Series]:
        """One Series per result; `label` may name a result label in braces, e.g. {instance}."""
        response = httpx.get(
            f"{self.url}/api/v1/query_range",
            params={"query": query, "start": self.start, "end": self.end, "step": self.step},
            timeout=30,
        )
        body = response.json()
        if body.get("status") != "success":
            raise StateError(f"Prometheus {self.url} refused {query!r}: {body.get('error')}")
        found = []
        for result in body["data"]["result"]:
            name = label.format(**{"instance": "", "alertname": "", **result["metric"]})
            points = [(float(t), float(v)) for t, v in result["values"]]
            found.append(Series(name, [p[0] for p in points], [p[1] for p in points]))
        return found


def gather(prom: Prometheus) -> dict[str, list[Series]]:
    """The four panels' series and the alert onsets."""
    routes = "|".join(srv.PREDICT_ROUTES)
    rate = (
        f'sum by (instance) (rate({m.REQUESTS_TOTAL}{{job="{m.JOB_SERVING}", '
        f'route=~"{routes}"}}[1m]))'
    )
    logged = prom.range(f"max({m.ONLINE_ACCURACY_LOGGED})", "online accuracy (inference log)")
    accuracy = logged or prom.range(signals.online_accuracy(), "online accuracy (serving)")
    return {
        "requests / s": prom.range(rate, "{instance}"),
        "largest PSI": prom.range(f"max({signals.max_psi()})", "max PSI over features"),
        "online accuracy": accuracy,
        "model version": prom.range(
            f'max by (instance) ({m.MODEL_VERSION}{{job="{m.JOB_SERVING}"}})', "{instance}"
        ),
        "alerts": prom.range('ALERTS{alertstate="firing"}', "{alertname}"),
    }


def _markers(events: list[dict[str, Any]], alerts: list[Series]) -> list[tuple[float, str]]:
    """(time, kind) of every marker: events plus the first firing sample of each alert run."""
    marks = [(float(e["time"]), str(e["kind"])) for e in events if e["kind"] in MARKERS]
    for series in alerts:
        previous = None
        for t in series.x:
            if previous is None or t - previous > 120:
                marks.append((t, "alert"))
            previous = t
    return marks


def render_png(
    panels: dict[str, list[Series]], events: list[dict[str, Any]], out: Path, title: str
) -> Path:
    """Draw the panels and markers to `out` (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in panels if name != "alerts"]
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 2.6 * len(names)), sharex=True)
    origin = min(
        [s.x[0] for series in panels.values() for s in series if s.x]
        + [float(e["time"]) for e in events]
        + [time.time()]
    )
    marks = _markers(events, panels["alerts"])
    for axis, name in zip(axes, names, strict=True):
        for series in panels[name]:
            x = [(t - origin) / 60 for t in series.x]
            if name == "model version":
                axis.step(x, series.y, where="post", label=series.label)
            else:
                axis.plot(x, series.y, label=series.label)
        if not panels[name]:
            axis.text(0.5, 0.5, "no data yet", transform=axis.transAxes, ha="center")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        seen: set[str] = set()
        for when, kind in marks:
            colour, label = MARKERS[kind]
            legend = label if label not in seen and axis is axes[0] else None
            axis.axvline((when - origin) / 60, color=colour, ls="--", lw=1, label=legend)
            seen.add(label)
        if panels[name] or axis is axes[0]:
            axis.legend(loc="upper left", fontsize=8, ncol=4)
    axes[-1].set_xlabel(f"minutes since {time.strftime('%H:%M:%S', time.localtime(origin))}")
    fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def write_timeline(state: StateDir, out: Path | None = None, minutes: float | None = None) -> Path:
    """Query the sandbox's Prometheus and write the PNG; returns its path."""
    record = state.processes().get("prometheus")
    if record is None or not record.get("url"):
        raise StateError(f"no sandbox Prometheus recorded in {state.root}: run `make sandbox`")
    events = state.events()
    ups = [e["time"] for e in events if e["kind"] == "starting"]
    end = time.time()
    start = end - minutes * 60 if minutes else (ups[-1] if ups else end - 1800)
    shown = [e for e in events if start <= e["time"] <= end]
    panels = gather(Prometheus(str(record["url"]), start - 60, end))
    # Replicas by name (serving-0) rather than address.
    names = {
        str(r["url"]).removeprefix("http://"): name
        for name, r in state.processes().items()
        if r.get("url")
    }
    panels = {
        panel: [Series(names.get(s.label, s.label), s.x, s.y) for s in series]
        for panel, series in panels.items()
    }
    target = out or state.root / "timeline.png"
    return render_png(panels, shown, target, "sandbox loop timeline")
