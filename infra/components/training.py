"""TrainingJob: the retraining CronJob that closes the loop (train, gate, promote)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes
from mlops_contract import env
from mlops_contract.triggers import Triggers

from infra import k8s
from infra.components import mlflow_auth
from infra.components.kube import manifest_args
from infra.config import TrainingConfig

NAME = "retrain"
# The one-shot Job of the first deploy: trains and promotes a first champion so serving, which
# is not ready without one, can become ready (`pulumi up` waits on both).
BOOTSTRAP_NAME = "bootstrap-model"
# Synthetic data and a small model: minutes at most; past this the first deploy fails loudly.
BOOTSTRAP_DEADLINE_SECONDS = 900
SERVICE_ACCOUNT = "training"
COMPONENT = "training-job"
# A run longer than this is stuck (MLflow or S3 hanging); kill it so the next schedule runs.
ACTIVE_DEADLINE_SECONDS = 3600
# If the controller misses a start by more than this (e.g. during an upgrade), skip that run.
STARTING_DEADLINE_SECONDS = 600


@dataclass(frozen=True, kw_only=True)
class TrainingJobArgs:
    """Image, schedule and endpoints.

    Attributes:
        namespace: the training namespace.
        image: the pinned training image (a digest ref once built and pushed).
        image_version: its version, for the app.kubernetes.io/version label.
        model_name: registered model name (MODEL_NAME).
        model_alias: the alias a promotion moves (MODEL_ALIAS; the one serving follows).
        triggers: the retrain policy and thresholds (RETRAIN_*; the alert rules use the same).
        tracking_uri: MLflow tracking URI.
        s3_endpoint: S3 endpoint for dataset snapshots.
        s3_region: S3 region.
        s3_secret: Secret (in namespace) whose keys are AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
        datasets_bucket: bucket for content-addressed dataset snapshots.
        inference_log_bucket: serving's inference log, the labelled rows `retrain` learns from.
        prometheus_url: where `retrain` reads drift and online accuracy.
        pushgateway_url: where `retrain` pushes its outcome metrics (None: it does not push).
        config: schedule, data window, minimum rows and resources.
        depends_on: namespace and Secrets.
        bootstrap_depends_on: what the bootstrap Job needs running (the MLflow server, the
            buckets): it trains and registers a model at once.
    """

    namespace: str
    image: pulumi.Input[str]
    image_version: str
    model_name: str
    model_alias: str
    triggers: Triggers
    tracking_uri: str
    s3_endpoint: str
    s3_region: str
    s3_secret: str
    datasets_bucket: str
    inference_log_bucket: str
    prometheus_url: str
    config: TrainingConfig
    pushgateway_url: str | None = None
    depends_on: tuple[pulumi.Resource, ...] = ()
    bootstrap_depends_on: tuple[pulumi.Resource, ...] = ()


def trigger_env(triggers: Triggers) -> list[dict[str, str]]:
    """Return the RETRAIN_* variables: the decision's policy and thresholds, exactly as given."""
    return [
        {"name": env.RETRAIN_POLICY, "value": ",".join(triggers.policy)},
        {"name": env.RETRAIN_MAX_PSI, "value": str(triggers.drift.max_psi)},
        {"name": env.RETRAIN_MAX_ACCURACY_DROP, "value": str(triggers.accuracy.max_drop)},
        {"name": env.RETRAIN_MIN_LABELLED, "value": str(triggers.accuracy.min_labelled)},
    ]


def data_env(args: TrainingJobArgs) -> list[dict[str, str]]:
    """Return where `retrain` reads production data, over which window, and how much it needs."""
    return [
        {"name": env.INFERENCE_LOG_BUCKET, "value": args.inference_log_bucket},
        {"name": env.RETRAIN_WINDOW_MINUTES, "value": str(args.config.data_window_minutes)},
        {"name": env.RETRAIN_MIN_ROWS, "value": str(args.config.min_training_rows)},
    ]


def retrain_container(
    args: TrainingJobArgs, name: str, command: list[str], *, production_data: bool
) -> dict[str, Any]:
    """Return the training container: image, env, credentials, resources, restricted context.

    Args:
        args: the component's arguments.
        name: the container's name.
        command: what it runs.
        production_data: read serving's inference log and Prometheus, and push the outcome
            (the CronJob); without them `retrain` trains on synthetic data, as `train` does
            (the bootstrap: no traffic yet, and Prometheus may still be starting).
    """
    cfg = args.config
    return {
        "name": name,
        "image": args.image,
        "command": command,
        "env": [
            {"name": env.MLFLOW_TRACKING_URI, "value": args.tracking_uri},
            # The `training` identity: create runs, register versions, move the alias.
            *mlflow_auth.identity_env(),
            {"name": env.MODEL_NAME, "value": args.model_name},
            {"name": env.MODEL_ALIAS, "value": args.model_alias},
            {"name": env.S3_ENDPOINT_URL, "value": args.s3_endpoint},
            {"name": env.AWS_DEFAULT_REGION, "value": args.s3_region},
            {"name": env.DATASETS_BUCKET, "value": args.datasets_bucket},
            *trigger_env(args.triggers),
            *(signal_env(args) if production_data else []),
            {"name": "HOME", "value": k8s.SCRATCH},
        ],
        # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, by reference only.
        "envFrom": [{"secretRef": {"name": args.s3_secret}}],
        "resources": k8s.resources(
            cfg.resources.requests.model_dump(), cfg.resources.limits.model_dump()
        ),
        "securityContext": k8s.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": k8s.SCRATCH}],
    }


def signal_env(args: TrainingJobArgs) -> list[dict[str, str]]:
    """Return where `retrain` reads its signals and data, and where it reports its outcome."""
    pushgateway = (
        [{"name": env.PUSHGATEWAY_URL, "value": args.pushgateway_url}]
        if args.pushgateway_url
        else []
    )
    return [
        {"name": env.PROMETHEUS_URL, "value": args.prometheus_url},
        *pushgateway,
        *data_env(args),
    ]


# Why the Checkov check "secrets as files, not env" is skipped on the CronJob and the Job.
ENV_CREDENTIALS = (
    "the training CLI's boto3 and MLflow clients read the S3 keys from env (envFrom the "
    "Secret, never literals) in a one-process non-root container"
)


def scan_skips(args: TrainingJobArgs) -> pulumi.Output[dict[str, str]]:
    """Checkov skips for a training workload, from its image ref once known (a digest if built)."""
    return pulumi.Output.from_input(args.image).apply(
        lambda image: k8s.scan_skips(images=[image], env_credentials=ENV_CREDENTIALS)
    )


def job_spec(
    labels: dict[str, str], container: dict[str, Any], *, backoff_limit: int, deadline: int
) -> dict[str, Any]:
    """A Job spec running one training container once (the CronJob's template and bootstrap)."""
    return {
        "backoffLimit": backoff_limit,
        "activeDeadlineSeconds": deadline,
        "template": {
            "metadata": {"labels": labels},
            "spec": k8s.pod_spec(
                [container], service_account=SERVICE_ACCOUNT, restart_policy="Never"
            ),
        },
    }


def cron_job(args: TrainingJobArgs) -> dict[str, Any]:
    """Return the retrain CronJob."""
    cfg = args.config
    labels = k8s.labels(NAME, COMPONENT, args.image_version)
    container = retrain_container(
        args, NAME, ["python", "-m", "training", "retrain"], production_data=True
    )
    return {
        "metadata": {
            "name": NAME,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": scan_skips(args),
        },
        "spec": {
            "schedule": cfg.schedule,
            # Two retrains racing would both try to move the model alias.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels},
                # A failed retrain is reported and retried at the next schedule, not in a loop.
                "spec": job_spec(
                    labels, container, backoff_limit=1, deadline=ACTIVE_DEADLINE_SECONDS
                ),
            },
        },
    }


def bootstrap_job(args: TrainingJobArgs) -> dict[str, Any]:
    """Return the one-shot Job that trains and promotes a first model when none exists.

    `python -m training bootstrap`: with a champion it exits 0 and changes nothing (a rerun, a
    restored registry); without one it trains on synthetic data and promotes through the gate
    (with no champion, only the floor and the latency budget apply). No shell. The component
    sets ignoreChanges on it, so a new image does not rerun it on every deploy; the retrain
    CronJob owns retraining after the first model (docs/operations.md).
    """
    labels = k8s.labels(BOOTSTRAP_NAME, COMPONENT, args.image_version)
    command = ["python", "-m", "training", "bootstrap"]
    container = retrain_container(args, BOOTSTRAP_NAME, command, production_data=False)
    return {
        "metadata": {
            "name": BOOTSTRAP_NAME,
            "namespace": args.namespace,
            "labels": labels,
            "annotations": scan_skips(args),
        },
        "spec": job_spec(labels, container, backoff_limit=2, deadline=BOOTSTRAP_DEADLINE_SECONDS),
    }


class TrainingJob(pulumi.ComponentResource):
    """The training ServiceAccount and the scheduled retrain CronJob.

    Published facts: cron_job_name, service_account (it reads the S3 credentials Secret),
    bootstrap (the one-shot Job that promotes a first model; serving depends on it).
    """

    cron_job_name: str
    service_account: str
    bootstrap: kubernetes.batch.v1.Job

    def __init__(
        self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        """Create the ServiceAccount and the CronJob."""
        super().__init__("mlops:index:TrainingJob", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on))
        account = kubernetes.core.v1.ServiceAccount(
            f"{name}-sa",
            opts=child,
            **manifest_args(
                {
                    "metadata": {"name": SERVICE_ACCOUNT, "namespace": args.namespace},
                    "automountServiceAccountToken": False,
                }
            ),
        )
        kubernetes.batch.v1.CronJob(f"{name}-cronjob", opts=child, **manifest_args(cron_job(args)))
        # Pulumi waits for the Job to complete. ignoreChanges: a new image or env must not
        # replace (rerun) it; after the first deploy the CronJob owns retraining.
        self.bootstrap = kubernetes.batch.v1.Job(
            f"{name}-bootstrap",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[account, *args.depends_on, *args.bootstrap_depends_on],
                ignore_changes=["spec", "metadata"],
            ),
            **manifest_args(bootstrap_job(args)),
        )
        self.cron_job_name = NAME
        self.service_account = SERVICE_ACCOUNT
        self.register_outputs({"cronJob": self.cron_job_name})
