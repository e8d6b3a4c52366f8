"""Run the containers that the platform deploys, as local processes, with their rendered wiring.

The sandbox and the integration tests start MLflow, serving and the retrain job with the
command, args and environment variable names taken from the rendered manifests, so the wiring
`pulumi up` deploys is the wiring that runs. Only what differs between a pod and a loopback
process is substituted: the bind address and port, in-cluster DNS names, the image's own
binary (`mlflow` -> this interpreter's `python -m mlflow`), writable paths, and the values
behind `secretKeyRef`s (the local servers' own). Where the render and an app disagree (a
variable the app does not read, a required one the render does not set) the run fails with a
message naming both.
"""

from __future__ import annotations

import configparser
import re
import secrets
import subprocess
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_contract import env as contract_env
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from infra.components import objectstore_identities as s3_ids
from infra.render import RenderedStack, load_rendered
from sandbox import services

REPO_ROOT = Path(__file__).resolve().parents[1]
_ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# An in-cluster Service address: <service>.<namespace>.svc.cluster.local[:port].
_CLUSTER_HOST = re.compile(r"([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local(?::(\d+))?")
# Variables a pod needs that no app setting reads (the OS's own).
OS_ENV = frozenset({"HOME"})


class WiringError(ValueError):
    """The render and the program it runs disagree; the message names both sides."""


def render(stack: str, out_dir: Path, config: Path | None = None) -> RenderedStack:
    """Render `stack` offline in a subprocess (Pulumi mocks are once per process).

    `config` is a stack file to render instead of stacks/Pulumi.<stack>.yaml.
    """
    cmd = [sys.executable, "-m", "infra.render", "--stack", stack, "--out", str(out_dir)]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        source = config or f"stacks/Pulumi.{stack}.yaml"
        raise RuntimeError(f"render of {stack} from {source} failed:\n{proc.stderr}")
    return load_rendered(out_dir, stack)


@dataclass(frozen=True)
class RenderedContainer:
    """One container of a rendered workload, with the pod-level context it needs."""

    workload: dict[str, Any]
    container: dict[str, Any]

    @property
    def argv(self) -> list[str]:
        """The command + args as Kubernetes would run them (before $(VAR) expansion)."""
        return [*self.container.get("command", []), *self.container.get("args", [])]

    @property
    def env_names(self) -> list[str]:
        """Names of the container's environment variables."""
        return [entry["name"] for entry in self.container.get("env", [])]

    def literal_env(self) -> dict[str, str]:
        """Variables with literal values in the manifest."""
        return {e["name"]: str(e["value"]) for e in self.container.get("env", []) if "value" in e}

    @property
    def where(self) -> str:
        """`Kind/name container c`: how errors name this container."""
        meta = self.workload["metadata"]
        return f"rendered {self.workload['kind']}/{meta['name']} container {self.container['name']}"

    def secret_env(self) -> dict[str, tuple[str, str]]:
        """Variables from Secrets: name -> (secret name, key)."""
        refs = {}
        for entry in self.container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                refs[entry["name"]] = (ref["name"], ref["key"])
        return refs

    def env_from(self) -> list[tuple[str, str]]:
        """`envFrom` sources as (kind, name): ("Secret", "s3-credentials"), ("ConfigMap", ...)."""
        sources = []
        for entry in self.container.get("envFrom", []):
            if "secretRef" in entry:
                sources.append(("Secret", str(entry["secretRef"]["name"])))
            if "configMapRef" in entry:
                sources.append(("ConfigMap", str(entry["configMapRef"]["name"])))
        return sources

    def port(self, name: str) -> int:
        """The containerPort with this name."""
        for port in self.container.get("ports", []):
            if port.get("name") == name:
                return int(port["containerPort"])
        raise KeyError(f"container {self.container['name']} has no port named {name!r}")

    def probe_path(self, probe: str) -> str:
        """HTTP path of `readinessProbe` or `livenessProbe`."""
        return str(self.container[probe]["httpGet"]["path"])


def find_container(
    rendered: RenderedStack, kind: str, name: str, container: str, *, init: bool = False
) -> RenderedContainer:
    """The container (or init container) `container` of workload `kind`/`name`."""
    for obj in rendered.manifests:
        if obj["kind"] != kind or obj["metadata"]["name"] != name:
            continue
        spec = obj["spec"]
        pod = spec["jobTemplate"]["spec"]["template"]["spec"] if kind == "CronJob" else None
        pod = pod or spec["template"]["spec"]
        for candidate in pod.get("initContainers" if init else "containers", []):
            if candidate["name"] == container:
                return RenderedContainer(obj, candidate)
        raise KeyError(f"{kind}/{name} has no container {container!r}")
    raise KeyError(f"rendered stack {rendered.stack} has no {kind}/{name}")


def expand(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """Expand Kubernetes `$(VAR)` references the way the kubelet does."""
    return [_ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), arg) for arg in argv]


def replace_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """Return argv with the value after `flag` replaced (the flag must be there)."""
    if flag not in argv:
        raise KeyError(f"{flag} not in rendered args {argv}")
    index = argv.index(flag)
    return [*argv[: index + 1], value, *argv[index + 2 :]]


def flag_value(argv: list[str], flag: str) -> str:
    """The value after `flag` in argv."""
    return argv[argv.index(flag) + 1]


@dataclass(frozen=True)
class LocalCommand:
    """A rendered container turned into a loopback process: argv and environment."""

    argv: list[str]
    env: dict[str, str]


def localize(
    container: RenderedContainer,
    *,
    secrets: Mapping[str, str],
    overrides: Mapping[str, str],
    flags: Mapping[str, str],
) -> LocalCommand:
    """Turn a rendered container into a local command.

    Args:
        container: the rendered container.
        secrets: value for every env var that the manifest takes from a Secret (by var name);
            a secret-backed variable without a value here is an error, so new wiring is noticed.
        overrides: literal env values that only make sense in a cluster (DNS names, HOME).
        flags: command-line flags whose values change on loopback (--host, --port, paths).
    """
    env = dict(container.literal_env())
    for name in container.secret_env():
        if name not in secrets:
            raise KeyError(f"rendered env {name} comes from a Secret; give the test a value")
        env[name] = secrets[name]
    for name, value in overrides.items():
        if name not in env:
            raise KeyError(f"override for {name}, which the rendered container does not set")
        env[name] = value
    argv = expand(container.argv, env)
    for flag, value in flags.items():
        argv = replace_flag(argv, flag, value)
    # The image's programs -> this interpreter, which has the same packages pinned.
    if argv and argv[0] == "python":
        argv = [sys.executable, *argv[1:]]
    elif argv and argv[0] in {"mlflow", "uvicorn"}:
        argv = [sys.executable, "-m", *argv]
    return LocalCommand(argv=argv, env=env)


# The rendered server runs MLflow's basic-auth app with this flag and reads its config file from
# the path in this variable (infra/components/mlflow_auth.py).
AUTH_APP_FLAG = "--app-name"
AUTH_CONFIG_VAR = "MLFLOW_AUTH_CONFIG_PATH"
AUTH_CONFIG_SECRET = "mlflow-auth-config"  # noqa: S105  # a Secret's name


@dataclass(frozen=True)
class LocalAuth:
    """The local admin password for the rendered basic-auth config (the database is local)."""

    admin_password: str


def rendered_auth_config(rendered: RenderedStack) -> configparser.ConfigParser:
    """The rendered basic_auth.ini (from its Secret; generated values are placeholders)."""
    for obj in rendered.manifests:
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == AUTH_CONFIG_SECRET:
            parser = configparser.ConfigParser(interpolation=None)
            for text in (obj.get("stringData") or {}).values():
                parser.read_string(str(text))
            return parser
    raise WiringError(f"rendered stack {rendered.stack} has no Secret {AUTH_CONFIG_SECRET}")


def local_auth_config(
    rendered: RenderedStack, base: Path, postgres: services.PostgresServer, auth: LocalAuth
) -> Path:
    """Write the rendered basic_auth.ini with local values; create its database; return it."""
    config = rendered_auth_config(rendered)
    section = config["mlflow"]
    database = section["database_uri"].rsplit("/", 1)[-1]
    services.create_database(postgres, database)
    section["database_uri"] = postgres.url.rsplit("/", 1)[0] + f"/{database}"
    section["admin_password"] = auth.admin_password
    path = base / "basic_auth.ini"
    with path.open("w", encoding="utf-8") as out:
        config.write(out)
    path.chmod(0o600)
    return path


def _without_auth_app(argv: list[str]) -> list[str]:
    if AUTH_APP_FLAG not in argv:
        return argv
    index = argv.index(AUTH_APP_FLAG)
    return [*argv[:index], *argv[index + 2 :]]


def local_mlflow(
    rendered: RenderedStack,
    base: Path,
    postgres: services.PostgresServer,
    s3: services.S3Server,
    port: int | None = None,
    auth: LocalAuth | None = None,
) -> tuple[LocalCommand, LocalCommand]:
    """The rendered MLflow init container and server container, turned into local commands.

    With `auth`, the server runs the rendered basic-auth app with the rendered config (local
    database and admin password). Without it, the one substitution is that the auth app is
    left out (`--app-name` dropped): the suites that test the loop rather than access control
    then need no identities (tests/integration/test_mlflow_auth.py runs it with auth).
    """
    port = port or services.free_port()
    metrics_dir = base / "metrics"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    secret_values = {
        "MLFLOW_BACKEND_STORE_URI": postgres.url,
        # MLflow's own S3 identity: the artifacts bucket and nothing else.
        contract_env.AWS_ACCESS_KEY_ID: s3.keys[s3_ids.MLFLOW].access_key,
        contract_env.AWS_SECRET_ACCESS_KEY: s3.keys[s3_ids.MLFLOW].secret_key,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(24),
    }
    overrides = {contract_env.S3_ENDPOINT_URL: s3.endpoint_url, "HOME": str(base)}
    server_overrides = dict(overrides)
    if auth is not None:
        config = local_auth_config(rendered, base, postgres, auth)
        server_overrides[AUTH_CONFIG_VAR] = str(config)
    upgrade = localize(
        find_container(rendered, "Deployment", "mlflow", "db-upgrade", init=True),
        secrets=secret_values,
        overrides=overrides,
        flags={},
    )
    server_container = find_container(rendered, "Deployment", "mlflow", "mlflow")
    allowed = flag_value(server_container.argv, "--allowed-hosts")
    server = localize(
        server_container,
        secrets=secret_values,
        overrides=server_overrides,
        flags={
            "--host": services.LOOPBACK,
            "--port": str(port),
            "--expose-prometheus": str(metrics_dir),
            # The in-cluster names stay; the loopback address the tests use is added.
            "--allowed-hosts": f"{allowed},{services.LOOPBACK}:{port},{services.LOOPBACK}",
        },
    )
    if auth is None:
        server = LocalCommand(
            _without_auth_app(server.argv),
            {k: v for k, v in server.env.items() if k != AUTH_CONFIG_VAR},
        )
    destination = flag_value(server.argv, "--artifacts-destination")
    if destination != f"s3://{s3.artifacts_bucket}":
        raise WiringError(
            f"{server_container.where} stores artifacts in {destination}, but the local S3 "
            f"serves the artifacts bucket as s3://{s3.artifacts_bucket}"
        )
    return upgrade, server


# --- render <-> app checks and in-cluster addresses -------------------------------------------


def settings_env(settings: type[BaseSettings]) -> tuple[set[str], set[str]]:
    """The environment variables a pydantic settings class reads, and those it requires.

    A field read through `validation_alias` (one name or AliasChoices) reads those names;
    otherwise its upper-case field name (serving's case-insensitive settings).
    """
    known: set[str] = set()
    required: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names = {alias}
        elif isinstance(alias, AliasChoices):
            names = {str(choice) for choice in alias.choices if isinstance(choice, str)}
        else:
            names = {name.upper()}
        known |= names
        if field.is_required():
            required |= names
    return known, required


def env_from_values(rendered: RenderedStack, container: RenderedContainer) -> dict[str, str]:
    """The variables a container gets through `envFrom`: every key of each Secret/ConfigMap.

    Values are as rendered (a generated secret is a `<secret:NAME>` placeholder).

    Raises:
        WiringError: a source the render does not contain (in the workload's namespace).
    """
    namespace = container.workload["metadata"].get("namespace")
    values: dict[str, str] = {}
    for kind, name in container.env_from():
        found = [
            obj
            for obj in rendered.manifests
            if obj["kind"] == kind
            and obj["metadata"]["name"] == name
            and obj["metadata"].get("namespace") == namespace
        ]
        if not found:
            raise WiringError(
                f"{container.where} takes envFrom {kind} {name}, which the render does not "
                f"have in namespace {namespace}"
            )
        data = found[0].get("stringData") or found[0].get("data") or {}
        values |= {str(k): str(v) for k, v in data.items()}
    return values


def check_settings(
    container: RenderedContainer,
    settings: type[BaseSettings],
    extra: Collection[str] = (),
    env_from: Collection[str] = (),
) -> None:
    """Fail when the render sets a variable the app does not read, or misses one it requires.

    Args:
        container: the rendered container that runs the app.
        settings: the app's settings class (every variable the app reads).
        extra: variables the local run adds itself (the kubelet's, like HOSTNAME).
        env_from: variables the container gets through `envFrom` (env_from_values).

    Raises:
        WiringError: naming the rendered container, the variable and the settings class.
    """
    known, required = settings_env(settings)
    owner = f"{settings.__module__}.{settings.__qualname__}"
    rendered = set(container.env_names) | set(env_from)
    unknown = sorted(rendered - known - OS_ENV)
    if unknown:
        raise WiringError(
            f"{container.where} sets {', '.join(unknown)}, which {owner} does not read: "
            "a typo or a setting the app lost (fix the render or add the setting)"
        )
    missing = sorted(required - rendered - set(extra))
    if missing:
        raise WiringError(
            f"{owner} requires {', '.join(missing)}, which {container.where} does not set "
            "(fix the render or give the setting a default)"
        )


def secrets_by_variable(
    container: RenderedContainer, values: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """Local values for the container's `secretKeyRef` variables, from (secret, key) -> value.

    Raises:
        WiringError: a referenced secret key has no local value.
    """
    resolved = {}
    for variable, ref in container.secret_env().items():
        if ref not in values:
            known = ", ".join(f"{s}/{k}" for s, k in sorted(values))
            raise WiringError(
                f"{container.where}: {variable} comes from Secret {ref[0]} key {ref[1]}, which "
                f"the sandbox has no local value for (it has: {known})"
            )
        resolved[variable] = values[ref]
    return resolved


def cluster_overrides(
    container: RenderedContainer, addresses: Mapping[tuple[str, int], str]
) -> dict[str, str]:
    """Literal env values with every in-cluster Service address replaced by its loopback one.

    Args:
        container: the rendered container.
        addresses: (service name, port) -> `127.0.0.1:port` of the local process behind it.

    Raises:
        WiringError: a value names a Service (and port) that nothing local stands in for.
    """
    overrides = {}
    for variable, value in container.literal_env().items():

        def local(match: re.Match[str], variable: str = variable, value: str = value) -> str:
            service, port = match.group(1), int(match.group(3) or 80)
            if (service, port) not in addresses:
                raise WiringError(
                    f"{container.where}: {variable}={value} names Service {service} port "
                    f"{port}, which no sandbox process stands in for "
                    f"(local: {sorted(addresses)})"
                )
            return addresses[service, port]

        new = _CLUSTER_HOST.sub(local, value)
        if new != value:
            overrides[variable] = new
    return overrides
