"""The model registry layout: written by training, read by serving, the bench and the docs.

It also holds the one definition of a model artifact's digest (`model_digest`), which training
records and serving verifies.
"""

import hashlib
from pathlib import Path
from typing import Final

DEFAULT_MODEL_NAME: Final = "traffic-congestion"
# The alias serving follows by default; stacks may name another (one key for both apps).
CHAMPION_ALIAS: Final = "champion"
# Where the alias pointed before the last promotion: the rollback target.
PREVIOUS_ALIAS: Final = "previous"

# Offline metrics logged on every version's source run (on the run's holdout).
OFFLINE_ACCURACY_METRIC: Final = "test_accuracy"
OFFLINE_METRICS: Final = (OFFLINE_ACCURACY_METRIC, "test_f1", "test_roc_auc")
# Training-time distribution of every input feature; serving measures drift against it.
DRIFT_REFERENCE_ARTIFACT: Final = "drift/reference.json"
DRIFT_REFERENCE_SCHEMA: Final = 1

# The digest of a version's model artifact, recorded by training as a tag on the version when it
# registers it, and checked by serving on the files it downloaded before it loads any of them: a
# model swapped in the artifact store behind the registry's back is refused, not unpickled.
MODEL_DIGEST_TAG: Final = "model_sha256"


def model_digest(root: str | Path) -> str:
    r"""The hex sha256 of a model directory: every file's content and relative path, sorted.

    It is the sha256 of a `sha256sum`-style manifest, one `<file sha256>  <relative path>` line
    per regular file sorted by path, so it does not depend on listing order, timestamps or where
    the directory lies, and can be recomputed by hand inside the directory
    (docs/runbooks/ModelArtifactDigestMismatch.md):
    `find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum`.
    """
    base = Path(root)
    files = sorted((p.relative_to(base).as_posix(), p) for p in base.rglob("*") if p.is_file())
    if not files:
        raise ValueError(f"{base} holds no files: there is no model artifact to digest")
    manifest = hashlib.sha256()
    for relative, path in files:
        with path.open("rb") as handle:
            content = hashlib.file_digest(handle, "sha256").hexdigest()
        manifest.update(f"{content}  {relative}\n".encode())
    return manifest.hexdigest()
