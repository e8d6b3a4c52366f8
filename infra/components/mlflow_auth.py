"""MLflow authentication: the basic-auth app's config, the identities and the setup Job.

MLflow's own basic-auth app (`mlflow server --app-name basic-auth`) rather than an
authenticating proxy in front: the permissions it enforces are per experiment and per
registered model (serving may READ one model, training may EDIT it), which a proxy that sees
only URLs and methods cannot express. Users live in their own database (`<database>_auth`) in
the same Postgres cluster, next to the tracking store but never mixed with its tables.

Identities: `admin` (the server creates it from the config file; only the setup Job uses it),
`training` and `serving`. Nothing in monitoring calls MLflow's API: Prometheus scrapes
`/metrics`, which the basic-auth app reserves for admins (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import env

from infra import k8s, versions
from infra.components import postgres
from infra.components.kube import manifest_args
from infra.components.secrets import PASSWORD_LENGTH, SecretSpec, SecretStoreArgs
from infra.config import PostgresConfig
from infra.jobs import mlflow_auth_setup as script

APP_NAME = "basic-auth"
ADMIN_USER = "admin"
TRAINING_USER = "training"
SERVING_USER = "serving"
# Generated passwords (`${...}` names in the Secrets' templates; S105: names, not values).
ADMIN_PASSWORD = "mlflow_admin"  # noqa: S105
TRAINING_PASSWORD = "mlflow_training"  # noqa: S105
SERVING_PASSWORD = "mlflow_serving"  # noqa: S105
# The server's config file, a Secret (it holds the database password), mounted read-only.
CONFIG_SECRET = "mlflow-auth-config"  # noqa: S105  # a name, not a value
CONFIG_FILE = "basic_auth.ini"
CONFIG_DIR = "/etc/mlflow-auth"
CONFIG_PATH_VAR = "MLFLOW_AUTH_CONFIG_PATH"
# The identity a workload calls MLflow as: same Secret name in the training and serving
# namespaces, each readable only by that namespace's workload.
IDENTITY_SECRET = "mlflow-identity"  # noqa: S105
USERNAME_KEY = "username"
PASSWORD_KEY = "password"  # noqa: S105
# The setup Job: its ServiceAccount, Secret (admin + the identities' passwords) and script.
SETUP_NAME = "mlflow-auth-setup"
SETUP_COMPONENT = "auth-setup"
SETUP_DIR = "/etc/mlflow-auth-setup"
SETUP_SCRIPT = "mlflow_auth_setup.py"
# Creating two users and four grants takes seconds; past this the deploy fails loudly.
SETUP_DEADLINE_SECONDS = 600
SETUP_RESOURCES = {"cpu": "50m", "memory": "256Mi"}, {"cpu": "500m", "memory": "512Mi"}


def auth_database(cfg: PostgresConfig) -> str:
    """Return the name of the auth database (next to the tracking database, same owner)."""
    return f"{cfg.database}_auth"


def config_template(cfg: PostgresConfig, namespace: str) -> str:
    """Return basic_auth.ini as a SecretStore template (`${...}`: generated passwords)."""
    uri = postgres.backend_uri_template(
        cfg, namespace, postgres.APP_PASSWORD, database=auth_database(cfg)
    )
    return "\n".join(
        [
            "[mlflow]",
            # Secure default: a user sees nothing it was not granted (MLflow's default is READ).
            "default_permission = NO_PERMISSIONS",
            f"database_uri = {uri}",
            f"admin_username = {ADMIN_USER}",
            f"admin_password = ${{{ADMIN_PASSWORD}}}",
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
            "",
        ]
    )


@dataclass(frozen=True, kw_only=True)
class Readers:
    """The ServiceAccounts that read each identity Secret, and where they run.

    Attributes:
        platform: the platform namespace (MLflow and the setup Job).
        server: MLflow's ServiceAccount (reads the config file).
        training: (namespace, ServiceAccount) of training's workloads.
        serving: (namespace, ServiceAccount) of serving's workloads.
    """

    platform: str
    server: str
    training: tuple[str, str]
    serving: tuple[str, str]


def secret_args(cfg: PostgresConfig, readers: Readers) -> SecretStoreArgs:
    """Return the passwords and Secrets of MLflow's authentication, each read by its consumer."""
    identities = (
        (TRAINING_USER, TRAINING_PASSWORD, readers.training),
        (SERVING_USER, SERVING_PASSWORD, readers.serving),
    )
    return SecretStoreArgs(
        passwords=dict.fromkeys(
            (ADMIN_PASSWORD, *(pw for _, pw, _ in identities)), PASSWORD_LENGTH
        ),
        secrets=(
            SecretSpec(
                name=CONFIG_SECRET,
                namespace=readers.platform,
                data={CONFIG_FILE: config_template(cfg, readers.platform)},
                readers=(readers.server,),
            ),
            SecretSpec(
                name=SETUP_NAME,
                namespace=readers.platform,
                data={
                    ADMIN_USER: f"${{{ADMIN_PASSWORD}}}",
                    **{user: f"${{{pw}}}" for user, pw, _ in identities},
                },
                readers=(SETUP_NAME,),
            ),
            *(
                SecretSpec(
                    name=IDENTITY_SECRET,
                    namespace=namespace,
                    data={USERNAME_KEY: user, PASSWORD_KEY: f"${{{pw}}}"},
                    readers=(account,),
                )
                for user, pw, (namespace, account) in identities
            ),
        ),
    )


def identity_env() -> list[dict[str, Any]]:
    """Return the env entries a training or serving container calls MLflow with."""
    return [
        k8s.env_credentials(env.MLFLOW_TRACKING_USERNAME, IDENTITY_SECRET, USERNAME_KEY),
        k8s.env_credentials(env.MLFLOW_TRACKING_PASSWORD, IDENTITY_SECRET, PASSWORD_KEY),
    ]


def server_env() -> list[dict[str, str]]:
    """Return the MLflow server's variable pointing at the mounted config file."""
    return [{"name": CONFIG_PATH_VAR, "value": f"{CONFIG_DIR}/{CONFIG_FILE}"}]


def server_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the config Secret's volume and its read-only mount for the server container."""
    volume = {"name": "auth-config", "secret": {"secretName": CONFIG_SECRET}}
    mount = {"name": "auth-config", "mountPath": CONFIG_DIR, "readOnly": True}
    return volume, mount


def setup_pods() -> dict[str, str]:
    """Return the selector labels of the setup Job's pod (its NetworkPolicy selects them)."""
    return k8s.selector_labels(SETUP_NAME, SETUP_COMPONENT)


def script_text() -> str:
    """Return the setup script shipped in the ConfigMap (infra/jobs/mlflow_auth_setup.py)."""
    return Path(script.__file__).read_text(encoding="utf-8")


def setup_config_map(namespace: str) -> dict[str, Any]:
    """Return the ConfigMap that carries the setup script."""
    return {
        "metadata": {
            "name": SETUP_NAME,
            "namespace": namespace,
            "labels": k8s.labels(SETUP_NAME, SETUP_COMPONENT),
        },
        "data": {SETUP_SCRIPT: script_text()},
    }


def _setup_env(tracking_uri: str, model_name: str) -> list[dict[str, Any]]:
    users = ((script.TRAINING_USER, TRAINING_USER), (script.SERVING_USER, SERVING_USER))
    return [
        {"name": script.TRACKING_URI, "value": tracking_uri},
        {"name": script.MODEL_NAME, "value": model_name},
        {"name": env.MLFLOW_TRACKING_USERNAME, "value": ADMIN_USER},
        k8s.env_credentials(env.MLFLOW_TRACKING_PASSWORD, SETUP_NAME, ADMIN_USER),
        *({"name": var, "value": user} for var, user in users),
        *(k8s.env_credentials(f"{var}_PASSWORD", SETUP_NAME, user) for var, user in users),
        {"name": "HOME", "value": k8s.SCRATCH},
    ]


SETUP_ENV_CREDENTIALS = (
    "MLflow's auth client reads the admin login from MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD, and the script the identities' passwords from env; Secret refs, "
    "never literals, in a one-shot non-root Job"
)


def setup_job(namespace: str, tracking_uri: str, model_name: str) -> dict[str, Any]:
    """Return the one-shot Job that creates the identities and grants as the admin."""
    labels = k8s.labels(SETUP_NAME, SETUP_COMPONENT, versions.MLFLOW_IMAGE.rsplit(":", 1)[-1])
    container = {
        "name": SETUP_NAME,
        "image": versions.MLFLOW_IMAGE,
        "command": ["python", f"{SETUP_DIR}/{SETUP_SCRIPT}"],
        "env": _setup_env(tracking_uri, model_name),
        "resources": k8s.resources(*SETUP_RESOURCES),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": k8s.SCRATCH},
            {"name": "script", "mountPath": SETUP_DIR, "readOnly": True},
        ],
    }
    volumes = [dict(k8s.SCRATCH_VOLUME), {"name": "script", "configMap": {"name": SETUP_NAME}}]
    return {
        "metadata": {
            "name": SETUP_NAME,
            "namespace": namespace,
            "labels": labels,
            "annotations": k8s.scan_skips(
                images=[versions.MLFLOW_IMAGE], env_credentials=SETUP_ENV_CREDENTIALS
            ),
        },
        "spec": {
            # Retries cover an MLflow that is still starting; the script converges each time.
            "backoffLimit": 4,
            "activeDeadlineSeconds": SETUP_DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": k8s.pod_spec(
                    [container],
                    service_account=SETUP_NAME,
                    restart_policy="Never",
                    volumes=volumes,
                ),
            },
        },
    }


@dataclass(frozen=True, kw_only=True)
class MlflowAuthSetupArgs:
    """Where the setup Job runs and what it grants on.

    Attributes:
        namespace: the platform namespace (the admin's Secret lives there, next to MLflow).
        tracking_uri: the MLflow server.
        model_name: the registered model training registers and serving reads.
        depends_on: the MLflow server and the Secrets.
    """

    namespace: str
    tracking_uri: str
    model_name: str
    depends_on: tuple[pulumi.Resource, ...] = ()


class MlflowAuthSetup(pulumi.ComponentResource):
    """ServiceAccount, script ConfigMap and the setup Job (Pulumi waits for it to complete).

    Published facts: `job` (training's bootstrap depends on it), `endpoint` (its pods, a
    client of MLflow: they listen on no port).
    """

    job: kubernetes.batch.v1.Job
    endpoint: k8s.Endpoint

    def __init__(
        self, name: str, args: MlflowAuthSetupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the Job's ServiceAccount and ConfigMap, then the Job once MLflow runs."""
        super().__init__("mlops:index:MlflowAuthSetup", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        ns = args.namespace
        account = kubernetes.core.v1.ServiceAccount(
            f"{name}-sa",
            opts=child,
            **manifest_args(
                {
                    "metadata": {"name": SETUP_NAME, "namespace": ns},
                    "automountServiceAccountToken": False,
                }
            ),
        )
        script_map = kubernetes.core.v1.ConfigMap(
            f"{name}-script", opts=child, **manifest_args(setup_config_map(ns))
        )
        # A changed script or image replaces (reruns) the Job: it converges, so that is safe.
        self.job = kubernetes.batch.v1.Job(
            f"{name}-job",
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[account, script_map, *args.depends_on]
            ),
            **manifest_args(setup_job(ns, args.tracking_uri, args.model_name)),
        )
        self.endpoint = k8s.Endpoint(namespace=ns, pods=setup_pods(), ports=())
        self.register_outputs({"job": SETUP_NAME})
