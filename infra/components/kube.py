"""Glue between the pure spec builders (plain dicts) and the typed pulumi_kubernetes classes."""

from __future__ import annotations

import re
from typing import Any

from infra import k8s


def fields(**kwargs: Any) -> dict[str, Any]:
    """Return resource arguments built as plain Kubernetes dicts, for `Resource(name, **...)`.

    The SDK's TypedDict arguments accept these camelCase dicts at runtime; building specs as
    plain data keeps them testable without the engine, and this one helper keeps mypy strict.
    """
    return kwargs


def manifest_args(manifest: dict[str, Any]) -> dict[str, Any]:
    """Turn a Kubernetes-shaped dict (camelCase top-level keys) into SDK keyword arguments.

    Only the top level needs snake_case (`roleRef` -> `role_ref`); nested dicts stay camelCase.
    apiVersion and kind are dropped: the SDK class fixes them. metadata.name goes through
    k8s.name, so every object built this way has a valid, explicit name.
    """
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise ValueError(f"manifest needs an explicit metadata.name: {manifest!r:.200}")
    k8s.name(metadata["name"])
    result: dict[str, Any] = {}
    for key, value in manifest.items():
        if key in ("apiVersion", "kind"):
            continue
        result[re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()] = value
    return result
