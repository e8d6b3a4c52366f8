"""Every Secret, ConfigMap and ServiceAccount a pod references exists, with the keys it reads.

A missing Secret or key does not fail `pulumi up`: the pod sits in CreateContainerConfigError
and the Deployment never becomes ready. Operators that generate Secrets at runtime are modelled
explicitly (what they create, in which namespace, with which keys), never skipped wholesale.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from policy.objects import (
    UNKNOWN,
    K8sObject,
    containers,
    dig,
    is_cnpg_cluster,
    kind,
    name,
    namespace,
    pod_spec,
    ref,
)

# Keys CloudNativePG writes into the `<cluster>-app` (and `-superuser`) Secret it generates.
CNPG_USER_SECRET_KEYS = frozenset(
    {
        "username",
        "user",
        "password",
        "host",
        "port",
        "dbname",
        "uri",
        "jdbc-uri",
        "pgpass",
        "fqdn-uri",
        "fqdn-jdbc-uri",
    }
)
CNPG_CERT_SECRET_KEYS = frozenset({"ca.crt", "tls.crt", "tls.key"})


@dataclass
class Inventory:
    """What exists per namespace: Secret and ConfigMap keys (None = any key) and ServiceAccounts."""

    secrets: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict)
    configmaps: dict[tuple[str, str], frozenset[str] | None] = field(default_factory=dict)
    service_accounts: set[tuple[str, str]] = field(default_factory=set)
    generated_by: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reference:
    """One reference from a pod template to a Secret/ConfigMap (optionally a key)."""

    target_kind: str  # "Secret" | "ConfigMap" | "ServiceAccount"
    target_name: str
    key: str | None
    path: str
    optional: bool


def build_inventory(objects: Iterable[K8sObject]) -> Inventory:
    """Index every rendered Secret/ConfigMap/ServiceAccount plus operator-generated Secrets."""
    inv = Inventory()
    for obj in objects:
        ns, obj_kind, obj_name = namespace(obj), kind(obj), name(obj)
        if obj_kind == "Secret":
            inv.secrets[(ns, obj_name)] = _keys(obj, "data", "stringData")
        elif obj_kind == "ConfigMap":
            inv.configmaps[(ns, obj_name)] = _keys(obj, "data", "binaryData")
        elif obj_kind == "ServiceAccount":
            inv.service_accounts.add((ns, obj_name))
        else:
            for secret_name, keys in generated_secrets(obj).items():
                inv.secrets[(ns, secret_name)] = keys
                inv.generated_by[(ns, secret_name)] = ref(obj)
    return inv


def generated_secrets(obj: K8sObject) -> dict[str, frozenset[str] | None]:
    """Secrets an operator creates from this custom resource at runtime (name -> keys)."""
    obj_name = name(obj)
    if is_cnpg_cluster(obj):
        # The operator writes `<cluster>-app` unless initdb names an existing Secret to use.
        out: dict[str, frozenset[str] | None] = {
            f"{obj_name}-ca": CNPG_CERT_SECRET_KEYS,
            f"{obj_name}-server": CNPG_CERT_SECRET_KEYS,
            f"{obj_name}-replication": CNPG_CERT_SECRET_KEYS,
        }
        if not dig(obj, "spec", "bootstrap", "initdb", "secret", "name"):
            out[f"{obj_name}-app"] = CNPG_USER_SECRET_KEYS
        if dig(obj, "spec", "enableSuperuserAccess") is True and not dig(
            obj, "spec", "superuserSecret", "name"
        ):
            out[f"{obj_name}-superuser"] = CNPG_USER_SECRET_KEYS
        return out
    if (
        str(obj.get("apiVersion", "")).startswith("external-secrets.io/")
        and kind(obj) == "ExternalSecret"
    ):
        target = dig(obj, "spec", "target", "name") or obj_name
        if dig(obj, "spec", "dataFrom"):
            return {str(target): None}  # keys come from the remote store: unknowable here
        keys = {str(item.get("secretKey")) for item in dig(obj, "spec", "data") or []}
        keys |= set(dig(obj, "spec", "target", "template", "data") or {})
        return {str(target): frozenset(keys)}
    return {}


def pod_references(spec: dict[str, Any], path: str) -> Iterator[Reference]:
    """Every Secret/ConfigMap/ServiceAccount reference in a pod spec."""
    for index, item in enumerate(spec.get("imagePullSecrets") or []):
        yield Reference(
            "Secret", str(item.get("name")), None, f"{path}.imagePullSecrets[{index}]", False
        )
    account = spec.get("serviceAccountName")
    if account and account != "default":
        yield Reference("ServiceAccount", str(account), None, f"{path}.serviceAccountName", False)
    for index, volume in enumerate(spec.get("volumes") or []):
        yield from _volume_references(volume, f"{path}.volumes[{index}]")
    for container in containers(spec, path):
        yield from _container_references(container.spec, container.path)


def _container_references(spec: dict[str, Any], path: str) -> Iterator[Reference]:
    """env[].valueFrom and envFrom[] references of one container."""
    for index, entry in enumerate(spec.get("env") or []):
        for source, target_kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            sel = dig(entry, "valueFrom", source)
            if isinstance(sel, dict):
                yield Reference(
                    target_kind,
                    str(sel.get("name")),
                    str(sel.get("key")),
                    f"{path}.env[{index}].valueFrom.{source}",
                    sel.get("optional") is True,
                )
    for index, entry in enumerate(spec.get("envFrom") or []):
        for source, target_kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
            sel = entry.get(source)
            if isinstance(sel, dict):
                yield Reference(
                    target_kind,
                    str(sel.get("name")),
                    None,
                    f"{path}.envFrom[{index}].{source}",
                    sel.get("optional") is True,
                )


def _volume_references(volume: dict[str, Any], path: str) -> Iterator[Reference]:
    """Secret/ConfigMap volumes and projected sources, with their item keys."""
    sources = [(volume, path)]
    for index, source in enumerate(dig(volume, "projected", "sources") or []):
        sources.append((source, f"{path}.projected.sources[{index}]"))
    for holder, where in sources:
        for field_name, name_key, target_kind in (
            ("secret", "secretName", "Secret"),
            ("secret", "name", "Secret"),
            ("configMap", "name", "ConfigMap"),
        ):
            sel = holder.get(field_name)
            if not isinstance(sel, dict) or name_key not in sel:
                continue
            optional = sel.get("optional") is True
            target = str(sel[name_key])
            items = sel.get("items") or []
            if not items:
                yield Reference(target_kind, target, None, f"{where}.{field_name}", optional)
            for i, item in enumerate(items):
                key = str(item.get("key"))
                yield Reference(
                    target_kind, target, key, f"{where}.{field_name}.items[{i}]", optional
                )


def cluster_references(obj: K8sObject) -> Iterator[Reference]:
    """Secrets and ConfigMaps a CloudNativePG Cluster reads (its pods wait until they exist)."""
    if not is_cnpg_cluster(obj):
        return
    for path in (("bootstrap", "initdb", "secret"), ("superuserSecret",)):
        secret = dig(obj, "spec", *path, "name")
        if secret:
            # CloudNativePG reads the role's credentials from these two keys.
            for key in ("username", "password"):
                yield Reference("Secret", str(secret), key, "spec." + ".".join(path), False)
    for field_name, target_kind in (
        ("customQueriesConfigMap", "ConfigMap"),
        ("customQueriesSecret", "Secret"),
    ):
        for index, sel in enumerate(dig(obj, "spec", "monitoring", field_name) or []):
            where = f"spec.monitoring.{field_name}[{index}]"
            yield Reference(target_kind, str(sel.get("name")), str(sel.get("key")), where, False)
    for index, item in enumerate(dig(obj, "spec", "imagePullSecrets") or []):
        where = f"spec.imagePullSecrets[{index}]"
        yield Reference("Secret", str(item.get("name")), None, where, False)


def check_references(objects: list[K8sObject]) -> list[str]:
    """Violations: a pod or Cluster reads a Secret/ConfigMap/key/account its namespace lacks."""
    inv = build_inventory(objects)
    out: list[str] = []
    for obj in objects:
        found = pod_spec(obj)
        references = pod_references(*found) if found else cluster_references(obj)
        for reference in references:
            if not reference.optional:
                out += _resolve(inv, namespace(obj), obj, reference)
    return out


def _resolve(inv: Inventory, ns: str, obj: K8sObject, reference: Reference) -> list[str]:
    """Problems with one reference, as violation messages."""
    where = f"{ref(obj)}: {reference.path}"
    if UNKNOWN in (reference.target_name, reference.key):
        return []  # preview: the name is computed during the update
    if reference.target_kind == "ServiceAccount":
        if (ns, reference.target_name) in inv.service_accounts:
            return []
        return [
            f"{where} names ServiceAccount {reference.target_name!r}, which is not rendered in "
            f"namespace {ns!r}; create it there or fix the name"
        ]
    table = inv.secrets if reference.target_kind == "Secret" else inv.configmaps
    if (ns, reference.target_name) not in table:
        return [
            f"{where} references {reference.target_kind} {reference.target_name!r}, which does "
            f"not exist in namespace {ns!r}; create it in that namespace or fix the name"
        ]
    keys = table[(ns, reference.target_name)]
    if reference.key is None or keys is None or reference.key in keys:
        return []
    origin = inv.generated_by.get((ns, reference.target_name), "the rendered object")
    return [
        f"{where} reads key {reference.key!r} of {reference.target_kind} "
        f"{reference.target_name!r}, which {origin} does not provide (keys: {sorted(keys)}); "
        "fix the key or add it"
    ]


def _keys(obj: K8sObject, *sections: str) -> frozenset[str]:
    """Union of the keys of the given data sections."""
    return frozenset(key for section in sections for key in (obj.get(section) or {}))
