"""The rows of the config reference, read from the config models (infra/config_reference.py).

A row per field: key path in camelCase, type in words, default, the value each stack file sets,
the field's description. Types are read generically (nested models, Literals, enums, lists,
dicts, optional values, secrets), so a new field needs only its description.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from pydantic.fields import FieldInfo

from infra.config import PROJECT, SecureValue, TypeLabel

STACKS_DIR = Path(__file__).resolve().parent.parent / "stacks"
# A key a stack file does not set (its default applies).
NOT_SET = "—"
_ABSENT: Any = object()
_STACK_ORDER = {"dev": 0, "stage": 1, "prod": 2}


class ConfigReferenceError(ValueError):
    """The reference cannot be generated (a field without description, no markers)."""


@dataclass(frozen=True)
class Row:
    """One key of the reference."""

    key: str
    type: str
    default: str
    values: tuple[str, ...]
    description: str


def stack_values(stacks_dir: Path = STACKS_DIR) -> dict[str, dict[str, Any]]:
    """Return each stack's project keys (without the prefix), dev, stage, prod first."""
    found = {}
    for path in stacks_dir.glob("Pulumi.*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        config = document.get("config") or {}
        prefix = f"{PROJECT}:"
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        found[name] = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}
    return dict(sorted(found.items(), key=lambda kv: (_STACK_ORDER.get(kv[0], 3), kv[0])))


def _unwrap(tp: Any, metadata: Sequence[Any] = ()) -> tuple[Any, list[Any]]:
    """Return (type, metadata) with Annotated layers and Field(...) metadata flattened."""
    extra = list(metadata)
    while get_origin(tp) is Annotated:
        tp, *more = get_args(tp)
        extra = [*more, *extra]
    flat = []
    for item in extra:
        flat.extend(item.metadata if isinstance(item, FieldInfo) else [item])
    return tp, flat


def _non_none(tp: Any) -> list[Any]:
    if get_origin(tp) in (Union, types.UnionType):
        return [a for a in get_args(tp) if a is not type(None)]
    return [tp]


def reference_model(tp: Any) -> type[BaseModel] | None:
    """Return the model a field holds (also when optional), or None for a plain value."""
    tp, _ = _unwrap(tp)
    models = [a for a in _non_none(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if len(models) == 1 else None


def _section(tp: Any) -> type[BaseModel] | None:
    """The nested model whose keys get their own rows (not a value type such as Resources)."""
    model = reference_model(tp)
    return model if model is not None and not getattr(model, "reference_type", None) else None


_SCALARS = {bool: "bool", int: "int", float: "number", str: "string"}


def type_text(tp: Any, metadata: Sequence[Any] = ()) -> str:
    """Return a field's type in words for a table cell: choices, list of X, **secret**, ..."""
    tp, meta = _unwrap(tp, metadata)
    options = _non_none(tp)
    if len(options) > 1:
        return " \\| ".join(type_text(o) for o in options)
    tp, meta = _unwrap(options[0], meta)
    labels = [m.text for m in meta if isinstance(m, TypeLabel)]
    origin = get_origin(tp)
    if origin is Literal:
        text = " \\| ".join(f"`{a}`" for a in get_args(tp))
    elif isinstance(tp, type) and issubclass(tp, enum.Enum):
        text = " \\| ".join(f"`{m.value}`" for m in tp)
    elif origin in (list, tuple, set, frozenset, Sequence):
        text = f"list of {type_text(get_args(tp)[0])}"
    elif origin in (dict, Mapping):
        key, value = get_args(tp)
        text = f"mapping of {type_text(key)} to {type_text(value)}"
    elif tp is SecureValue:
        text = "**secret**"
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        text = getattr(tp, "reference_type", None) or "mapping"
    else:
        text = labels[-1] if labels else _SCALARS.get(tp, getattr(tp, "__name__", str(tp)))
    return f"{text}{_bounds(meta)}"


def _bounds(meta: Sequence[Any]) -> str:
    low = next((m.ge for m in meta if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in meta if isinstance(m, annotated_types.Le)), None)
    if low is not None and high is not None:
        return f" {low}..{high}"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    non_empty = any(isinstance(m, annotated_types.MinLen) and m.min_length > 0 for m in meta)
    return ", non-empty" if non_empty else ""


def value_text(value: Any) -> str:
    """Return a default or stack value as the reference shows it (secrets never shown)."""
    if value is None:
        return "unset"
    if isinstance(value, SecureValue) or (isinstance(value, dict) and set(value) == {"secure"}):
        return "secret"
    if isinstance(value, BaseModel):
        value = value.model_dump(by_alias=True)
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, dict):
        return _compact(value)
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple):
        return f"`[{', '.join(str(v) for v in value)}]`"
    return f"`{value}`"


def _compact(mapping: Mapping[str, Any]) -> str:
    """A mapping in one cell: `100m/256Mi` for leaves, `requests …, limits …` above them."""
    if not mapping:
        return "`{}`"
    if all(not isinstance(v, Mapping) for v in mapping.values()):
        return f"`{'/'.join(str(v) for v in mapping.values())}`"
    return ", ".join(
        f"{k} {_compact(v) if isinstance(v, Mapping) else value_text(v)}"
        for k, v in mapping.items()
    )


def _default(info: FieldInfo, section: bool) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True, validated_data={})
    if section and value is not None:
        return "keys below"
    return value_text(value)


def _stack_value(raw: Any, section: bool) -> str:
    if raw is _ABSENT:
        return NOT_SET
    if section and isinstance(raw, Mapping) and set(raw) != {"secure"}:
        return "set"
    return value_text(raw)


def _lookup(raw: Any, key: str) -> Any:
    return raw.get(key, _ABSENT) if isinstance(raw, Mapping) else _ABSENT


def rows(model: type[BaseModel], stacks: Mapping[str, Any], prefix: str = "") -> Iterator[Row]:
    """Yield a row per field of model, then its nested models' fields, depth first.

    stacks maps each stack to the raw values at this level. Raises ConfigReferenceError for a field
    without description, naming it.
    """
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or to_camel(name)}"
        if not (info.description or "").strip():
            raise ConfigReferenceError(
                f"{key} ({model.__name__}.{name}) has no description: give it "
                f'Field(description="...") in infra/config.py'
            )
        section = _section(info.annotation)
        raw = {stack: _lookup(values, key.rsplit(".", 1)[-1]) for stack, values in stacks.items()}
        yield Row(
            key=key,
            type=type_text(info.annotation, info.metadata),
            default=_default(info, section is not None),
            values=tuple(_stack_value(v, section is not None) for v in raw.values()),
            description=info.description or "",
        )
        if section is not None:
            yield from rows(section, raw, f"{key}.")


def value_types(model: type[BaseModel]) -> list[type[BaseModel]]:
    """Return every value-type model (`reference_type` set) reachable from model, in order."""
    found: list[type[BaseModel]] = []

    def visit(m: type[BaseModel]) -> None:
        for info in m.model_fields.values():
            inner = reference_model(info.annotation)
            if inner is None or inner in found:
                continue
            if getattr(inner, "reference_type", None):
                found.append(inner)
            visit(inner)

    visit(model)
    return found
