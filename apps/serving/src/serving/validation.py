"""Request validation against the model signature: every error names the field at fault."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# JSON type names for messages (a client thinks in JSON, not Python).
_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "number",
    float: "number",
    type(None): "null",
}

_KIND_BY_MLFLOW_TYPE = {
    "double": ("number", "float64"),
    "float": ("number", "float32"),
    "long": ("integer", "int64"),
    "integer": ("integer", "int32"),
    "string": ("string", "object"),
    "boolean": ("boolean", "bool"),
}


class InputError(Exception):
    """A client error: HTTP status, a message naming the field, and the field path."""

    def __init__(self, status: int, message: str, field: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


class SchemaError(ValueError):
    """The model's signature cannot be served (no column names or unsupported types)."""


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


# The largest magnitudes a model takes. Numbers must fit float32 whatever the signature says:
# scikit-learn's trees compare features as float32 (a larger value becomes inf there, or is
# refused by check_array), and the forest fast path casts to float32 too. Integers must fit
# the column's own type, and floats standing for integers must be exact (below 2**53).
FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT_EXACT = 2**53
_INTEGER_RANGES = {
    dtype: (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)) for dtype in ("int32", "int64")
}


def _number_check(value: object) -> bool:
    # Python ints are unbounded and floats may be inf/nan: both must land within float32.
    if type(value) is int or type(value) is float:
        return -FLOAT32_MAX <= value <= FLOAT32_MAX  # False for nan as well
    return False


def _integer_check(dtype: str) -> Callable[[object], bool]:
    low, high = _INTEGER_RANGES[dtype]

    def check(value: object) -> bool:
        if type(value) is int:
            return low <= value <= high
        return (
            type(value) is float
            and value.is_integer()
            and abs(value) <= _FLOAT_EXACT
            and low <= value <= high
        )

    return check


def _value_check(kind: str, dtype: str) -> Callable[[object], bool]:
    if kind == "number":
        return _number_check
    if kind == "integer":
        return _integer_check(dtype)
    if kind == "string":
        return lambda value: type(value) is str
    return lambda value: type(value) is bool


@dataclass(frozen=True, slots=True)
class Column:
    """One input column of the signature."""

    name: str
    kind: str  # number | integer | string | boolean
    dtype: str  # numpy dtype used to build the model input
    required: bool
    # Whether a decoded JSON value is acceptable (type and range), built from kind and dtype.
    accepts: Callable[[object], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accepts", _value_check(self.kind, self.dtype))

    def describe(self, value: object) -> str:
        """Why ``value`` is not acceptable for this column."""
        if type(value) is float and not math.isfinite(value):
            return f"expected a finite {self.kind}, got {value}"
        if self.kind == "integer" and type(value) in (int, float):
            return f"expected an integer within {self.dtype}, got {_short(value)}"
        if self.kind == "number" and type(value) in (int, float):
            return (
                f"expected a number within the float32 range (±{FLOAT32_MAX:.4g}) that models "
                f"take, got {_short(value)}"
            )
        return f"expected {self.kind}, got {json_type(value)} {_short(value)}"


def _short(value: object) -> str:
    # Never repr a container: a decoded body may nest 1000 levels deep (RecursionError).
    if type(value) is list:
        return f"of {len(value)} items"
    if type(value) is dict:
        return f"of {len(value)} keys"
    text = repr(value[:40] if type(value) is str else value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True, slots=True)
class InputSchema:
    """The signature's columns in order, with fast lookups for validation."""

    columns: tuple[Column, ...]
    names: frozenset[str]

    @classmethod
    def from_signature(cls, signature: Any) -> InputSchema:
        """Build from an ``mlflow.models.ModelSignature``; refuse what serving cannot check."""
        if signature is None or signature.inputs is None:
            raise SchemaError("the model has no input signature; log it with signature=...")
        inputs = signature.inputs
        if inputs.is_tensor_spec() or not inputs.has_input_names():
            raise SchemaError("the model signature must name its columns (a DataFrame schema)")
        columns = []
        for spec in inputs.inputs:
            type_name = getattr(spec.type, "name", str(spec.type))
            if type_name not in _KIND_BY_MLFLOW_TYPE:
                raise SchemaError(f"column {spec.name!r} has unsupported type {type_name!r}")
            kind, dtype = _KIND_BY_MLFLOW_TYPE[type_name]
            columns.append(Column(spec.name, kind, dtype, bool(spec.required)))
        return cls(tuple(columns), frozenset(c.name for c in columns))


@dataclass(frozen=True, slots=True)
class Batch:
    """Validated rows as columns in signature order (values are plain JSON scalars)."""

    columns: dict[str, list[Any]]
    n_rows: int
    # Prediction ids, when the route hands them out (/predict); the inference log records them.
    ids: Sequence[str | None] | None = None


def check_size(n_rows: int, field: str, max_rows: int) -> None:
    """Refuse empty and oversized batches."""
    if n_rows == 0:
        raise InputError(422, f"{field}: empty batch; send at least one row", field)
    if n_rows > max_rows:
        raise InputError(
            422,
            f"{field}: {n_rows} rows exceed MAX_BATCH_ROWS={max_rows}; split the batch",
            field,
        )


def _key_error(row: Mapping[str, Any], schema: InputSchema, where: str) -> InputError:
    missing = sorted(c.name for c in schema.columns if c.required and c.name not in row)
    if missing:
        return InputError(422, f"{where}: missing feature {missing[0]!r}", f"{where}.{missing[0]}")
    extra = sorted(str(key) for key in row if key not in schema.names)
    field = f"{where}.{extra[0]}" if extra else where
    return InputError(422, f"{where}: unknown feature {extra[0]!r}", field)


def records_to_batch(records: Any, schema: InputSchema, field: str, max_rows: int) -> Batch:
    """Validate a list of ``{feature: value}`` objects (TF ``instances``, ``dataframe_records``)."""
    if type(records) is not list:
        raise InputError(
            422, f"{field}: expected an array of rows, got {json_type(records)}", field
        )
    check_size(len(records), field, max_rows)
    columns: dict[str, list[Any]] = {c.name: [] for c in schema.columns}
    names = schema.names
    for index, row in enumerate(records):
        if type(row) is not dict:
            where = f"{field}[{index}]"
            raise InputError(
                422, f"{where}: expected an object of features, got {json_type(row)}", where
            )
        if row.keys() != names:
            optional_only = row.keys() <= names
            if not optional_only or any(c.required and c.name not in row for c in schema.columns):
                raise _key_error(row, schema, f"{field}[{index}]")
        for column in schema.columns:
            value = row.get(column.name)
            if not column.accepts(value):
                _raise_value(column, value, f"{field}[{index}].{column.name}")
            columns[column.name].append(value)
    return Batch(columns, len(records))


def _raise_value(column: Column, value: object, where: str) -> None:
    if value is None and not column.required:
        return
    raise InputError(422, f"{where}: {column.describe(value)}", where)


def matrix_to_batch(
    rows: Any, names: list[str], schema: InputSchema, field: str, max_rows: int
) -> Batch:
    """Validate positional rows (``dataframe_split`` data) whose columns are ``names``."""
    if type(rows) is not list:
        raise InputError(422, f"{field}: expected an array of rows, got {json_type(rows)}", field)
    check_size(len(rows), field, max_rows)
    _check_names(names, schema, field)
    columns: dict[str, list[Any]] = {c.name: [] for c in schema.columns}
    by_name = {c.name: c for c in schema.columns}
    for index, row in enumerate(rows):
        where = f"{field}[{index}]"
        if type(row) is not list or len(row) != len(names):
            raise InputError(
                422, f"{where}: expected an array of {len(names)} values ({names})", where
            )
        for name, value in zip(names, row, strict=True):
            column = by_name[name]
            if not column.accepts(value):
                _raise_value(column, value, f"{where}.{name}")
            columns[name].append(value)
    for column in schema.columns:
        if column.name not in names:
            columns[column.name] = [None] * len(rows)
    return Batch(columns, len(rows))


def _check_names(names: list[str], schema: InputSchema, field: str) -> None:
    for name in names:
        if name not in schema.names:
            raise InputError(422, f"{field}: unknown feature {name!r}", f"{field}.{name}")
    for column in schema.columns:
        if column.required and column.name not in names:
            raise InputError(
                422, f"{field}: missing feature {column.name!r}", f"{field}.{column.name}"
            )
    if len(set(names)) != len(names):
        raise InputError(422, f"{field}: duplicate column names {names}", field)


def columns_to_batch(data: Any, schema: InputSchema, field: str, max_rows: int) -> Batch:
    """Validate ``{feature: [values...]}`` (MLflow ``inputs`` in column form)."""
    names = list(data)
    _check_names(names, schema, field)
    lengths = {len(v) if type(v) is list else -1 for v in data.values()}
    if -1 in lengths or len(lengths) != 1:
        raise InputError(
            422, f"{field}: every feature must map to an array of the same length", field
        )
    n_rows = lengths.pop()
    rows = [[data[name][i] for name in names] for i in range(n_rows)]
    return matrix_to_batch(rows, names, schema, field, max_rows)
