"""MLflow I/O: the run (params, metrics, plots, dataset, reference), the model, the version."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io
from mlflow.data.pandas_dataset import from_pandas
from mlflow.entities import DatasetInput, InputTag, Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from mlops_contract import registry as contract

from training import plots, reference
from training.data import FEATURES, TARGET
from training.errors import TrainingError
from training.model import TrainParams, TrainResult
from training.snapshot import Snapshot, slug

MODEL_ARTIFACT = "model"


@dataclass(frozen=True, kw_only=True)
class RegisteredVersion:
    """A registered model version and the run that produced it."""

    name: str
    version: str
    run_id: str


def client(uri: str) -> MlflowClient:
    """A client bound to one MLflow server for tracking and registry alike (no global URI)."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def git_commit(configured: str | None) -> str:
    """The code version: GIT_COMMIT if set (images bake it in), else `git rev-parse HEAD`."""
    if configured and configured.strip():
        return configured.strip()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH is the point
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def pip_requirements() -> list[str]:
    """Explicit pins: skips MLflow's slow requirement inference (~5.7 s -> ~1.4 s per model)."""
    import pandas
    import sklearn

    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"skops=={skops.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pandas.__version__}",
    ]


def _experiment_id(mlflow_client: MlflowClient, name: str) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    try:
        return str(mlflow_client.create_experiment(name))
    except MlflowException as exc:  # created by a concurrent job in between
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    again = mlflow_client.get_experiment_by_name(name)
    if again is None:
        raise TrainingError(f"MLflow experiment {name!r} could not be created or found")
    return str(again.experiment_id)


def _ensure_registered_model(mlflow_client: MlflowClient, name: str) -> None:
    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise


def log_and_register(
    mlflow_client: MlflowClient,
    result: TrainResult,
    *,
    dataset: pd.DataFrame,
    snap: Snapshot,
    data_name: str,
    params: TrainParams,
    model_name: str,
    experiment: str,
    commit: str,
    progress: Any = print,
) -> RegisteredVersion:
    """Log one training run and register its model; registration is the last step.

    A version therefore only exists once its metrics, dataset input, plots and drift
    reference are all in place. Everything goes through mlflow_client, so the server is an
    argument, never MLflow's process-wide tracking URI.
    """
    lineage = {
        "git_commit": commit,
        "data_sha256": snap.sha256,
        "data_uri": snap.uri,
        "data_source": data_name,
    }
    run = mlflow_client.create_run(
        _experiment_id(mlflow_client, experiment),
        run_name=f"train-{snap.sha256[:8]}",
        tags=lineage,
    )
    run_id = run.info.run_id
    status = "FAILED"
    # MLflow's notices and warnings go to stdout with the progress lines: stderr is kept for
    # the one error line a failure prints.
    try:
        with contextlib.redirect_stderr(sys.stdout), _quiet_mlflow_hints():
            _log_run(mlflow_client, run_id, result, dataset, snap, data_name, params)
            progress("logged params, metrics, dataset input, plots and drift/reference.json")
            with tempfile.TemporaryDirectory(prefix="training-model-") as tmp:
                model_dir = Path(tmp) / MODEL_ARTIFACT
                _save_model(result, model_dir)
                # Digest of exactly the files uploaded: serving refuses the version if what it
                # downloads later differs (docs/serving.md).
                digest = contract.model_digest(model_dir)
                mlflow_client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT)
            _ensure_registered_model(mlflow_client, model_name)
            # The tag is set in the same call that creates the version: no version exists
            # without its digest.
            version = mlflow_client.create_model_version(
                model_name,
                source=f"{run.info.artifact_uri}/{MODEL_ARTIFACT}",
                run_id=run_id,
                tags={**lineage, contract.MODEL_DIGEST_TAG: digest},
            )
        status = "FINISHED"
    finally:
        mlflow_client.set_terminated(run_id, status)
    return RegisteredVersion(name=model_name, version=str(version.version), run_id=run_id)


def _log_run(
    mlflow_client: MlflowClient,
    run_id: str,
    result: TrainResult,
    dataset: pd.DataFrame,
    snap: Snapshot,
    data_name: str,
    params: TrainParams,
) -> None:
    """Params, the dataset input, metrics, plots and the drift reference of one run."""
    logged_params = {**asdict(params), "data_rows": len(dataset), "data_source": data_name}
    ev = result.evaluation
    metrics = {
        **ev.as_test_metrics(),
        "test_latency_ms_per_row": ev.latency_ms_per_row,
        "train_rows": float(len(result.train_frame)),
        "test_rows": float(ev.rows),
    }
    now = int(time.time() * 1000)
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric(key, float(value), now, 0) for key, value in metrics.items()],
        params=[Param(key, str(value)) for key, value in logged_params.items()],
    )
    source = from_pandas(
        dataset, source=snap.uri, name=slug(data_name), targets=TARGET, digest=snap.digest
    )
    context = InputTag(key=MLFLOW_DATASET_CONTEXT, value="training")
    mlflow_client.log_inputs(
        run_id, datasets=[DatasetInput(dataset=source._to_mlflow_entity(), tags=[context])]
    )
    _log_figures(mlflow_client, run_id, result)
    mlflow_client.log_dict(
        run_id, reference.build(result.train_frame), contract.DRIFT_REFERENCE_ARTIFACT
    )


def _save_model(result: TrainResult, path: Path) -> None:
    """The sklearn flavor in skops format, with signature, input example and pinned pip deps."""
    x = result.train_frame[list(FEATURES)]
    signature = infer_signature(x.head(100), result.pipeline.predict(x.head(100)))
    mlflow.sklearn.save_model(
        result.pipeline,
        str(path),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        signature=signature,
        input_example=x.head(3),
        pip_requirements=pip_requirements(),
        skops_trusted_types=trusted_types(result.pipeline),
    )


@contextlib.contextmanager
def _quiet_mlflow_hints() -> Iterator[None]:
    """Silence MLflow's schema hints: the integer-columns advice and a pandas deprecation.

    Our integer features never hold missing values (validated), so the hint is noise in
    the job log.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        warnings.filterwarnings("ignore", message="Operation with range is deprecated")
        yield


def trusted_types(pipeline: Any) -> list[str]:
    """The non-default types skops must be told to trust when loading this pipeline."""
    return [str(t) for t in skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))]


def _log_figures(mlflow_client: MlflowClient, run_id: str, result: TrainResult) -> None:
    for fig, path in (
        (plots.confusion_matrix_figure(result.evaluation.confusion), "plots/confusion_matrix.png"),
        (
            plots.feature_importance_figure(result.feature_importances),
            "plots/feature_importance.png",
        ),
    ):
        mlflow_client.log_figure(run_id, fig, path)
        plots.close(fig)


# Loading a skops file runs only the types it is told to trust; trust is decided here, from
# this allow-list, not read from the model's own MLmodel file (which whoever wrote it controls).
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def load_pipeline(uri: str, name: str, version: str) -> Any:
    """Download a registered version from the MLflow at uri and load its pipeline with skops."""
    with tempfile.TemporaryDirectory(prefix="training-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=tmp,
            tracking_uri=uri,
            registry_uri=uri,
        )
        path = Path(local) / "model.skops"
        if not path.is_file():
            raise TrainingError(f"model {name} version {version} has no model.skops artifact")
        untrusted = [str(t) for t in skops.io.get_untrusted_types(file=path)]
        refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
        if refused:
            raise TrainingError(
                f"model {name} version {version} contains types outside the allow-list: "
                f"{', '.join(refused)}"
            )
        return skops.io.load(path, trusted=untrusted)
