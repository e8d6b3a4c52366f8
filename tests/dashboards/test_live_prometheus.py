"""Every dashboard query and the key alerts against a real Prometheus scraping the real platform.

The wiring comes from the render of the dev stack with SeaweedFS as its object store (the S3
the tests run): the serving app is started with the rendered ModelServing Deployment's command,
args and env (only the bind address, port, MLflow URI, HOME, poll interval and model name are
localized), its readiness and liveness paths are the rendered probes', and Prometheus's scrape
jobs (names, paths, schemes, honor_labels) are the rendered ServiceMonitors and PodMonitor, so
the wiring that `pulumi up` deploys is the wiring tested here.

One module-scoped setup runs that serving app on a model registered in the real MLflow server,
plus a second replica whose model does not exist (it answers 503 and fails its registry polls),
a real Pushgateway holding the retrain job's metrics (pushed by training's own `push_outcome`
and `push_accuracy`: the online accuracy of the labels the test sends, the champion's offline
accuracy read from MLflow as `retrain` reads it),
a Postgres exporter on the real Postgres, and SeaweedFS's own metrics. Prometheus scrapes them
every 2 seconds and evaluates the committed rule files with every `for:` cut to 4s (a test
copy; the committed files are unchanged). Traffic, 4xx, drifted inputs and feedback are driven
in bounded loops; then every panel target must return data and the alerts must fire.
"""

import json
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mlops_contract import env as contract_env
from mlops_contract import metrics as m
from mlops_contract import serving as srv
from training import champion
from training.monitoring import push_accuracy, push_outcome
from training.online import VersionFigures

from dashboards.generate import GRAFANA_DIR, RULES_DIR
from infra.render import RenderedStack
from sandbox import services
from tests import wiring
from tests.monitoring_wiring import scrape_configs_from_rendered
from tests.serving.helpers import make_frame, register_model, unique_name

pytestmark = pytest.mark.integration

# 2s scrapes (the scrape timeout equals the interval) so a /metrics answer slowed by a busy
# machine is not a failed scrape; rules evaluate every second.
SCRAPE = "2s"
EVALUATE = "1s"
FOR_IN_TEST = "4s"
# What Grafana substitutes for its macros; with 1s scrapes these windows always hold samples.
MACROS = {"$__rate_interval": "1m", "$__range": "1h", "$__interval": "5s"}
EXPECTED_FIRING = {
    "FeatureDriftHigh",
    "ServingClientErrorRatioHigh",
    "ServingErrorRatioHigh",
    "OnlineAccuracyDrop",
    "ModelLoadFailures",
}
# Everything is up and the retrain job just succeeded: these must stay quiet.
EXPECTED_QUIET = {"ServingDown", "MLflowDown", "ScrapeTargetMissing", "ModelStale", "RetrainFailed"}
WAIT_SECONDS = 90.0
DEV_STACK = wiring.REPO_ROOT / "stacks" / "Pulumi.dev.yaml"
# Test-speed knobs the manifest leaves at the app's defaults: fail fast while MLflow is down
# (the MLflowDown test) instead of retrying for minutes. Never a variable the manifest sets.
TEST_ONLY_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


@dataclass
class Replica:
    """One serving replica on loopback, started from the rendered container."""

    url: str
    process: services.ManagedProcess

    def get(self, path: str) -> httpx.Response:
        """GET on the replica."""
        return httpx.get(f"{self.url}{path}", timeout=30)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST on the replica."""
        return httpx.post(f"{self.url}{path}", timeout=30, **kwargs)

    def stop(self) -> None:
        """Stop it by PID (SIGTERM to its process group)."""
        self.process.stop()


@dataclass(frozen=True)
class Live:
    """The running Prometheus, when its data starts, and the healthy serving replica."""

    prometheus: str
    started: float
    app: Replica


def _panel_targets() -> list[tuple[str, str, str, bool]]:
    found = []
    for path in sorted(GRAFANA_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                found.append(
                    (
                        f"{dashboard['title']} / {panel['title']} / {target['refId']}",
                        target["expr"],
                        panel["type"],
                        bool(target.get("instant")),
                    )
                )
    return found


PANEL_TARGETS = _panel_targets()


def _query(prometheus: str, path: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/{path}", params=params, timeout=30)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _firing(prometheus: str) -> set[str]:
    response = httpx.get(f"{prometheus}/api/v1/alerts", timeout=30)
    return {
        a["labels"]["alertname"]
        for a in response.json()["data"]["alerts"]
        if a["state"] == "firing"
    }


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1.0)
    return bool(predicate())


def _rules_with_short_for(target_dir: Path) -> list[Path]:
    target_dir.mkdir(parents=True, exist_ok=True)
    copies = []
    for rule_file in sorted(RULES_DIR.glob("*.yaml")):
        content = yaml.safe_load(rule_file.read_text(encoding="utf-8"))
        for group in content["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = FOR_IN_TEST
        copy = target_dir / rule_file.name
        copy.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
        copies.append(copy)
    return copies


def _start_postgres_exporter(base: Path, pg: services.PostgresServer) -> tuple[Any, str]:
    binary = Path("/usr/bin/prometheus-postgres-exporter")
    if not binary.exists():
        pytest.fail(
            "prometheus-postgres-exporter missing: apt-get install it (scripts/bootstrap.sh)"
        )
    port = services.free_port()
    dsn = f"postgresql://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{pg.database}?sslmode=disable"
    process = services.ManagedProcess(
        "postgres-exporter",
        [str(binary), f"--web.listen-address={services.LOOPBACK}:{port}"],
        base / "postgres-exporter.log",
        env={**os.environ, "DATA_SOURCE_NAME": dsn},
        cwd=base,
    )
    process.start()
    services.wait_http(f"http://{services.LOOPBACK}:{port}/metrics", timeout=30, proc=process.proc)
    return process, f"{services.LOOPBACK}:{port}"


def _address(url: str) -> str:
    return url.removeprefix("http://").rstrip("/")


def _start_prometheus(
    base: Path, scrape_configs: list[dict[str, Any]]
) -> services.PrometheusServer:
    """Prometheus with the given scrape jobs and the rule files with short `for:`."""
    config = {
        "global": {"scrape_interval": SCRAPE, "evaluation_interval": EVALUATE},
        "scrape_configs": scrape_configs,
    }
    server = services.start_prometheus(
        base, yaml.safe_dump(config), _rules_with_short_for(base / "rules")
    )
    # Prometheus scrapes itself as job "prometheus" (the chart's self-monitor, not rendered);
    # its port is known only now, so add the job to the written config and reload (the server
    # runs with --web.enable-lifecycle).
    written = base / "prometheus" / "prometheus.yml"
    full = yaml.safe_load(written.read_text(encoding="utf-8"))
    full["scrape_configs"].append(
        {
            "job_name": m.JOB_PROMETHEUS,
            "metrics_path": "/metrics",
            "scrape_interval": SCRAPE,
            "static_configs": [{"targets": [_address(server.url)]}],
        }
    )
    written.write_text(yaml.safe_dump(full, sort_keys=False), encoding="utf-8")
    reload = httpx.post(f"{server.url}/-/reload", timeout=30)
    assert reload.status_code == 200, reload.text
    return server


def _start_replica(
    base: Path, container: wiring.RenderedContainer, tracking_uri: str, model_name: str
) -> Replica:
    """Run the rendered serving container on a free loopback port; wait until it is live."""
    port = services.free_port()
    home = base / f"home-{port}"
    home.mkdir()
    command = wiring.localize(
        container,
        # Serving's MLflow identity: the local MLflow runs without its auth app, so any value.
        secrets={
            contract_env.MLFLOW_TRACKING_USERNAME: "serving",
            contract_env.MLFLOW_TRACKING_PASSWORD: "unused-without-the-auth-app",
        },
        overrides={
            contract_env.MLFLOW_TRACKING_URI: tracking_uri,
            "HOME": str(home),
            # Each test registers its own model; the rendered alias (champion) is kept.
            contract_env.MODEL_NAME: model_name,
            # Registry polls every 0.5s, so load failures add up within the test's minute.
            contract_env.MODEL_POLL_INTERVAL_SECONDS: "0.5",
        },
        flags={"--host": services.LOOPBACK, "--port": str(port)},
    )
    clash = TEST_ONLY_ENV.keys() & set(container.env_names)
    assert not clash, f"the manifest now sets {sorted(clash)}: override it instead"
    process = services.ManagedProcess(
        f"serving-{port}",
        command.argv,
        base / f"serving-{port}.log",
        env={**os.environ, **command.env, **TEST_ONLY_ENV},
        cwd=home,
    )
    process.start()
    replica = Replica(f"http://{services.LOOPBACK}:{port}", process)
    try:
        live_path = container.probe_path("livenessProbe")
        services.wait_http(f"{replica.url}{live_path}", timeout=60, proc=process.proc)
    except services.ServiceError as exc:
        raise process.fail(str(exc)) from exc
    return replica


def _answers_ok(replica: Replica, path: str) -> bool:
    try:
        return replica.get(path).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_ready(replica: Replica, path: str, timeout: float) -> None:
    """Poll the rendered readiness path until it answers 200 (the model is loaded)."""
    if not _wait_for(lambda: _answers_ok(replica, path), timeout):
        raise replica.process.fail(f"{path} not 200 after {timeout:.0f}s")


def _predict(app: Replica, rows: list[dict[str, Any]]) -> httpx.Response:
    return app.post(srv.PREDICT_PATH, json={"instances": rows})


def _first_of_each(app: Replica, broken: Replica) -> None:
    """One request of each kind, so every labelled series exists before the bulk traffic.

    A counter series appears with its first increment; if that came before Prometheus's first
    scrape of it, rate() never sees it. Real error rates are sustained, so this is faithful.
    """
    row = make_frame(1, seed=6).to_dict(orient="records")
    answer = _predict(app, row)
    assert answer.status_code == 200
    feedback = [{"id": answer.json()["ids"][0], "label": 1}]
    assert app.post(srv.FEEDBACK_PATH, json={"feedback": feedback}).status_code == 200
    assert _predict(app, [{"speed": 1.0}]).status_code == 422
    assert _predict(broken, row).status_code == 503


def _drive_traffic(app: Replica, broken: Replica) -> tuple[float, int]:
    """Bounded traffic: normal, concurrent singles, drifted, invalid, feedback, 503s.

    Returns the accuracy of the labelled predictions and their number (what `retrain` computes
    from the inference log).
    """
    normal = make_frame(100, seed=1).to_dict(orient="records")
    for start in range(0, 100, 10):
        assert _predict(app, normal[start : start + 10]).status_code == 200
    singles = make_frame(40, seed=3).to_dict(orient="records")
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda row: _predict(app, [row]).status_code, singles))
    assert codes == [200] * 40
    split = make_frame(20, seed=4)
    body = {"dataframe_split": {"columns": list(split.columns), "data": split.values.tolist()}}
    for _ in range(5):
        assert app.post(srv.INVOCATIONS_PATH, json=body).status_code == 200
    # Drifted inputs: speeds around 90 where training saw around 50.
    drifted = make_frame(600, seed=2, speed_mean=90.0).to_dict(orient="records")
    answers = []
    for start in range(0, 600, 20):
        response = _predict(app, drifted[start : start + 20])
        assert response.status_code == 200
        answers.append(response.json())
    # Feedback: the opposite of every other prediction, so online accuracy falls to about 50%.
    labels = [
        {"id": pid, "label": int(pred) if i % 2 else 1 - int(pred)}
        for answer in answers
        for i, (pid, pred) in enumerate(zip(answer["ids"], answer["predictions"], strict=True))
    ]
    for start in range(0, len(labels), 100):
        assert (
            app.post(srv.FEEDBACK_PATH, json={"feedback": labels[start : start + 100]}).status_code
            == 200
        )
    unknown = app.post(srv.FEEDBACK_PATH, json={"feedback": [{"id": "no-such-id", "label": 1}]})
    assert unknown.status_code == 200
    correct = sum(
        label["label"] == int(pred)
        for label, pred in zip(labels, (p for a in answers for p in a["predictions"]), strict=True)
    )
    # Rejected input: a row without the `weather` feature, 30 times.
    bad = {k: v for k, v in normal[0].items() if k != "weather"}
    for _ in range(30):
        assert _predict(app, [bad]).status_code == 422
    # The replica without a model answers 503.
    for _ in range(10):
        assert _predict(broken, normal[:1]).status_code == 503
    return correct / len(labels), len(labels)


def _push_accuracy_figures(
    gateway: str, tracking_uri: str, name: str, online: float, labelled: int
) -> None:
    """What a retrain run pushes after this traffic: the champion's figures and an old version's.

    The champion's offline accuracy comes from MLflow through `retrain`'s own lookup.
    """
    best = champion.lookup(tracking_uri, name, "champion", timeout=10)
    assert best is not None
    assert best.offline_accuracy is not None
    push_accuracy(
        gateway,
        [
            VersionFigures(
                version=best.version,
                labelled=labelled,
                online=online,
                offline=best.offline_accuracy,
                champion=True,
            ),
            # An older version still in the window: it has figures but never an alert.
            VersionFigures(version="0", labelled=900, online=0.25, offline=None, champion=False),
        ],
    )


@pytest.fixture(scope="module")
def rendered_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> RenderedStack:
    """The dev stack rendered with SeaweedFS as its object store, the S3 these tests run.

    Derived from stacks/Pulumi.dev.yaml (only `objectStore.engine` differs), so everything else
    is exactly what `pulumi up` deploys for dev.
    """
    base = tmp_path_factory.mktemp("rendered-dev-seaweedfs")
    stack = yaml.safe_load(DEV_STACK.read_text(encoding="utf-8"))
    stack["config"]["mlops-platform:objectStore"]["engine"] = "seaweedfs"
    stack_file = base / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(stack, sort_keys=False), encoding="utf-8")
    return wiring.render("dev", base / "out", stack_file)


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory,
    rendered_seaweedfs: RenderedStack,
    mlflow_server: services.MlflowServer,
    postgres_server: services.PostgresServer,
    s3_server: services.S3Server,
) -> Iterator[Live]:
    base = tmp_path_factory.mktemp("live-prometheus")
    name = unique_name()
    register_model(mlflow_server.tracking_uri, name)
    container = wiring.find_container(rendered_seaweedfs, "Deployment", "serving", "serving")
    gateway = services.start_pushgateway(base)
    finished = time.time()
    push_outcome(gateway.url, "promoted", finished - 42.0, finished)
    exporter, exporter_address = _start_postgres_exporter(base, postgres_server)
    uri = mlflow_server.tracking_uri
    with (
        services.running(gateway),
        services.running(exporter),
        services.running(_start_replica(base, container, uri, name)) as app,
        services.running(_start_replica(base, container, uri, f"{name}-missing")) as broken,
    ):
        _wait_ready(app, container.probe_path("readinessProbe"), timeout=120)
        targets = {
            m.JOB_SERVING: [_address(app.url), _address(broken.url)],
            m.JOB_MLFLOW: [_address(uri)],
            m.JOB_OBJECT_STORE: [f"{services.LOOPBACK}:{s3_server.metrics_port}"],
            m.JOB_POSTGRES: [exporter_address],
            m.JOB_PUSHGATEWAY: [_address(gateway.url)],
        }
        # Jobs, paths, schemes and honor_labels from the rendered monitors; short test interval.
        scrape_configs = scrape_configs_from_rendered(rendered_seaweedfs, targets, interval=SCRAPE)
        # Serving's rendered metrics path must answer: say so plainly now, not as a down target.
        metrics_path = next(
            c["metrics_path"] for c in scrape_configs if c["job_name"] == m.JOB_SERVING
        )
        metrics = app.get(metrics_path)
        assert metrics.status_code == 200, f"{metrics_path}: {metrics.status_code}"
        assert "serving_" in metrics.text, f"{metrics_path} serves no serving_* metrics"
        started = time.time()
        prometheus = _start_prometheus(base, scrape_configs)
        with services.running(prometheus):
            # rate() and increase() need a sample from before the traffic: wait until every
            # target (Prometheus itself included, after the reload) has been scraped once.
            expected_targets = sum(map(len, targets.values())) + 1
            assert _wait_for(
                lambda: len(_query(prometheus.url, "query", query="up == 1")) == expected_targets,
                60,
            ), _query(prometheus.url, "query", query="up")
            _first_of_each(app, broken)
            seen = f'count({m.REQUESTS_TOTAL}{{status=~"200|422|503", route="{srv.PREDICT_PATH}"}})'
            assert _wait_for(
                lambda: _query(prometheus.url, "query", query=f"{seen} == 3") != [], 60
            ), _query(prometheus.url, "query", query=m.REQUESTS_TOTAL)
            online, labelled = _drive_traffic(app, broken)
            _push_accuracy_figures(gateway.url, uri, name, online, labelled)
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and not _firing(prometheus.url) >= EXPECTED_FIRING:
                time.sleep(1.0)
            yield Live(prometheus=prometheus.url, started=started, app=app)


def test_every_scrape_target_is_up(live: Live) -> None:
    # max over the last minute: every target answered, even if one scrape was slow just now.
    up = {
        (r["metric"]["job"], r["metric"]["instance"]): r["value"][1]
        for r in _query(live.prometheus, "query", query="max_over_time(up[1m])")
    }
    jobs = {job for job, _ in up}
    assert jobs == {"serving", "mlflow", "object-store", "postgres", "pushgateway", "prometheus"}
    assert all(value == "1" for value in up.values()), up


def test_drift_error_and_accuracy_alerts_fire(live: Live) -> None:
    # The fixture already waited for them; wait again (bounded) in case a slow scrape on a busy
    # machine just reset one to pending.
    _wait_for(lambda: _firing(live.prometheus) >= EXPECTED_FIRING, WAIT_SECONDS)
    firing = _firing(live.prometheus)
    assert firing >= EXPECTED_FIRING, f"missing: {EXPECTED_FIRING - firing}"
    drifted = {
        a["labels"]["feature"]
        for a in httpx.get(f"{live.prometheus}/api/v1/alerts", timeout=30).json()["data"]["alerts"]
        if a["labels"]["alertname"] == "FeatureDriftHigh" and a["state"] == "firing"
    }
    assert "speed" in drifted


def test_healthy_parts_stay_quiet(live: Live) -> None:
    assert _firing(live.prometheus) & EXPECTED_QUIET == set()


def _substitute(expr: str) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    assert "$" not in expr, f"unsubstituted Grafana variable in {expr!r}"
    return expr


def _finite_values(result: list[dict[str, Any]]) -> list[float]:
    values = [v for series in result for _, v in series.get("values", [series.get("value")])]
    return [float(v) for v in values if math.isfinite(float(v))]


@pytest.mark.parametrize(
    ("where", "expr", "kind", "instant"), PANEL_TARGETS, ids=[t[0] for t in PANEL_TARGETS]
)
def test_panel_target_returns_data(
    live: Live, where: str, expr: str, kind: str, instant: bool
) -> None:
    query = _substitute(expr)
    if instant:
        result = _query(live.prometheus, "query", query=query)
    else:
        result = _query(
            live.prometheus, "query_range", query=query, start=live.started, end=time.time(), step=1
        )
    assert result, f"{where} ({kind}): no series for {query}"
    assert _finite_values(result), f"{where} ({kind}): only NaN for {query}: {result}"


def test_a_misspelled_metric_returns_no_data(live: Live) -> None:
    # The negative control: the same check on a typo'd name finds nothing, so the panel checks
    # above can fail.
    typo = 'sum by (route) (rate(serving_request_total{job="serving"}[1m]))'
    assert _query(live.prometheus, "query", query=typo) == []
    assert (
        _query(
            live.prometheus, "query_range", query=typo, start=live.started, end=time.time(), step=1
        )
        == []
    )


def test_mlflow_down_fires_when_mlflow_stops_and_resolves_when_it_returns(
    live: Live, mlflow_server: services.MlflowServer
) -> None:
    # Last in this module: it takes the session's MLflow down and brings it back on its port.
    assert "MLflowDown" not in _firing(live.prometheus)
    mlflow_server.stop()
    try:
        fired = _wait_for(lambda: "MLflowDown" in _firing(live.prometheus), 60)
        # Serving keeps answering from its last good model while the registry is gone.
        still_serving = _predict(live.app, make_frame(1, seed=5).to_dict(orient="records"))
    finally:
        mlflow_server.start()
    assert fired, f"MLflowDown never fired; firing: {_firing(live.prometheus)}"
    assert still_serving.status_code == 200
    assert _wait_for(lambda: "MLflowDown" not in _firing(live.prometheus), 60)
