"""Field-level differences between two JSON-like documents, with YAML-style paths.

Written here rather than taken from a library (deepdiff was the candidate): the report needs
lists of named items keyed by `name` (`containers[serving].env[MODEL_ALIAS].value`), paths a
reviewer can paste next to a manifest, and secret values masked at the node where they sit.
deepdiff would need the lists rewritten into mappings before and its `root['a']['b']` paths
parsed back after, which is more code than this walk and one more runtime dependency.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Change = Literal["added", "removed", "changed"]
# A plain key is written bare in a path; any other key (labels such as app.kubernetes.io/name)
# is quoted so the path stays unambiguous.
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_MISSING: Any = object()


@dataclass(frozen=True)
class FieldChange:
    """One leaf (or whole subtree) that differs; old/new are None when hidden or absent."""

    path: str
    change: Change
    old: Any = None
    new: Any = None
    hidden: bool = False


# Decides, from the path's segments, whether values under it must never be shown.
IsHidden = Callable[[tuple[str, ...]], bool]


def _never(_segments: tuple[str, ...]) -> bool:
    return False


def key_segment(key: str) -> str:
    """Return a mapping key as a path segment: `.name` or `["app.kubernetes.io/name"]`."""
    return f".{key}" if _BARE_KEY.match(key) else f'["{key}"]'


def join_path(segments: Sequence[str]) -> str:
    """Join path segments (`.a`, `[b]`) into `a[b]`, without a leading dot."""
    return "".join(segments).removeprefix(".")


def _names(items: Sequence[Any]) -> list[str] | None:
    """Return each item's `name` when every item is a mapping with a unique string name."""
    names = [item.get("name") if isinstance(item, Mapping) else None for item in items]
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return names  # type: ignore[return-value]  # checked to be all str just above


def _keyed(items: Sequence[Any]) -> dict[str, Any] | None:
    names = _names(items)
    return None if names is None else dict(zip(names, items, strict=True))


def diff(old: Any, new: Any, is_hidden: IsHidden = _never) -> list[FieldChange]:
    """Return every difference between old and new, in document order.

    Mappings are compared key by key, lists of items that all carry a unique `name` by that
    name, other lists of equal length item by item; a list of scalars, or an unnamed list whose
    length changed, is reported as one change of the whole list. `is_hidden` gets the path's
    segments (`.spec`, `[serving]`, ...) and masks the values of every change under it.
    """
    changes: list[FieldChange] = []
    _walk(old, new, (), is_hidden, changes)
    return changes


def _walk(
    old: Any, new: Any, at: tuple[str, ...], is_hidden: IsHidden, out: list[FieldChange]
) -> None:
    if old == new:
        return
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        _walk_mappings(old, new, at, is_hidden, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            _walk_mappings(old_keyed, new_keyed, at, is_hidden, out, named=True)
            return
        if len(old) == len(new) and any(isinstance(v, Mapping | list) for v in old + new):
            for index, (o, n) in enumerate(zip(old, new, strict=True)):
                _walk(o, n, (*at, f"[{index}]"), is_hidden, out)
            return
    _record(at, "changed", old, new, is_hidden, out)


def _walk_mappings(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    at: tuple[str, ...],
    is_hidden: IsHidden,
    out: list[FieldChange],
    *,
    named: bool = False,
) -> None:
    # Old keys first in their order, then keys only new has: stable, and close to the YAML.
    for key in [*old, *(k for k in new if k not in old)]:
        segment = f"[{key}]" if named else key_segment(str(key))
        o, n = old.get(key, _MISSING), new.get(key, _MISSING)
        if o is _MISSING:
            _record((*at, segment), "added", None, n, is_hidden, out)
        elif n is _MISSING:
            _record((*at, segment), "removed", o, None, is_hidden, out)
        else:
            _walk(o, n, (*at, segment), is_hidden, out)


def _record(
    at: tuple[str, ...],
    change: Change,
    old: Any,
    new: Any,
    is_hidden: IsHidden,
    out: list[FieldChange],
) -> None:
    path = join_path(at)
    if is_hidden(at):
        out.append(FieldChange(path, change, hidden=True))
    else:
        out.append(FieldChange(path, change, old, new))
