"""Grids of fleet states around the retrain triggers' boundaries, as promtool unit tests.

Each accuracy case is the set of figures `retrain` pushed (per model version: online accuracy,
labelled rows, and for the champion its offline accuracy), as constant gauges with the labels
the Pushgateway adds; each drift case is a set of serving replicas with constant PSI gauges per
feature. The contract's Python decision (`DriftTrigger.fires`, `AccuracyDropTrigger.fires`) is
the oracle: it decides, from the figures the signals define, which alerts a case must raise.
The case then becomes a promtool test whose `exp_alerts` say exactly that, run against the rule
files `build_rule_files(triggers)` writes, so promtool checks that the real PromQL decides the
same.

Figures, as `mlops_contract.signals` defines them: accuracy figures and labelled rows are per
model version (a version without a pushed figure has none; only the champion has an offline
figure, so only the champion can have a drop), and PSI per feature is the largest number any
replica exports for it.

Timing: every gauge holds its value for the whole hour, so a condition has been true for 60
minutes at the 60m evaluation (the alerts need 15).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlops_contract import metrics as m
from mlops_contract.signals import ACCURACY_GROUPING_KEY, SERVING_SELECTOR
from mlops_contract.triggers import AccuracyDropTrigger, DriftTrigger, Triggers

NAN = math.nan
EVAL_MINUTE = 60
DRIFT_ALERT = "FeatureDriftHigh"
ACCURACY_ALERT = "OnlineAccuracyDrop"
SERVING_JOB = SERVING_SELECTOR.split('"')[1]
RETRAIN_JOB = m.JOB_RETRAIN
PUSH_GROUP = dict(ACCURACY_GROUPING_KEY)


@dataclass(frozen=True)
class Version:
    """One model version's pushed figures; None: that figure was not pushed."""

    name: str
    online: float | None
    labelled: int | None
    offline: float | None = None  # `retrain` pushes an offline figure for the champion only

    def fires(self, trigger: AccuracyDropTrigger) -> bool:
        """The contract's Python decision on this version's figures."""
        return trigger.fires(online=self.online, offline=self.offline, labelled=self.labelled)


@dataclass(frozen=True)
class AccuracyCase:
    """The figures one retrain run pushed, one entry per model version."""

    name: str
    versions: tuple[Version, ...]

    @property
    def champion(self) -> Version | None:
        """The version with an offline figure (the one `retrain` decides on)."""
        return next((v for v in self.versions if v.offline is not None), None)

    @property
    def online(self) -> float | None:
        """The champion's online accuracy."""
        return None if self.champion is None else self.champion.online

    @property
    def offline(self) -> float | None:
        """The champion's offline accuracy."""
        return None if self.champion is None else self.champion.offline

    @property
    def labelled(self) -> float | None:
        """The champion's labelled rows."""
        labelled = None if self.champion is None else self.champion.labelled
        return None if labelled is None else float(labelled)

    def firing_versions(self, trigger: AccuracyDropTrigger) -> list[Version]:
        """Versions whose figures the contract's Python decision calls a drop."""
        return [v for v in self.versions if v.fires(trigger)]

    def fires(self, trigger: AccuracyDropTrigger) -> bool:
        """The retrain decision: the champion's figures fire."""
        return self.champion is not None and self.champion.fires(trigger)


@dataclass(frozen=True)
class DriftCase:
    """A fleet for the drift trigger: feature -> PSI exported by each replica (NaN: no window)."""

    name: str
    psi: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def feature_psi(self, feature: str) -> float | None:
        """The fleet's PSI of one feature (largest over replicas; `max` skips NaN)."""
        known = [p for p in self.psi[feature] if not math.isnan(p)]
        return max(known) if known else None

    @property
    def largest_psi(self) -> float | None:
        """The signal retrain reads: the largest PSI over features and replicas."""
        known = [p for f in self.psi if (p := self.feature_psi(f)) is not None]
        return max(known) if known else None

    def drifted_features(self, trigger: DriftTrigger) -> list[str]:
        """Features the contract's Python decision calls drifted."""
        return sorted(f for f in self.psi if trigger.fires(self.feature_psi(f)))


# --- the grids --------------------------------------------------------------------------------


def drop_boundary(offline: float, trigger: AccuracyDropTrigger) -> tuple[float, float]:
    """Adjacent floats (firing online, quiet online) at the edge of the relative drop.

    Every online accuracy up to the first fires and every one from the second on does not
    (given enough labelled rows), so a case on each side pins the boundary to one ulp.
    """
    online = offline * (1 - trigger.max_drop)
    step_up = AccuracyDropTrigger.relative_drop(online, offline) > trigger.max_drop
    for _ in range(1000):
        neighbour = math.nextafter(online, math.inf if step_up else -math.inf)
        pair = (online, neighbour) if step_up else (neighbour, online)
        if _drops(pair[0], offline, trigger) and not _drops(pair[1], offline, trigger):
            return pair
        online = neighbour
    raise AssertionError(f"no drop boundary near {online} for offline {offline}")


def _drops(online: float, offline: float, trigger: AccuracyDropTrigger) -> bool:
    return AccuracyDropTrigger.relative_drop(online, offline) > trigger.max_drop


def accuracy_grid(trigger: AccuracyDropTrigger) -> list[AccuracyCase]:
    """Cases around max_drop and min_labelled, several replicas, idle and missing figures."""
    low = trigger.min_labelled
    cases: list[AccuracyCase] = []
    for offline in (0.9, 0.75):
        firing, quiet = drop_boundary(offline, trigger)
        exact = offline * (1 - trigger.max_drop)
        onlines = {
            "last firing online": firing,
            "first quiet online": quiet,
            "online at offline*(1-max_drop)": exact,
            "drop 0.001 above max_drop": offline * (1 - trigger.max_drop - 0.001),
            "drop 0.001 below max_drop": offline * (1 - trigger.max_drop + 0.001),
        }
        for what, online in onlines.items():
            for labelled in (low - 1, low, low + 1):
                cases.append(
                    AccuracyCase(
                        f"offline {offline}, {what} ({online!r}), {labelled} labelled",
                        (Version("7", online, labelled, offline),),
                    )
                )
    # Fixed drops (online vs offline 1.0): the same numbers decide differently per threshold.
    for drop in (0.03, 0.0625, 0.07, 0.12, 0.25):
        cases.append(
            AccuracyCase(
                f"fixed drop {drop}, plenty labelled",
                (Version("7", 1 - drop, low + 10, 1.0),),
            )
        )
    cases += [
        AccuracyCase(
            "champion dropping 0.125 beside an older version with a bigger drop",
            (Version("6", 0.5, 10 * low), Version("7", 0.875, low, 1.0)),
        ),
        AccuracyCase(
            "champion at exactly min_labelled beside a newer candidate version",
            (Version("7", 0.75, low, 1.0), Version("8", 0.5, low + 1)),
        ),
        AccuracyCase(
            "champion without labelled rows (0 pushed, no online), old version dropping",
            (Version("6", 0.5, 10 * low), Version("7", None, 0, 0.9)),
        ),
        AccuracyCase(
            "champion's labelled rows not pushed, big drop",
            (Version("7", 0.5, None, 0.9),),
        ),
        AccuracyCase(
            "no champion (no offline figure), big drops",
            (Version("6", 0.5, 10 * low), Version("7", 0.25, 10 * low)),
        ),
        AccuracyCase(
            "two versions with offline figures, each judged on its own",
            (Version("6", 0.5, low, 0.9), Version("7", 0.875, low, 0.9)),
        ),
        AccuracyCase(
            "online above offline",
            (Version("7", 0.95, low + 10, 0.9),),
        ),
        AccuracyCase(
            "offline accuracy 0",
            (Version("7", 0.5, low + 10, 0.0),),
        ),
    ]
    return cases


def drift_grid(trigger: DriftTrigger) -> list[DriftCase]:
    """Cases around max_psi, several replicas and features, idle (NaN) replicas."""
    edge = trigger.max_psi
    up, down = math.nextafter(edge, math.inf), math.nextafter(edge, -math.inf)
    cases = [
        DriftCase(f"psi {what} ({psi!r})", {"speed": (psi,)})
        for what, psi in {
            "one ulp below max_psi": down,
            "at max_psi": edge,
            "one ulp above max_psi": up,
            "0.001 below max_psi": edge - 0.001,
            "0.001 above max_psi": edge + 0.001,
        }.items()
    ]
    cases += [
        DriftCase(f"fixed psi {psi}", {"speed": (psi,)}) for psi in (0.1, 0.15, 0.25, 0.35, 0.5)
    ]
    cases += [
        DriftCase(
            "three replicas, one above max_psi, one idle",
            {"speed": (edge - 0.05, up, NAN)},
        ),
        DriftCase(
            "three replicas, at most at max_psi, one idle",
            {"speed": (edge - 0.05, edge, NAN)},
        ),
        DriftCase(
            "two features, only one drifted on one replica",
            {"speed": (edge + 0.1, edge / 2), "hour": (edge / 2, edge)},
        ),
        DriftCase(
            "two features both drifted",
            {"speed": (edge + 0.1, NAN), "hour": (NAN, up)},
        ),
        DriftCase("every replica idle", {"speed": (NAN, NAN)}),
    ]
    return cases


# --- promtool test files ----------------------------------------------------------------------


def _labels(**labels: str) -> str:
    return ", ".join(f'{k}="{v}"' for k, v in labels.items())


def _series(metric: str, values: list[float], **labels: str) -> dict[str, str]:
    # Explicit values (no `x` shorthand): NaN and every float written as Python's repr, which
    # Go parses back to the same float64.
    text = " ".join("NaN" if math.isnan(v) else repr(float(v)) for v in values)
    return {"series": f"{metric}{{{_labels(**labels)}}}", "values": text}


def _constant(value: float) -> list[float]:
    return [value] * (EVAL_MINUTE + 1)


def accuracy_series(case: AccuracyCase) -> list[dict[str, str]]:
    """promtool input series of an accuracy case, labelled as the Pushgateway exposes them."""
    series = []
    for version in case.versions:
        labels = {"job": RETRAIN_JOB, "instance": "", **PUSH_GROUP, "model_version": version.name}
        figures = (
            (m.ONLINE_ACCURACY_LOGGED, version.online),
            (m.OFFLINE_ACCURACY_LOGGED, version.offline),
            (m.LABELLED_ROWS_LOGGED, version.labelled),
        )
        series += [
            _series(name, _constant(float(value)), **labels)
            for name, value in figures
            if value is not None
        ]
    return series


def drift_series(case: DriftCase) -> list[dict[str, str]]:
    """promtool input series of a drift case."""
    return [
        _series(
            m.FEATURE_DRIFT_PSI,
            _constant(psi),
            job=SERVING_JOB,
            instance=f"r{index}",
            feature=feature,
        )
        for feature, values in case.psi.items()
        for index, psi in enumerate(values)
    ]


_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def render_annotations(
    rule: Mapping[str, Any], labels: Mapping[str, str], value: float
) -> dict[str, str]:
    """The annotations Prometheus writes for `rule` firing with these labels and value.

    Only the template forms the quality alerts use are understood; any other is an error, so
    a new template cannot slip past this check unrendered.
    """

    def substitute(match: re.Match[str]) -> str:
        action = match.group(1)
        if action.startswith("$labels."):
            return labels[action.removeprefix("$labels.")]
        if action == '$value | printf "%.3f"':
            return f"{value:.3f}"
        if action == "$value | humanizePercentage":
            return f"{value * 100:.4g}%"  # Prometheus: Sprintf("%.4g%%", v*100)
        raise ValueError(f"template {match.group(0)!r} of {rule['alert']} is not understood here")

    return {k: _TEMPLATE.sub(substitute, v) for k, v in rule["annotations"].items()}


def alert_rule(rule_files: Mapping[str, Any], name: str) -> dict[str, Any]:
    for content in rule_files.values():
        for group in content["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == name:
                    return dict(rule)
    raise KeyError(f"no alert {name} in the rule files")


def _expected(rule: Mapping[str, Any], labels: dict[str, str], value: float) -> dict[str, Any]:
    all_labels = {**rule["labels"], **labels}
    return {
        "exp_labels": all_labels,
        "exp_annotations": render_annotations(rule, all_labels, value),
    }


@dataclass(frozen=True)
class Expectation:
    """One promtool test: a case's series and the alerts the Python decision expects."""

    name: str
    alertname: str
    input_series: list[dict[str, str]]
    exp_alerts: list[dict[str, Any]]

    @property
    def fires(self) -> bool:
        """Whether the Python decision expects the alert."""
        return bool(self.exp_alerts)

    def flipped(self) -> Expectation:
        """The same test expecting no alert (or, if it expected none, a made-up one)."""
        made_up = [{"exp_labels": {"job": SERVING_JOB}, "exp_annotations": {}}]
        return Expectation(
            self.name, self.alertname, self.input_series, [] if self.fires else made_up
        )

    def to_test(self) -> dict[str, Any]:
        """The promtool `tests:` entry."""
        return {
            "name": self.name,
            "interval": "1m",
            "input_series": self.input_series,
            "alert_rule_test": [
                {
                    "eval_time": f"{EVAL_MINUTE}m",
                    "alertname": self.alertname,
                    "exp_alerts": self.exp_alerts,
                }
            ],
        }


def accuracy_expectations(triggers: Triggers, rule_files: Mapping[str, Any]) -> list[Expectation]:
    """One promtool test per accuracy case, expected alerts from AccuracyDropTrigger.fires."""
    rule = alert_rule(rule_files, ACCURACY_ALERT)
    out = []
    for case in accuracy_grid(triggers.accuracy):
        expected = []
        for version in case.firing_versions(triggers.accuracy):
            assert version.online is not None
            assert version.offline is not None
            drop = AccuracyDropTrigger.relative_drop(version.online, version.offline)
            labels = {"job": RETRAIN_JOB, "model_version": version.name}
            expected.append(_expected(rule, labels, drop))
        out.append(Expectation(case.name, ACCURACY_ALERT, accuracy_series(case), expected))
    return out


def drift_expectations(triggers: Triggers, rule_files: Mapping[str, Any]) -> list[Expectation]:
    """One promtool test per drift case, expected alerts (per feature) from DriftTrigger.fires."""
    rule = alert_rule(rule_files, DRIFT_ALERT)
    out = []
    for case in drift_grid(triggers.drift):
        expected = []
        for feature in case.drifted_features(triggers.drift):
            psi = case.feature_psi(feature)
            assert psi is not None
            expected.append(_expected(rule, {"job": SERVING_JOB, "feature": feature}, psi))
        out.append(Expectation(case.name, DRIFT_ALERT, drift_series(case), expected))
    return out


def promtool_test_file(
    rule_file: str, rule_content: Mapping[str, Any], expectations: list[Expectation]
) -> dict[str, Any]:
    """A promtool test file running every expectation against `rule_file`."""
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        # Recording rules before the alerts that read them, as Prometheus does in one interval.
        "group_eval_order": [group["name"] for group in rule_content["groups"]],
        "tests": [e.to_test() for e in expectations],
    }
