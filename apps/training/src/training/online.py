"""The one online accuracy: per model version, from the joined inference log over the window.

`retrain` computes these figures on every run, pushes them to the Pushgateway (the alert reads
them from there) and decides on the champion's with the contract's AccuracyDropTrigger.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from training import data
from training import inference_log as log
from training.champion import Champion


@dataclass(frozen=True, kw_only=True)
class VersionFigures:
    """One model version's figures over the window; offline only for the champion."""

    version: str
    labelled: int
    online: float | None  # None: no labelled row of this version in the window
    offline: float | None
    champion: bool


def figures(labelled: pd.DataFrame, champion: Champion | None) -> list[VersionFigures]:
    """Accuracy and labelled rows of every version in the window, and of the champion always.

    A row is correct when the prediction the version made equals the label sent for it.
    """
    out: dict[str, VersionFigures] = {}
    if not labelled.empty:
        correct = labelled[log.PREDICTION] == labelled[data.TARGET]
        grouped = correct.groupby(labelled[log.MODEL_VERSION].astype(str))
        for version, hits in grouped:
            out[str(version)] = VersionFigures(
                version=str(version),
                labelled=len(hits),
                online=float(hits.mean()),
                offline=None,
                champion=False,
            )
    if champion is not None:
        seen = out.get(champion.version)
        out[champion.version] = VersionFigures(
            version=champion.version,
            labelled=0 if seen is None else seen.labelled,
            online=None if seen is None else seen.online,
            offline=champion.offline_accuracy,
            champion=True,
        )
    return sorted(out.values(), key=lambda f: (len(f.version), f.version))


def describe(figs: list[VersionFigures], minutes: int) -> str:
    """One progress line: every version's online accuracy and rows, the champion's offline."""
    if not figs:
        return f"online accuracy: no labelled rows in the last {minutes} min and no champion"
    parts = []
    for f in figs:
        online = "n/a" if f.online is None else f"{f.online:.4f}"
        text = f"v{f.version} online {online} on {f.labelled} rows"
        if f.champion:
            offline = "n/a" if f.offline is None else f"{f.offline:.4f}"
            text += f" (champion, offline {offline})"
        parts.append(text)
    return f"online accuracy, last {minutes} min: " + "; ".join(parts)
