"""Follow a registry alias: poll MLflow, load a new version off the event loop, swap it in."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.tracking import MlflowClient
from mlops_contract import registry as contract

from serving.drift import DriftReference, parse_reference
from serving.fastpath import Predictor
from serving.metrics import ServingMetrics
from serving.model_store import ModelSnapshot, ModelStore
from serving.settings import Settings
from serving.validation import InputSchema

logger = logging.getLogger(__name__)

# MLflow answered, but the alias or version is not there: the registry is up.
_REGISTRY_ANSWERED = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}
# MLflow's client retries a failed call for minutes by default; a poller must fail fast and
# try again at the next poll. MLflow reads these only from the environment, so the process
# entry point (serving.main, when uvicorn asks for `app`) sets them if unset, never this class.
MLFLOW_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


class ArtifactDigestError(Exception):
    """A version's downloaded files do not have the digest training recorded (or none is)."""


@dataclass(frozen=True)
class Refusal:
    """The version last refused and the digest it was refused under: not tried again."""

    version: str
    recorded: str | None
    message: str


def verify_artifact(name: str, version: ModelVersion, local: str) -> None:
    """Raise ArtifactDigestError unless the files under local have the version's recorded digest.

    Runs before anything under local is read as a model: a mismatched file is never unpickled.
    """
    recorded = (version.tags or {}).get(contract.MODEL_DIGEST_TAG)
    actual = contract.model_digest(local)
    if recorded != actual:
        shown = recorded or f"none (no {contract.MODEL_DIGEST_TAG} tag)"
        raise ArtifactDigestError(
            f"refusing {name} version {version.version}: its artifact's sha256 is {actual}, "
            f"the digest recorded at registration is {shown}"
        )


class RegistryFollower:
    """Polls ``MODEL_NAME@MODEL_ALIAS`` and publishes each new version as a snapshot.

    The MLflow server is passed explicitly to every call (client, artifact downloads), so
    constructing a follower changes no process-wide state: not os.environ, not MLflow's URIs.
    """

    def __init__(self, settings: Settings, store: ModelStore, metrics: ServingMetrics) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        uri = settings.mlflow_tracking_uri
        self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        self._refused: Refusal | None = None

    async def run(self) -> None:
        """Poll forever (cancelled at shutdown); blocking MLflow calls run in a thread."""
        while True:
            await asyncio.to_thread(self.poll_once)
            await asyncio.sleep(self._settings.model_poll_interval_seconds)

    def poll_once(self) -> None:
        """Resolve the alias once; load and swap if it points at a new version."""
        version = self._resolve()
        if version is None:
            return
        self._registry_up()
        if self._still_refused(version):
            return
        current = self._store.current
        if current is not None and current.version == str(version.version):
            return
        name = self._settings.model_name
        try:
            snapshot = self._load(version)
        except ArtifactDigestError as exc:
            self._refuse(version, str(exc))
            return
        except Exception as exc:  # keep serving the last good model
            logger.exception("loading %s version %s failed", name, version.version)
            self._fail(f"loading {name} version {version.version} failed: {exc}", True)
            return
        self._publish(snapshot)

    def _resolve(self) -> ModelVersion | None:
        """The version the alias names, or None (recorded as a failure) when there is none."""
        name, alias = self._settings.model_name, self._settings.model_alias
        try:
            return self._client.get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            if exc.error_code in _REGISTRY_ANSWERED:
                self._fail(f"alias {alias!r} of model {name!r} not found: {exc.message}", True)
            else:  # the client wraps connection errors in MlflowException too
                self._unreachable(exc.message)
        except Exception as exc:  # DNS, timeouts raised outside MLflow's wrapper
            self._unreachable(str(exc))
        return None

    def _still_refused(self, version: ModelVersion) -> bool:
        """True while the alias still names the refused version under the same recorded digest.

        A refused version is not downloaded again at every poll; moving the alias (or recording
        a new digest on the version) ends the refusal.
        """
        refused = self._refused
        recorded = (version.tags or {}).get(contract.MODEL_DIGEST_TAG)
        if refused is None or (refused.version, refused.recorded) != (
            str(version.version),
            recorded,
        ):
            self._refused = None
            return False
        self._store.registry.last_error = refused.message  # /readyz keeps saying why
        return True

    def _refuse(self, version: ModelVersion, message: str) -> None:
        current = self._store.current
        kept = "no model loaded" if current is None else f"keeping version {current.version}"
        message = f"{message}; {kept}"
        recorded = (version.tags or {}).get(contract.MODEL_DIGEST_TAG)
        self._refused = Refusal(str(version.version), recorded, message)
        self._store.registry.last_error = message
        self._store.registry.last_error_at = time.time()
        self._metrics.model_digest_mismatch.labels(str(version.version)).inc()
        logger.error("%s", message)

    def _load(self, version: ModelVersion) -> ModelSnapshot:
        run_id = version.run_id
        # The version's own artifact location, from this follower's client: MLflow resolves a
        # `models:/` URI through its process-wide registry URI, whatever server is passed.
        uri = self._client.get_model_version_download_uri(
            self._settings.model_name, str(version.version)
        )
        with tempfile.TemporaryDirectory(prefix="serving-model-") as tmp:
            server = self._settings.mlflow_tracking_uri
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=server, registry_uri=server
            )
            verify_artifact(self._settings.model_name, version, local)
            schema = InputSchema.from_signature(Model.load(local).signature)
            # The sklearn flavor (not pyfunc): the raw Pipeline, without pyfunc's per-call
            # schema enforcement, which validation.py already did once per request.
            model = mlflow.sklearn.load_model(local)
            reference = self._drift_reference(run_id, tmp) if run_id else None
        accuracy = None
        if run_id:
            metrics = self._client.get_run(run_id).data.metrics
            accuracy = metrics.get(contract.OFFLINE_ACCURACY_METRIC)
        return ModelSnapshot(
            name=self._settings.model_name,
            version=str(version.version),
            alias=self._settings.model_alias,
            model=model,
            predictor=Predictor(model),
            schema=schema,
            drift_reference=reference,
            offline_accuracy=accuracy,
            run_id=run_id or "",
        )

    def _drift_reference(self, run_id: str, tmp: str) -> DriftReference | None:
        try:
            path = self._client.download_artifacts(run_id, contract.DRIFT_REFERENCE_ARTIFACT, tmp)
        except Exception as exc:  # a model without a reference is served, without drift
            reference = contract.DRIFT_REFERENCE_ARTIFACT
            logger.warning("run %s: no %s (%s); drift off", run_id, reference, exc)
            return None
        document: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        return parse_reference(document)

    def _publish(self, snapshot: ModelSnapshot) -> None:
        previous = self._store.swap(snapshot)
        # mlflow + sklearn + pandas leave ~200k long-lived objects; every full collection would
        # walk them all (~100 ms, a p99 spike under load). Collect once now, then freeze them
        # out of the collector: later collections only look at objects made by requests.
        gc.collect()
        gc.freeze()
        m = self._metrics
        if previous is not None:
            m.model_info.remove(previous.name, previous.version, previous.alias)
        m.model_info.labels(snapshot.name, snapshot.version, snapshot.alias).set(1)
        m.model_version.set(float(snapshot.version))
        accuracy = snapshot.offline_accuracy
        m.offline_accuracy.set(math.nan if accuracy is None else accuracy)
        m.model_loads.inc()
        m.last_load_timestamp.set(snapshot.loaded_at)
        self._store.registry.last_error = None
        logger.info(
            "serving %s version %s (forest fast path: %s)",
            snapshot.name, snapshot.version, snapshot.predictor.fast,
        )  # fmt: skip

    def _registry_up(self) -> None:
        status = self._store.registry
        status.up = True
        status.last_error = None
        status.last_success_at = time.time()
        self._metrics.registry_up.set(1)

    def _unreachable(self, error: str) -> None:
        self._fail(f"MLflow at {self._settings.mlflow_tracking_uri} unreachable: {error}", False)

    def _fail(self, message: str, registry_answered: bool) -> None:
        status = self._store.registry
        status.up = registry_answered
        status.last_error = message
        status.last_error_at = time.time()
        self._metrics.registry_up.set(1 if registry_answered else 0)
        self._metrics.model_load_failures.inc()
        logger.warning("%s", message)
