"""The dev stack's loop on 127.0.0.1, wired from its render: `Sandbox.up()`, `drift()`, `down()`.

`up` renders the dev stack (infra.render, in a subprocess), checks the render against the apps'
settings classes, then starts, each from its rendered container where the platform has one:
Postgres, SeaweedFS S3 (the rendered buckets), MLflow, the Pushgateway, a Postgres exporter,
two serving replicas, Prometheus (the rendered rules; scrape jobs from the rendered monitors),
the retrain CronJob's local scheduler and a traffic generator. It trains and promotes a first
champion when the registry has none. Every process runs in its own process group, detached;
PIDs, ports, logs and events live in the state folder (sandbox.state), so `down`, `status`,
`drift` and `timeline` work from any later process. A test or a benchmark drives it as:

    sandbox = Sandbox(StateDir(tmp_path))
    urls = sandbox.up()
    sandbox.drift(1.0)
    sandbox.events()
    sandbox.down()
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mlops_contract import env as contract_env
from mlops_contract import metrics as m
from mlops_contract import serving as srv

from infra.components import objectstore_specs
from infra.components.monitoring_specs import PROMETHEUS_PORT, PROMETHEUS_SERVICE
from infra.render import RenderedStack
from sandbox import services, wiring
from sandbox.monitoring import evaluation_interval, rule_groups, scrape_configs_from_rendered
from sandbox.scheduler import champion_version, parse_schedule
from sandbox.state import StateDir, port_is_free, port_listening, process_alive
from sandbox.stopping import stop_processes

STACK = "dev"
# A stack file to render instead of stacks/Pulumi.dev.yaml (a fork's dev stack, or a test's).
ENV_STACK_FILE = "SANDBOX_STACK_FILE"
REPLICAS = 2
TRAFFIC_RATE = 25.0  # requests per second: steady and modest on a 2-core machine
LABEL_DELAY_SECONDS = 3.0
READY_TIMEOUT = 240.0
BOOTSTRAP_TIMEOUT = 600.0
# Local-only additions to serving's rendered env: the kubelet's HOSTNAME (the pod name, which
# names each replica's inference-log objects) and the API docs page for people trying it.
SERVING_API_DOCS = "API_DOCS"
# CloudNativePG makes `<cluster>-rw` on its own port; the render has the Cluster, not the Service.
CNPG_PORT = 5432
# Placeholders the render writes for generated secrets -> which local value stands in.
DB_PASSWORD_PLACEHOLDER = "<secret:secrets-postgres-app>"  # noqa: S105
FLASK_PLACEHOLDER = "<secret:secrets-mlflow-flask>"
# The MLflow identities' passwords (the sandbox's MLflow runs without its auth app, so any
# local value works; generated once per state folder like the Flask secret).
IDENTITY_PLACEHOLDERS = {
    "<secret:secrets-mlflow-training>": "mlflow-training-password",
    "<secret:secrets-mlflow-serving>": "mlflow-serving-password",
}


class SandboxError(RuntimeError):
    """The sandbox could not start or stop; the message names the component and its log."""


@dataclass(frozen=True)
class Rendered:
    """The parts of the dev render the sandbox runs."""

    stack: RenderedStack
    serving: wiring.RenderedContainer
    retrain: wiring.RenderedContainer
    object_store: wiring.RenderedContainer
    buckets: list[str]
    # SeaweedFS's rendered identity file, keys still placeholders (s3_placeholders fills them).
    s3_config: str

    @classmethod
    def load(cls, stack: RenderedStack) -> Rendered:
        """Find the workloads and check the render against the apps before anything starts."""
        from serving.settings import Settings as ServingSettings
        from training.settings import Settings as TrainingSettings

        serving = wiring.find_container(stack, "Deployment", srv.NAME, srv.NAME)
        retrain = wiring.find_container(stack, "CronJob", "retrain", "retrain")
        engine = _object_store_engine(stack)
        store = wiring.find_container(stack, "Deployment", engine, engine)
        buckets = _buckets(stack, engine)
        wiring.check_settings(
            serving,
            ServingSettings,
            extra={contract_env.HOSTNAME},
            env_from=wiring.env_from_values(stack, serving),
        )
        wiring.check_settings(
            retrain, TrainingSettings, env_from=wiring.env_from_values(stack, retrain)
        )
        for container, variable in (
            (serving, contract_env.INFERENCE_LOG_BUCKET),
            (retrain, contract_env.DATASETS_BUCKET),
        ):
            bucket = container.literal_env().get(variable)
            if bucket is not None and bucket not in buckets:
                raise wiring.WiringError(
                    f"{container.where} sets {variable}={bucket}, but the rendered bucket Job "
                    f"{engine}-buckets creates only {', '.join(buckets)}"
                )
        return cls(stack, serving, retrain, store, buckets, _s3_config(stack))

    def cron(self) -> dict[str, Any]:
        """The CronJob's spec (schedule, timeZone, concurrencyPolicy, ...)."""
        spec: dict[str, Any] = self.retrain.workload["spec"]
        return spec


def _object_store_engine(stack: RenderedStack) -> str:
    for obj in stack.manifests:
        labels = obj["metadata"].get("labels", {})
        if obj["kind"] == "Deployment" and labels.get("app.kubernetes.io/component") == (
            "object-store"
        ):
            name = str(obj["metadata"]["name"])
            if name != "seaweedfs":
                raise wiring.WiringError(
                    f"rendered Deployment/{name} is the dev stack's object store, but the "
                    "sandbox runs SeaweedFS: set mlops-platform:objectStore.engine: seaweedfs"
                )
            return name
    raise wiring.WiringError(f"rendered stack {stack.stack} has no object-store Deployment")


def _buckets(stack: RenderedStack, engine: str) -> list[str]:
    job = wiring.find_container(stack, "Job", f"{engine}-buckets", "mc")
    raw = job.literal_env().get("BUCKETS", "")
    if not raw.split():
        raise wiring.WiringError(f"{job.where} sets no BUCKETS")
    return raw.split()


def _s3_config(stack: RenderedStack) -> str:
    for obj in stack.manifests:
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == objectstore_specs.CONFIG_SECRET:
            return str(obj["stringData"][objectstore_specs.SEAWEEDFS_CONFIG_KEY])
    raise wiring.WiringError(
        f"rendered stack {stack.stack} has no Secret {objectstore_specs.CONFIG_SECRET}"
    )


def s3_placeholders() -> dict[str, str]:
    """Each S3 identity's rendered key placeholders -> its local key (services.TEST_S3_KEYS)."""
    found = {}
    for identity, pair in services.TEST_S3_KEYS.items():
        names = objectstore_specs.key_values(identity)
        for name, local in (
            (names.access_key, pair.access_key),
            (names.secret_key, pair.secret_key),
        ):
            found[f"<secret:secrets-{name.replace('_', '-')}>"] = local
    return found


def local_s3_config(rendered: Rendered) -> str:
    """The rendered SeaweedFS identity file with the local keys in place of the generated ones."""
    config = rendered.s3_config
    for placeholder, local in s3_placeholders().items():
        config = config.replace(placeholder, local)
    if "<secret:" in config:
        raise wiring.WiringError(
            f"Secret {objectstore_specs.CONFIG_SECRET} holds a generated key the sandbox has no "
            f"local value for; known: {', '.join(sorted(s3_placeholders()))}"
        )
    return config


def _services_of(stack: RenderedStack) -> dict[str, list[int]]:
    """Rendered Service name -> its ports, plus the operator-made ones the apps name."""
    found: dict[str, list[int]] = {PROMETHEUS_SERVICE: [PROMETHEUS_PORT]}
    for obj in stack.manifests:
        if obj["kind"] == "Service":
            found[obj["metadata"]["name"]] = [int(p["port"]) for p in obj["spec"]["ports"]]
        if obj["kind"] == "Cluster":
            found[f"{obj['metadata']['name']}-rw"] = [CNPG_PORT]
    return found


def _minimal_env() -> dict[str, str]:
    """What a local process inherits: PATH and locale, not the caller's whole environment."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONUNBUFFERED": "1"}


@dataclass
class Sandbox:
    """One sandbox: its state folder, and how it reports progress."""

    state: StateDir = field(default_factory=StateDir.from_env)
    say: Callable[[str], None] = print
    stack_file: Path | None = None
    _t0: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        """The stack file: explicit, else SANDBOX_STACK_FILE, else stacks/Pulumi.dev.yaml."""
        raw = os.environ.get(ENV_STACK_FILE, "").strip()
        if self.stack_file is None and raw:
            self.stack_file = Path(raw)

    def _progress(self, line: str) -> None:
        self.say(f"[sandbox {time.monotonic() - self._t0:5.1f}s] {line}")

    # --- public API ---------------------------------------------------------------------------

    def running(self) -> dict[str, dict[str, Any]]:
        """The recorded processes that are still alive."""
        return {n: r for n, r in self.state.processes().items() if process_alive(r)}

    def up(self) -> dict[str, str]:
        """Start everything (or report what runs); return the URLs. Raises SandboxError."""
        self._t0 = time.monotonic()
        self.state.create()
        if self.running():
            self._progress(f"already running (state in {self.state.root}); `make sandbox-down`")
            return self.urls()
        self.state.forget_processes()
        try:
            self._start_all()
        except BaseException:
            self._progress("start failed: stopping what was started")
            self.down(quiet=True)
            raise
        self.state.add_event("up", urls=self.urls())
        for line in self.summary():
            self.say(line)
        return self.urls()

    def drift(self, value: float) -> dict[str, Any]:
        """Switch the traffic to drifted data (0..1) and record the onset as an event."""
        self.state.set_drift(value)
        return self.state.add_event("drift", value=value)

    def events(self) -> list[dict[str, Any]]:
        """Every recorded event, oldest first."""
        return self.state.events()

    def suspend(self, suspended: bool = True, job: str = "retrain") -> dict[str, Any]:
        """Suspend the scheduled job or resume it (`kubectl patch cronjob` spec.suspend).

        Suspending skips the schedule times to come; a run already going finishes. Returns the
        event recorded (retrain_suspend / retrain_resume).
        """
        self.state.suspend(job, suspended)
        return self.state.add_event(f"{job}_{'suspend' if suspended else 'resume'}")

    def idle(self, job: str = "retrain") -> bool:
        """True when every started run of the scheduled job has ended (from the events)."""
        events = self.state.events()
        starts = [i for i, e in enumerate(events) if e["kind"] == "starting"]
        events = events[starts[-1] :] if starts else events  # run numbers restart with `up`
        started = {e.get("run") for e in events if e["kind"] == f"{job}_start"}
        ended = {e.get("run") for e in events if e["kind"] == f"{job}_end"}
        return started <= ended

    def training(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run `python -m training <args>` as the retrain CronJob would (its rendered env).

        Output goes to logs/training.log too; a test or a person drives the registry with it.
        """
        job = self.state.read_job("retrain")
        argv = [str(a) for a in job["argv"]]
        if "retrain" not in argv:
            raise SandboxError(f"jobs/retrain.json runs {argv}, not `python -m training retrain`")
        command = [*argv[: argv.index("retrain")], *args]
        result = subprocess.run(
            command,
            env=dict(job["env"]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.state.root / "home",
            check=False,
        )
        with self.state.log("training").open("a", encoding="utf-8") as out:
            out.write(f"$ python -m training {' '.join(args)}  (exit {result.returncode})\n")
            out.write(result.stdout + result.stderr)
        return result

    def down(self, timeout: float = 60.0, quiet: bool = False) -> None:
        """Stop every recorded process by PID (process groups); verify their ports are closed."""
        records = self.state.processes()
        if not quiet:
            self.say(f"[sandbox] stopping {len(records)} processes ({self.state.root})")
        left = stop_processes(records, timeout)
        ports = sorted({p for r in records.values() for p in r.get("ports", [])})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(port_listening(p) for p in ports):
            time.sleep(0.2)
        listening = [p for p in ports if port_listening(p)]
        self.state.forget_processes()
        (self.state.job("traffic")).unlink(missing_ok=True)
        if left or listening:
            raise SandboxError(
                f"after {timeout:.0f}s still running: {left or 'none'}; still listening on "
                f"127.0.0.1 ports {listening or 'none'}"
            )
        self.state.add_event("down")
        if not quiet:
            self.say("[sandbox] stopped; nothing listening on its ports")

    def urls(self) -> dict[str, str]:
        """Name -> URL of each process that serves HTTP."""
        return {n: r["url"] for n, r in self.state.processes().items() if r.get("url")}

    def sample_request(self) -> tuple[str, dict[str, Any]]:
        """The first replica's /predict URL and a body with one row of the synthetic data."""
        from training.data import TARGET, generate

        row = json.loads(generate(1, seed=7).drop(columns=[TARGET]).to_json(orient="records"))
        return f"{self.urls()['serving-0']}{srv.PREDICT_PATH}", {"instances": row}

    def curl_line(self) -> str:
        """A `curl` command line that sends the sample request, as printed by `up`."""
        url, body = self.sample_request()
        payload = shlex.quote(json.dumps(body, separators=(",", ":")))
        return f"curl -s -H 'Content-Type: application/json' {url} -d {payload}"

    def summary(self) -> list[str]:
        """The lines `up` prints: URLs and the sample request."""
        urls = self.urls()
        lines = ["", "sandbox is up (state: " + str(self.state.root) + ")"]
        lines.append(f"  MLflow UI        {urls['mlflow']}")
        lines.append(
            f"  Prometheus       {urls['prometheus']}  (alerts: {urls['prometheus']}/alerts)"
        )
        for index in range(REPLICAS):
            lines.append(f"  serving-{index}        {urls[f'serving-{index}']}")
        lines.append(f"  serving API docs {urls['serving-0']}/docs")
        lines.append(f"  Pushgateway      {urls['pushgateway']}")
        lines += ["", "a prediction:", "  " + self.curl_line(), ""]
        lines.append("next: make sandbox-drift | python -m sandbox status | make sandbox-down")
        return lines

    def status(self) -> list[str]:
        """One line per process (alive or not), the traffic counters and the last events."""
        lines = []
        for name, record in self.state.processes().items():
            alive = "running" if process_alive(record) else "STOPPED"
            url = record.get("url") or ""
            lines.append(f"{name:18} pid {record['pid']:>7} {alive:8} {url:28} {record['log']}")
        if not lines:
            lines.append(f"no sandbox processes recorded in {self.state.root}")
        counters = self.state.root / "traffic.json"
        if counters.exists():
            c = json.loads(counters.read_text(encoding="utf-8"))
            lines.append(
                f"traffic: sent {c['sent']} ok {c['ok']} failed {c['failed']} labels "
                f"{c['labels_sent']} drift {c['drift']:g} versions {c['versions']}"
            )
        for event in self.events()[-5:]:
            when = time.strftime("%H:%M:%S", time.localtime(event["time"]))
            details = {k: v for k, v in event.items() if k not in ("time", "kind", "urls")}
            lines.append(f"event {when} {event['kind']} {details}")
        return lines

    # --- start --------------------------------------------------------------------------------

    def _start_all(self) -> None:
        self.state.add_event("starting")
        self._progress(f"rendering the {STACK} stack ({self.stack_file or 'stacks/'})")
        stack = wiring.render(STACK, self.state.render_dir, self.stack_file)
        rendered = Rendered.load(stack)
        self._progress(f"render checked against the apps' settings; buckets {rendered.buckets}")
        pg = self._postgres()
        s3 = self._s3(rendered)
        mlflow = self._mlflow(stack, pg, s3)
        local = _Local(self.state, rendered, pg, s3, mlflow)
        gateway = self._pushgateway()
        local.add_service("pushgateway", gateway.url)
        exporter = self._run(
            "postgres-exporter",
            lambda: services.start_postgres_exporter(
                self.state.data("postgres-exporter"),
                pg,
                self.state.choose_port("postgres-exporter"),
            ),
        )
        prometheus_port = self.state.choose_port("prometheus", PROMETHEUS_PORT)
        local.add_service(PROMETHEUS_SERVICE, f"http://{services.LOOPBACK}:{prometheus_port}")
        replicas = [self._replica(local, index) for index in range(REPLICAS)]
        self._bootstrap(local)
        for replica in replicas:
            self._wait_ready(replica, rendered.serving.probe_path("readinessProbe"))
        self._prometheus(rendered, prometheus_port, replicas, exporter.url, gateway.url)
        self._scheduler(local)
        self._traffic(replicas)

    def _record(
        self, name: str, process: services.ManagedProcess, ports: list[int], url: str | None
    ) -> None:
        link = self.state.log(name)
        if process.log != link:
            link.unlink(missing_ok=True)
            link.symlink_to(process.log)
        self.state.record_process(name, process.pid, link, ports, url)

    def _run(
        self, name: str, start: Callable[[], Any], ports: list[int] | None = None, url: str = ""
    ) -> Any:
        """Start one server; its failure names it and its log; record its PID, ports and URL."""
        self._progress(f"starting {name}")
        try:
            server = start()
        except services.ServiceError as exc:
            raise SandboxError(
                f"{name} did not start (log: {self.state.log(name)}):\n{exc}"
            ) from exc
        process = server.process
        url = url or (server.url if isinstance(server, services.HttpServer) else "")
        self._record(name, process, ports or [_port(url)], url or None)
        return server

    def _postgres(self) -> services.PostgresServer:
        port = self.state.choose_port("postgres", CNPG_PORT)
        return self._run(  # type: ignore[no-any-return]
            "postgres",
            lambda: services.start_postgres_kept(self.state.data("postgres"), port),
            [port],
        )

    def _s3(self, rendered: Rendered) -> services.S3Server:
        preferred = {
            "s3": rendered.object_store.port("s3"),
            "metrics": rendered.object_store.port("metrics"),
        }
        ports = {
            name: self.state.choose_port(f"s3.{name}", preferred.get(name))
            for name in services.S3_PORT_NAMES
        }
        return self._run(  # type: ignore[no-any-return]
            "seaweedfs",
            lambda: services.start_s3(
                self.state.data("seaweedfs"), rendered.buckets, ports, local_s3_config(rendered)
            ),
            list(ports.values()),
        )

    def _mlflow(
        self, stack: RenderedStack, pg: services.PostgresServer, s3: services.S3Server
    ) -> services.MlflowServer:
        base = self.state.data("mlflow")
        port = self.state.choose_port("mlflow", 5000)
        upgrade, server = wiring.local_mlflow(stack, base, pg, s3, port)
        self._progress("MLflow: db upgrade, then the server (the first start takes a minute)")
        return self._run(  # type: ignore[no-any-return]
            "mlflow",
            lambda: services.start_mlflow(
                base, pg, s3, upgrade_argv=upgrade.argv, server_argv=server.argv, env=server.env
            ),
            [port],
            f"http://{services.LOOPBACK}:{port}",
        )

    def _pushgateway(self) -> services.Pushgateway:
        port = self.state.choose_port("pushgateway", 9091)
        return self._run(  # type: ignore[no-any-return]
            "pushgateway", lambda: services.start_pushgateway(self.state.root / "data", port)
        )

    def _replica(self, local: _Local, index: int) -> services.HttpServer:
        name = f"serving-{index}"
        container = local.rendered.serving
        port = self.state.choose_port(name, container.port(srv.PORT_NAME) + index)
        command = local.localize(
            container, name, {"--host": services.LOOPBACK, "--port": str(port)}
        )
        env = {**command.env, contract_env.HOSTNAME: name, SERVING_API_DOCS: "true"}
        process = services.ManagedProcess(
            name, command.argv, self.state.log(name), env=env, cwd=local.home(name)
        )
        server = services.HttpServer(url=f"http://{services.LOOPBACK}:{port}", process=process)

        def start() -> services.HttpServer:
            process.start_until_ready(
                f"{server.url}{container.probe_path('livenessProbe')}", timeout=READY_TIMEOUT
            )
            return server

        return self._run(name, start)  # type: ignore[no-any-return]

    def _wait_ready(self, replica: services.HttpServer, path: str) -> None:
        name = replica.process.name
        self._progress(f"waiting for {name} to load the champion ({path})")
        try:
            services.wait_http(f"{replica.url}{path}", READY_TIMEOUT, replica.process.proc)
        except services.ServiceError as exc:
            raise SandboxError(f"{name} not ready: {exc} (log: {self.state.log(name)})") from exc

    def _bootstrap(self, local: _Local) -> None:
        """Train and promote a first champion with the CronJob's env, if there is none."""
        model, alias = local.model()
        version = champion_version(local.mlflow.tracking_uri, model, alias)
        if version is not None:
            self._progress(f"champion exists: {model}@{alias} = v{version}")
            return
        command = local.localize(local.rendered.retrain, "bootstrap", {})
        prefix = _training_prefix(command.argv, local.rendered.retrain)
        log = self.state.log("bootstrap")
        for step in ("train", "promote"):
            self._progress(f"no champion yet: python -m training {step} (log: {log})")
            with log.open("ab") as out:
                try:
                    result = subprocess.run(
                        [*prefix, step],
                        env=command.env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        cwd=local.home("bootstrap"),
                        timeout=BOOTSTRAP_TIMEOUT,
                        check=False,
                    )
                except subprocess.TimeoutExpired as exc:
                    raise SandboxError(
                        f"bootstrap {step} took over {BOOTSTRAP_TIMEOUT:.0f}s (log: {log})"
                    ) from exc
            if result.returncode != 0:
                raise SandboxError(f"bootstrap {step} failed with {result.returncode} (log: {log})")
        version = champion_version(local.mlflow.tracking_uri, model, alias)
        self.state.add_event("promotion", run="bootstrap", previous=None, version=version)
        self._progress(f"champion promoted: {model}@{alias} = v{version}")

    def _prometheus(
        self,
        rendered: Rendered,
        port: int,
        replicas: list[services.HttpServer],
        exporter: str,
        gateway: str,
    ) -> None:
        targets = {
            m.JOB_SERVING: [_address(r.url) for r in replicas],
            m.JOB_MLFLOW: [self._address_of("mlflow")],
            m.JOB_OBJECT_STORE: [f"{services.LOOPBACK}:{self.state.ports()['s3.metrics']}"],
            m.JOB_POSTGRES: [_address(exporter)],
            m.JOB_PUSHGATEWAY: [_address(gateway)],
        }
        scrape = scrape_configs_from_rendered(rendered.stack, targets)
        scrape.append(
            {
                "job_name": m.JOB_PROMETHEUS,
                "static_configs": [{"targets": [f"{services.LOOPBACK}:{port}"]}],
            }
        )
        base = self.state.data("prometheus")
        base.mkdir(parents=True, exist_ok=True)
        rules = base / "rendered-rules.yaml"
        rules.write_text(yaml.safe_dump({"groups": rule_groups(rendered.stack)}), encoding="utf-8")
        interval = evaluation_interval(rendered.stack)
        config = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "scrape_configs": scrape,
        }
        self._run(
            "prometheus",
            lambda: services.start_prometheus(
                self.state.root / "data", yaml.safe_dump(config), [rules], port
            ),
        )

    def _address_of(self, name: str) -> str:
        return _address(self.state.processes()[name]["url"])

    def _scheduler(self, local: _Local) -> None:
        cron = local.rendered.cron()
        command = local.localize(local.rendered.retrain, "retrain", {})
        parse_schedule(cron["schedule"], cron.get("timeZone"), local.rendered.retrain.where)
        model, alias = local.model()
        job = {
            "name": "retrain",
            "schedule": cron["schedule"],
            "time_zone": cron.get("timeZone"),
            "concurrency_policy": cron.get("concurrencyPolicy", "Allow"),
            "deadline_seconds": cron["jobTemplate"]["spec"].get("activeDeadlineSeconds"),
            "argv": command.argv,
            "env": command.env,
            "tracking_uri": local.mlflow.tracking_uri,
            "model_name": model,
            "model_alias": alias,
        }
        self.state.write_job("retrain", job)
        self._progress(f"retrain scheduler: {cron['schedule']!r} -> {' '.join(command.argv[1:])}")
        self._start_own("scheduler", ["sandbox.scheduler", "--job", "retrain"])

    def _traffic(self, replicas: list[services.HttpServer]) -> None:
        job = {
            "replicas": [r.url for r in replicas],
            "rate": TRAFFIC_RATE,
            "label_delay": LABEL_DELAY_SECONDS,
        }
        self.state.write_job("traffic", job)
        self._progress(f"traffic: {TRAFFIC_RATE:g} req/s, labels after {LABEL_DELAY_SECONDS:g}s")
        self._start_own("traffic", ["sandbox.traffic"])

    def _start_own(self, name: str, module_args: list[str]) -> None:
        """Start one of the sandbox's own processes (scheduler, traffic) detached."""
        argv = [sys.executable, "-m", *module_args, "--state", str(self.state.root)]
        process = services.ManagedProcess(
            name, argv, self.state.log(name), env=_minimal_env(), cwd=wiring.REPO_ROOT
        )
        process.start()
        time.sleep(0.5)
        if process.proc is not None and process.proc.poll() is not None:
            raise SandboxError(f"{name} exited at start (log: {self.state.log(name)})")
        self._record(name, process, [], None)
        self._progress(f"{name} running (log: {self.state.log(name)})")


@dataclass
class _Local:
    """What a rendered container needs to run here: addresses, secret values, a HOME."""

    state: StateDir
    rendered: Rendered
    pg: services.PostgresServer
    s3: services.S3Server
    mlflow: services.MlflowServer
    addresses: dict[tuple[str, int], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Every Service the render names -> the loopback process behind it, where one runs."""
        known = _services_of(self.rendered.stack)
        self._map(known, "mlflow", self.mlflow.tracking_uri)
        engine = self.rendered.object_store.container["name"]
        store = _services_of(self.rendered.stack).get(engine, [])
        if store:
            self.addresses[(engine, store[0])] = _address(self.s3.endpoint_url)
        for name in known:
            if name.endswith("-rw"):
                self.addresses[(name, CNPG_PORT)] = f"{self.pg.host}:{self.pg.port}"

    def _map(self, known: dict[str, list[int]], service: str, url: str) -> None:
        for port in known.get(service, []):
            self.addresses[(service, port)] = _address(url)

    def add_service(self, service: str, url: str) -> None:
        """Map a rendered Service (every port) to a local URL."""
        self._map(_services_of(self.rendered.stack), service, url)

    def home(self, name: str) -> Path:
        """A writable HOME for one process (pods get an emptyDir /tmp)."""
        path = self.state.root / "home" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def flask_secret(self) -> str:
        """MLflow's Flask secret: generated once, kept in the state folder."""
        return self.kept_secret("flask-secret-key")

    def kept_secret(self, name: str) -> str:
        """A local secret value: generated once, kept in the state folder."""
        path = self.state.data("mlflow") / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()

    def _local_value(self, container: wiring.RenderedContainer, variable: str, value: str) -> str:
        """A rendered secret value made local: placeholders filled, Service addresses mapped."""
        placeholders = {
            **s3_placeholders(),
            DB_PASSWORD_PLACEHOLDER: self.pg.password,
            FLASK_PLACEHOLDER: self.flask_secret(),
            **{key: self.kept_secret(name) for key, name in IDENTITY_PLACEHOLDERS.items()},
        }
        for placeholder, local in placeholders.items():
            value = value.replace(placeholder, local)
        if "<secret:" in value:
            raise wiring.WiringError(
                f"{container.where}: {variable} holds a generated secret the sandbox has no "
                f"local value for ({value}); known: {', '.join(sorted(placeholders))}"
            )
        return _localize_hosts(value, self.addresses, container, variable)

    def secret_values(self, container: wiring.RenderedContainer) -> dict[str, str]:
        """Local values for the container's secretKeyRefs, from the rendered Secrets."""
        namespace = container.workload["metadata"]["namespace"]
        values: dict[tuple[str, str], str] = {}
        for obj in self.rendered.stack.manifests:
            if obj["kind"] != "Secret" or obj["metadata"].get("namespace") != namespace:
                continue
            for key, value in (obj.get("stringData") or {}).items():
                values[(obj["metadata"]["name"], key)] = str(value)
        resolved = wiring.secrets_by_variable(container, values)
        return {k: self._local_value(container, k, v) for k, v in resolved.items()}

    def localize(
        self, container: wiring.RenderedContainer, name: str, flags: dict[str, str]
    ) -> wiring.LocalCommand:
        """The container as a loopback command: local addresses, secrets and HOME."""
        overrides = wiring.cluster_overrides(container, self.addresses)
        if "HOME" in container.literal_env():
            overrides["HOME"] = str(self.home(name))
        command = wiring.localize(
            container, secrets=self.secret_values(container), overrides=overrides, flags=flags
        )
        env_from = {
            variable: self._local_value(container, variable, value)
            for variable, value in wiring.env_from_values(self.rendered.stack, container).items()
        }
        # As in a pod, `env` wins over `envFrom`.
        return wiring.LocalCommand(command.argv, {**_minimal_env(), **env_from, **command.env})

    def model(self) -> tuple[str, str]:
        """The model name and alias the CronJob's env names (what serving follows too)."""
        from mlops_contract import registry

        env = self.rendered.retrain.literal_env()
        return (
            env.get(contract_env.MODEL_NAME, registry.DEFAULT_MODEL_NAME),
            env.get(contract_env.MODEL_ALIAS, registry.CHAMPION_ALIAS),
        )


def _localize_hosts(
    value: str,
    addresses: dict[tuple[str, int], str],
    container: wiring.RenderedContainer,
    variable: str,
) -> str:
    """In-cluster addresses inside a secret value (a database URI) -> loopback ones."""
    fake = wiring.RenderedContainer(
        container.workload, {**container.container, "env": [{"name": variable, "value": value}]}
    )
    return wiring.cluster_overrides(fake, addresses).get(variable, value)


def _training_prefix(argv: list[str], container: wiring.RenderedContainer) -> list[str]:
    """`python -m training` from the CronJob's `python -m training retrain`."""
    if "retrain" not in argv:
        raise wiring.WiringError(
            f"{container.where} runs {argv}, not `... retrain`: the sandbox cannot derive the "
            "training command for the first champion from it"
        )
    return argv[: argv.index("retrain")]


def _address(url: str) -> str:
    return url.removeprefix("http://").removeprefix("https://").rstrip("/")


def _port(url: str) -> int:
    return int(_address(url).rsplit(":", 1)[1])


@contextlib.contextmanager
def running_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Start `sandbox`, yield it, and stop it whatever happens (tests and benchmarks)."""
    try:
        sandbox.up()
        yield sandbox
    finally:
        sandbox.down(quiet=True)


__all__ = ["Sandbox", "SandboxError", "StateDir", "port_is_free", "running_sandbox"]
