"""External Secrets Operator manifests: the same Secrets as the `kubernetes` provider, from a store.

Pure functions (plain dicts). Each SecretSpec becomes one `external-secrets.io/v1` ExternalSecret
whose target is the Secret the `kubernetes` provider would create: same name, namespace, type,
labels and keys, the values templated from remote keys. Workloads reference Secrets only, so
they do not change with the provider.

Remote keys: one per value (`<prefix><value-name>` with `_` as `-`, a form every cloud secret
manager accepts). The `openbao` provider writes them from one seed Secret with a PushSecret
(`seed_secret`, `push_secret`); with `external` the user stores them (`remote_keys` lists them).
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra import k8s

API_VERSION = "external-secrets.io/v1"
PUSH_API_VERSION = "external-secrets.io/v1alpha1"
STORE_KIND = "ClusterSecretStore"
# The labels every platform Secret carries, whichever provider makes it.
SECRET_LABELS = ("secret-store", "credentials")
# OpenBao's KV holds one field per key; a cloud secret manager's secret is the value itself.
OPENBAO_PROPERTY = "value"


@dataclass(frozen=True, kw_only=True)
class StoreBackend:
    """Where the ExternalSecrets read from.

    Attributes:
        store_name: the ClusterSecretStore.
        refresh_interval: how often ESO re-reads each value (a Go duration).
        key_prefix: prepended to each remote key.
        property: the field of the remote key that holds the value (None: the whole value).
        seed_namespace: where the seed Secret and its PushSecret go (`openbao`: the platform
            writes the values); None when the user stores them (`external`).
    """

    store_name: str
    refresh_interval: str
    key_prefix: str
    property: str | None = None
    seed_namespace: str | None = None


# The seed Secret (values written to the store) and its PushSecret share this name.
SEED_NAME = "platform-secret-values"


def remote_key(backend: StoreBackend, value: str) -> str:
    """Return the remote key of one value (`_` as `-`: Azure Key Vault allows no `_`)."""
    return backend.key_prefix + value.replace("_", "-")


def remote_ref(backend: StoreBackend, value: str) -> dict[str, str]:
    """Return the ExternalSecret remoteRef of one value."""
    ref = {"key": remote_key(backend, value)}
    if backend.property is not None:
        ref["property"] = backend.property
    return ref


def go_template(template: str) -> str:
    """Turn a SecretSpec template (`${name}`) into ESO's Go template (`{{ .name }}`).

    Literal `{{` is escaped so a value that contains it (JSON never does, YAML could) cannot be
    read as a template action; `$$` stays a literal `$`, as string.Template reads it.
    """
    out: list[str] = []
    pos = 0
    for match in string.Template.pattern.finditer(template):
        out.append(_literal(template[pos : match.start()]))
        named = match.group("named") or match.group("braced")
        if match.group("escaped") is not None:
            out.append("$")
        elif named:
            out.append(f"{{{{ .{named} }}}}")
        else:
            raise ValueError(f"invalid placeholder at {match.start()} in {template!r}")
        pos = match.end()
    out.append(_literal(template[pos:]))
    return "".join(out)


def _literal(text: str) -> str:
    return text.replace("{{", '{{ "{{" }}')


def external_secret(
    name: str, namespace: str, secret_type: str, data: Mapping[str, str], backend: StoreBackend
) -> dict[str, Any]:
    """Return the ExternalSecret that makes Secret namespace/name with these keys.

    The Secret is created and owned by the operator (deleted with the ExternalSecret); only the
    template's keys are written (mergePolicy Replace), exactly the keys of the SecretSpec.
    """
    used = sorted({n for template in data.values() for n in template_names(template)})
    labels = k8s.labels(*SECRET_LABELS)
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "refreshInterval": backend.refresh_interval,
            "secretStoreRef": {"kind": STORE_KIND, "name": backend.store_name},
            "target": {
                "name": name,
                "creationPolicy": "Owner",
                "template": {
                    "type": secret_type,
                    "engineVersion": "v2",
                    "mergePolicy": "Replace",
                    "metadata": {"labels": labels},
                    "data": {key: go_template(t) for key, t in sorted(data.items())},
                },
            },
            "data": [{"secretKey": n, "remoteRef": remote_ref(backend, n)} for n in used],
        },
    }


def template_names(template: str) -> set[str]:
    """Return the `${name}` placeholders used in a template."""
    return {
        named or braced
        for _, named, braced, _ in string.Template.pattern.findall(template)
        if named or braced
    }


def seed_metadata(namespace: str) -> dict[str, Any]:
    """Return the seed Secret's metadata (its data: one key per value name, set by the caller).

    It lives in the operator's namespace, where no platform pod runs and only the operator reads.
    """
    return {
        "name": SEED_NAME,
        "namespace": namespace,
        "labels": k8s.labels("secret-store", "seed"),
    }


def push_secret(namespace: str, values: list[str], backend: StoreBackend) -> dict[str, Any]:
    """Return the PushSecret that writes every seed value to its remote key in the store.

    updatePolicy Replace: the seed (Pulumi's generated values) is the source, so a rotated value
    reaches the store; deletionPolicy None: deleting the PushSecret never deletes credentials
    that running Secrets are built from.
    """
    return {
        "apiVersion": PUSH_API_VERSION,
        "kind": "PushSecret",
        "metadata": {
            "name": SEED_NAME,
            "namespace": namespace,
            "labels": k8s.labels("secret-store", "seed"),
        },
        "spec": {
            "refreshInterval": backend.refresh_interval,
            "updatePolicy": "Replace",
            "deletionPolicy": "None",
            "secretStoreRefs": [{"kind": STORE_KIND, "name": backend.store_name}],
            "selector": {"secret": {"name": SEED_NAME}},
            "data": [
                {
                    "match": {
                        "secretKey": value,
                        "remoteRef": {
                            "remoteKey": remote_key(backend, value),
                            **({"property": backend.property} if backend.property else {}),
                        },
                    }
                }
                for value in sorted(values)
            ],
        },
    }


def remote_keys(
    secrets: Sequence[tuple[str, str, Mapping[str, str]]], backend: StoreBackend
) -> dict[str, list[str]]:
    """Return remote key -> the Secrets (`namespace/name`) built from it, for docs and the CLI."""
    used: dict[str, list[str]] = {}
    for namespace, name, data in secrets:
        for value in sorted({n for t in data.values() for n in template_names(t)}):
            used.setdefault(remote_key(backend, value), []).append(f"{namespace}/{name}")
    return dict(sorted(used.items()))
