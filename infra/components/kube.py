"""Glue between the pure spec builders (plain dicts) and the typed pulumi_kubernetes classes."""

from __future__ import annotations

from typing import Any


def fields(**kwargs: Any) -> dict[str, Any]:
    """Return resource arguments built as plain Kubernetes dicts, for `Resource(name, **...)`.

    The SDK's TypedDict arguments accept these camelCase dicts at runtime; building specs as
    plain data keeps them testable without the engine, and this one helper keeps mypy strict.
    """
    return kwargs
