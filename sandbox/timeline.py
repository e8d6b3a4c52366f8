"""A picture of the loop: request rate, largest PSI, online accuracy, model version per replica.

    python -m sandbox timeline [--out loop.png] [--minutes 30]

Four stacked panels over time from Prometheus range queries (the sandbox's own Prometheus),
with vertical markers at drift onset, retrain start and end, promotion and swap (the events
file; swaps also show as steps in the version panel) and at each alert's firing (the ALERTS
series, one dotted colour per alert name). Online accuracy is one line per model version: the
figure `retrain` pushes from the joined inference log (retrain_online_accuracy_ratio), with the
champion's offline accuracy dotted beside it.
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


ACCURACY_PANEL = "online accuracy"
VERSION_PANEL = "model version"
# The four panels, top to bottom (the ALERTS series only places markers).
PANELS = ("requests / s", "largest PSI", ACCURACY_PANEL, VERSION_PANEL)
# One colour per alert name, so each marker says which alert fired.
ALERT_COLOURS = ("tab:orange", "gold", "tab:pink")
# One colour per model version in the accuracy panel, none of them a marker's.
VERSION_COLOURS = ("tab:blue", "tab:cyan", "tab:olive", "tab:brown", "navy", "teal")


def gather(prom: Prometheus) -> dict[str, list[Series]]:
    """The four panels' series and the alert series.

    Online accuracy is one line per model version (the figure `retrain` pushes from the joined
    inference log), with the champion's offline accuracy dotted: a recovery shows as the new
    version's line starting near its offline figure while the old version's stays low.
    """
    routes = "|".join(srv.PREDICT_ROUTES)
    rate = (
        f'sum by (instance) (rate({m.REQUESTS_TOTAL}{{job="{m.JOB_SERVING}", '
        f'route=~"{routes}"}}[1m]))'
    )
    online = prom.range(signals.online_accuracy(), "online v{model_version}")
    offline = prom.range(signals.offline_accuracy(), "offline v{model_version} (champion)")
    return {
        "requests / s": prom.range(rate, "{instance}"),
        "largest PSI": prom.range(f"max({signals.max_psi()})", "max PSI over features"),
        ACCURACY_PANEL: online + offline,
        VERSION_PANEL: prom.range(
            f'max by (instance) ({m.MODEL_VERSION}{{job="{m.JOB_SERVING}"}})', "{instance}"
        ),
        # One series per alert name: a drift alert fires per feature, its marker once.
        "alerts": prom.range('max by (alertname) (ALERTS{alertstate="firing"})', "{alertname}"),
    }


def _markers(
    events: list[dict[str, Any]], alerts: list[Series]
) -> list[tuple[float, str, str, str]]:
    """(time, colour, line style, legend label) of every marker.

    Events give drift, retrain, promotion and swap; each alert gives a dotted marker at the
    first firing sample of each of its firing runs, labelled with the alert's name.
    """
    marks = [(float(e["time"]), *MARKERS[e["kind"]], "--") for e in events if e["kind"] in MARKERS]
    found = [(when, colour, style, label) for when, colour, label, style in marks]
    for index, series in enumerate(sorted(alerts, key=lambda s: s.label)):
        colour = ALERT_COLOURS[index % len(ALERT_COLOURS)]
        previous = None
        for t in series.x:
            if previous is None or t - previous > 120:
                found.append((t, colour, ":", f"firing: {series.label}"))
            previous = t
    return found


def _version_colour(label: str) -> str:
    """The colour of the model version a label names (`online v3`, `offline v3 (champion)`)."""
    digits = "".join(ch for ch in label.rsplit("v", 1)[-1] if ch.isdigit())
    return VERSION_COLOURS[int(digits or "0") % len(VERSION_COLOURS)]


def render_png(
    panels: dict[str, list[Series]], events: list[dict[str, Any]], out: Path, title: str
) -> Path:
    """Draw the four panels and the markers to `out` (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(len(PANELS), 1, figsize=(14, 2.5 * len(PANELS)), sharex=True)
    origin = min(
        [s.x[0] for series in panels.values() for s in series if s.x]
        + [float(e["time"]) for e in events]
        + [time.time()]
    )
    marks = _markers(events, panels.get("alerts", []))
    handles: dict[str, Any] = {}
    for axis, name in zip(axes, PANELS, strict=True):
        for series in panels.get(name, []):
            x = [(t - origin) / 60 for t in series.x]
            if name == ACCURACY_PANEL:
                # Each version keeps one colour: online solid, its offline figure dotted. The
                # figures change once per retrain run, hence steps.
                offline = series.label.startswith("offline")
                axis.step(
                    x, series.y, where="post", label=series.label, ls=":" if offline else "-",
                    color=_version_colour(series.label),
                )  # fmt: skip
            elif name == VERSION_PANEL:
                axis.step(x, series.y, where="post", label=series.label)
            else:
                axis.plot(x, series.y, label=series.label)
        if not panels.get(name):
            axis.text(0.5, 0.5, "no data yet", transform=axis.transAxes, ha="center")
        if name == VERSION_PANEL:
            axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        elif name != ACCURACY_PANEL:
            axis.set_ylim(0, axis.get_ylim()[1] * 1.1)  # a rate or a PSI: wobbles stay small
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        for when, colour, style, label in marks:
            line = axis.axvline((when - origin) / 60, color=colour, ls=style, lw=1.2)
            handles.setdefault(label, line)
        if panels.get(name):
            # Beside the panel, never over its lines.
            axis.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)
    axes[-1].set_xlabel(f"minutes since {time.strftime('%H:%M:%S', time.localtime(origin))}")
    # One legend for the markers, above the panels: they cross every panel.
    fig.legend(
        list(handles.values()), list(handles), loc="upper center", ncol=5, fontsize=8,
        bbox_to_anchor=(0.5, 0.975), frameon=False,
    )  # fmt: skip
    fig.suptitle(title, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def collect(
    state: StateDir, minutes: float | None = None
) -> tuple[dict[str, list[Series]], list[dict[str, Any]]]:
    """The panels' series (replicas by name) and the events since the last start.

    `minutes` limits the picture to the last N minutes instead.
    """
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
    named = {
        panel: [Series(names.get(s.label, s.label), s.x, s.y) for s in series]
        for panel, series in panels.items()
    }
    return named, shown


def write_timeline(state: StateDir, out: Path | None = None, minutes: float | None = None) -> Path:
    """Query the sandbox's Prometheus and write the PNG; returns its path."""
    panels, events = collect(state, minutes)
    target = out or state.root / "timeline.png"
    return render_png(panels, events, target, "sandbox loop timeline")
