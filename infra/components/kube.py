"""Glue between the pure spec builders (plain dicts) and the typed pulumi_kubernetes classes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as kubernetes

from infra import k8s
from infra.components.monitoring_targets import ScrapeTarget
from infra.versions import HelmChart


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


@dataclass(frozen=True, kw_only=True)
class ServiceFacts:
    """What a component that runs a Service publishes; neighbours read these, never restate them.

    Attributes:
        service_name: the Service's metadata.name.
        port: the Service (and container) port.
        url: the in-cluster URL of the Service.
        pods: the pods' selector labels.
        service_account: the pods' ServiceAccount.
        endpoint: namespace, pods and ports, for NetworkPolicy peers.
        scrape_target: how Prometheus scrapes the pods.
    """

    service_name: str
    port: int
    url: str
    pods: dict[str, str]
    service_account: str
    endpoint: k8s.Endpoint
    scrape_target: ScrapeTarget


def service_workload(
    name: str,
    opts: pulumi.ResourceOptions,
    *,
    namespace: str,
    service_account: str,
    manifests: tuple[dict[str, Any], dict[str, Any]],
    budget: dict[str, Any] | None,
) -> None:
    """Create one workload's ServiceAccount, Deployment, Service and (if given) its PDB.

    Args:
        name: the component's name; children are `<name>-sa`, `-deployment`, `-service`, `-pdb`.
        opts: child options (parent and depends_on).
        namespace: where the ServiceAccount goes.
        service_account: its name; it mounts no API token (the apps never call the API server).
        manifests: the Deployment and the Service.
        budget: the PodDisruptionBudget, or None when the workload is not replicated.
    """
    account = {
        "metadata": {"name": service_account, "namespace": namespace},
        "automountServiceAccountToken": False,
    }
    deployment, service = manifests
    kubernetes.core.v1.ServiceAccount(f"{name}-sa", opts=opts, **manifest_args(account))
    kubernetes.apps.v1.Deployment(f"{name}-deployment", opts=opts, **manifest_args(deployment))
    kubernetes.core.v1.Service(f"{name}-service", opts=opts, **manifest_args(service))
    if budget is not None:
        kubernetes.policy.v1.PodDisruptionBudget(f"{name}-pdb", opts=opts, **manifest_args(budget))


def pinned_release(
    name: str,
    chart: HelmChart,
    *,
    release: str,
    namespace: str,
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    skip_await: bool = False,
) -> kubernetes.helm.v3.Release:
    """A helm.v3.Release of a chart pinned in infra/versions.py, into an existing namespace.

    helm.v3.Release (not v4.Chart) because it runs the charts' hooks and waits for their
    workloads and CRDs before dependants are sent; the program creates the namespaces itself.
    skip_await: do not wait for the workloads (one that is never ready until a person acts).
    """
    # Only when asked: an explicit `skipAwait: false` would change every existing release's inputs.
    extra: dict[str, Any] = {"skip_await": True} if skip_await else {}
    return kubernetes.helm.v3.Release(
        name,
        name=release,
        chart=chart.chart,
        version=chart.version,
        repository_opts={"repo": chart.repo},
        namespace=namespace,
        create_namespace=False,
        values=values,
        opts=opts,
        **extra,
    )
