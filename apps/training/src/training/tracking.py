"""MLflow I/O: the run (params, metrics, plots, dataset, reference), the model, the version."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import skops.io
from mlflow.data.pandas_dataset import from_pandas
from mlflow.models import infer_signature

from training import health, plots, reference
from training.data import FEATURES, TARGET
from training.errors import TrainingError
from training.model import TrainParams, TrainResult
from training.snapshot import Snapshot, slug

# Client-side defaults that make an unreachable server fail in seconds (MLflow's own defaults
# retry 7 times with exponential backoff and wait up to 120 s per request). Users override
# them by setting the variables.
FAIL_FAST_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
MODEL_ARTIFACT = "model"
REFERENCE_ARTIFACT = "drift/reference.json"


@dataclass(frozen=True, kw_only=True)
class RegisteredVersion:
    """A registered model version and the run that produced it."""

    name: str
    version: str
    run_id: str


def connect() -> str:
    """Apply fail-fast client defaults, check the server answers, and point MLflow at it."""
    for key, value in FAIL_FAST_DEFAULTS.items():
        os.environ.setdefault(key, value)
    uri = health.check_mlflow()
    mlflow.set_tracking_uri(uri)
    return uri


def git_commit() -> str:
    """The code version: GIT_COMMIT if set (images bake it in), else `git rev-parse HEAD`."""
    if commit := os.environ.get("GIT_COMMIT", "").strip():
        return commit
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


def log_and_register(
    result: TrainResult,
    *,
    dataset: pd.DataFrame,
    snap: Snapshot,
    data_name: str,
    params: TrainParams,
    model_name: str,
    experiment: str,
    progress: Any = print,
) -> RegisteredVersion:
    """Log one training run and register its model; registration is the last step.

    A version therefore only exists once its metrics, dataset input, plots and drift
    reference are all in place.
    """
    mlflow.set_experiment(experiment)
    commit = git_commit()
    lineage = {
        "git_commit": commit,
        "data_sha256": snap.sha256,
        "data_uri": snap.uri,
        "data_source": data_name,
    }
    # MLflow's notices and warnings go to stdout with the progress lines: stderr is kept for
    # the one error line a failure prints.
    with (
        contextlib.redirect_stderr(sys.stdout),
        _quiet_mlflow_hints(),
        mlflow.start_run(run_name=f"train-{snap.sha256[:8]}") as run,
    ):
        mlflow.set_tags(lineage)
        mlflow.log_params({**asdict(params), "data_rows": len(dataset), "data_source": data_name})
        source = from_pandas(
            dataset, source=snap.uri, name=slug(data_name), targets=TARGET, digest=snap.digest
        )
        mlflow.log_input(source, context="training")
        ev = result.evaluation
        mlflow.log_metrics(
            {
                **ev.as_test_metrics(),
                "test_latency_ms_per_row": ev.latency_ms_per_row,
                "train_rows": float(len(result.train_frame)),
                "test_rows": float(ev.rows),
            }
        )
        _log_figures(result)
        mlflow.log_dict(reference.build(result.train_frame), REFERENCE_ARTIFACT)
        progress("logged params, metrics, dataset input, plots and drift/reference.json")
        x = result.train_frame[list(FEATURES)]
        signature = infer_signature(x.head(100), result.pipeline.predict(x.head(100)))
        info = mlflow.sklearn.log_model(
            result.pipeline,
            name=MODEL_ARTIFACT,
            signature=signature,
            input_example=x.head(3),
            pip_requirements=pip_requirements(),
            skops_trusted_types=trusted_types(result.pipeline),
        )
        version = mlflow.register_model(info.model_uri, model_name, tags=lineage)
        return RegisteredVersion(
            name=model_name, version=str(version.version), run_id=run.info.run_id
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


def _log_figures(result: TrainResult) -> None:
    for fig, path in (
        (plots.confusion_matrix_figure(result.evaluation.confusion), "plots/confusion_matrix.png"),
        (
            plots.feature_importance_figure(result.feature_importances),
            "plots/feature_importance.png",
        ),
    ):
        mlflow.log_figure(fig, path)
        plots.close(fig)


# Loading a skops file runs only the types it is told to trust; trust is decided here, from
# this allow-list, not read from the model's own MLmodel file (which whoever wrote it controls).
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def load_pipeline(name: str, version: str) -> Any:
    """Download a registered version and load its sklearn pipeline with skops."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="training-model-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=tmp
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
