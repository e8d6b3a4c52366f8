"""Content-addressed dataset snapshots: `s3://<bucket>/<name>/<sha256>.parquet`."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from training import storage

# MLflow caps a dataset digest at 36 characters, so the logged digest is a 128-bit prefix
# of the sha256; the full hash is in the snapshot URI and the `data_sha256` tags.
MLFLOW_DIGEST_CHARS = 32


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Where a dataset snapshot lives and the hash that names it."""

    uri: str
    sha256: str
    rows: int
    uploaded: bool

    @property
    def digest(self) -> str:
        """The digest logged to MLflow (the sha256 prefix that fits MLflow's 36-character limit)."""
        return self.sha256[:MLFLOW_DIGEST_CHARS]


def canonical_parquet(df: pd.DataFrame) -> bytes:
    """Serialize a frame to Parquet deterministically: same data, same bytes, same digest.

    The index is dropped and every writer option that could vary is fixed, so the digest
    depends only on column names, dtypes, values and row order (and the pyarrow version).
    """
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata(None)  # pandas metadata carries non-semantic detail
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="snappy",
        use_dictionary=True,
        write_statistics=True,
        row_group_size=1_000_000,
        store_schema=False,
    )
    return sink.getvalue()


def sha256_of(df: pd.DataFrame) -> str:
    """The content address of a frame: sha256 hex of its canonical Parquet bytes."""
    return hashlib.sha256(canonical_parquet(df)).hexdigest()


def slug(name: str) -> str:
    """A safe S3 key prefix from a dataset name (`synthetic:rows=10` -> `synthetic-rows-10`)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1]).strip("-.")
    return cleaned[:100] or "dataset"


def snapshot(df: pd.DataFrame, name: str, *, bucket: str, s3: storage.S3Config) -> Snapshot:
    """Upload a frame as `s3://<bucket>/<name>/<sha256>.parquet` unless already there."""
    body = canonical_parquet(df)
    digest = hashlib.sha256(body).hexdigest()
    target_bucket = bucket
    key = f"{slug(name)}/{digest}.parquet"
    uploaded = storage.put_if_absent(target_bucket, key, body, s3)
    return Snapshot(
        uri=f"s3://{target_bucket}/{key}", sha256=digest, rows=len(df), uploaded=uploaded
    )
