"""SecretStore: every platform credential, generated once, shared only where it is consumed.

With a StoreBackend (providers `openbao`, `external`) each Secret is an ExternalSecret's target
instead (infra/components/external_secrets.py): same name, namespace, type, labels, keys and
reader RBAC, so no workload changes with the provider.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_kubernetes as kubernetes
import pulumi_random as random

from infra import k8s
from infra.components import external_secrets
from infra.components.external_secrets import StoreBackend, template_names
from infra.components.kube import fields, manifest_args

V = TypeVar("V")
# Generated passwords are alphanumeric (they land in URIs unescaped); this length is unguessable.
PASSWORD_LENGTH = 32


@dataclass(frozen=True, kw_only=True)
class SecretSpec:
    """One Kubernetes Secret in one namespace.

    Attributes:
        name: metadata.name of the Secret.
        namespace: where it lives (the consumer's namespace: pods read Secrets only locally).
        data: key -> value template; `${password_name}` is replaced by that generated password
            (or by a config-provided secret of that name).
        readers: ServiceAccounts (in the same namespace) allowed to `get` this one Secret.
        type: the Secret type (kubernetes.io/basic-auth for CloudNativePG's initdb secret).
    """

    name: str
    namespace: str
    data: dict[str, str]
    readers: tuple[str, ...]
    type: str = "Opaque"


@dataclass(frozen=True, kw_only=True)
class SecretStoreArgs:
    """What to generate and where to put it.

    Attributes:
        passwords: name -> length of each `random.RandomPassword` to generate.
        provided: name -> secret values from stack config (e.g. an external S3 key).
        secrets: the Secrets to create from them.
    """

    passwords: dict[str, int]
    secrets: tuple[SecretSpec, ...]
    provided: dict[str, str] = field(default_factory=dict)


def _merge(into: dict[str, V], new: Mapping[str, V]) -> None:
    twice = sorted(set(into) & set(new))
    if twice:
        raise ValueError(f"SecretStoreArgs: {twice} defined by two owners")
    into.update(new)


def combine(*parts: SecretStoreArgs) -> SecretStoreArgs:
    """Merge what each owner asks of the store; raise ValueError if two define one value."""
    passwords: dict[str, int] = {}
    provided: dict[str, str] = {}
    for part in parts:
        _merge(passwords, part.passwords)
        _merge(provided, part.provided)
    secrets = tuple(spec for part in parts for spec in part.secrets)
    return SecretStoreArgs(passwords=passwords, provided=provided, secrets=secrets)


def validate_args(args: SecretStoreArgs) -> None:
    """Raise ValueError if a template refers to an unknown value or a name is invalid."""
    known = set(args.passwords) | set(args.provided)
    overlap = set(args.passwords) & set(args.provided)
    if overlap:
        raise ValueError(f"SecretStoreArgs: {sorted(overlap)} are both generated and provided")
    seen: set[tuple[str, str]] = set()
    for spec in args.secrets:
        k8s.name(spec.name)
        if (spec.namespace, spec.name) in seen:
            raise ValueError(f"SecretStoreArgs.secrets: {spec.namespace}/{spec.name} twice")
        seen.add((spec.namespace, spec.name))
        if not spec.readers:
            raise ValueError(f"SecretStoreArgs.secrets: {spec.name} has no readers")
        for key, template in spec.data.items():
            unknown = template_names(template) - known
            if unknown:
                raise ValueError(f"secret {spec.name} key {key}: unknown values {sorted(unknown)}")


def uses_values(spec: SecretSpec) -> bool:
    """Whether any key of the Secret is built from a generated or provided value."""
    return any(template_names(t) for t in spec.data.values())


def reader_role(secret: str, namespace: str) -> dict[str, Any]:
    """Return a Role that may `get` exactly one named Secret (resourceNames)."""
    return {
        "metadata": {"name": k8s.name("read", secret), "namespace": namespace},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": [secret],
                "verbs": ["get"],
            }
        ],
    }


def reader_binding(secret: str, namespace: str, readers: tuple[str, ...]) -> dict[str, Any]:
    """Return the RoleBinding of reader_role to the consuming ServiceAccounts only."""
    role = k8s.name("read", secret)
    return {
        "metadata": {"name": role, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [
            {"kind": "ServiceAccount", "name": sa, "namespace": namespace} for sa in sorted(readers)
        ],
    }


class SecretStore(pulumi.ComponentResource):
    """Generated credentials as Kubernetes Secrets, readable only by their consumers.

    `secret_names` lists every Secret as `namespace/name` (the stack exports it; values stay in
    the cluster). `secrets` holds what makes each one: the Secret itself, or its ExternalSecret.
    """

    secret_names: list[str]
    secrets: dict[tuple[str, str], pulumi.CustomResource]

    def __init__(
        self,
        name: str,
        args: SecretStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        backend: StoreBackend | None = None,
    ) -> None:
        """Generate each password once, then create each Secret (or ExternalSecret) and its RBAC.

        Args:
            name: the component's name.
            args: the values and Secrets every owner asks for.
            opts: resource options (depends_on: the namespaces, and the store with a backend).
            backend: None for Kubernetes Secrets; else the store the ExternalSecrets read. With
                a seed namespace (`openbao`) the values are generated here and pushed to the store;
                without (`external`) the user stores them and nothing is generated.
        """
        validate_args(args)
        super().__init__("mlops:index:SecretStore", name, None, opts)
        values = {} if backend and not backend.seed_namespace else self._values(name, args)
        self.secrets = {}
        for spec in args.secrets:
            key = (spec.namespace, spec.name)
            # A Secret that holds no value (Alertmanager's config without a receiver) stays a
            # plain Secret: an ExternalSecret must read at least one remote key.
            if backend is None or not uses_values(spec):
                self.secrets[key] = self._secret(name, spec, values)
            else:
                self.secrets[key] = self._external_secret(name, spec, backend)
            self._reader(name, spec)
        if backend is not None and backend.seed_namespace:
            self._seed(name, backend, backend.seed_namespace, values)
        self.secret_names = sorted(f"{ns}/{secret}" for ns, secret in self.secrets)
        self.register_outputs({"secretNames": self.secret_names})

    def _values(self, name: str, args: SecretStoreArgs) -> dict[str, pulumi.Output[str]]:
        child = pulumi.ResourceOptions(parent=self)
        values: dict[str, pulumi.Output[str]] = {
            key: pulumi.Output.secret(value) for key, value in sorted(args.provided.items())
        }
        for pw_name, length in sorted(args.passwords.items()):
            # No special characters: these land in URIs (postgres) and S3 keys unescaped.
            password = random.RandomPassword(
                f"{name}-{pw_name.replace('_', '-')}", length=length, special=False, opts=child
            )
            values[pw_name] = password.result
        return values

    def _seed(
        self,
        name: str,
        backend: StoreBackend,
        namespace: str,
        values: dict[str, pulumi.Output[str]],
    ) -> None:
        """One Secret with every value, and the PushSecret that writes them to the store."""
        child = pulumi.ResourceOptions(parent=self)
        seed = kubernetes.core.v1.Secret(
            f"{name}-seed",
            opts=child,
            **fields(
                metadata=external_secrets.seed_metadata(namespace),
                type="Opaque",
                string_data=pulumi.Output.secret(pulumi.Output.all(**values)),
            ),
        )
        push = external_secrets.push_secret(namespace, sorted(values), backend)
        kubernetes.apiextensions.CustomResource(
            f"{name}-push",
            api_version=push["apiVersion"],
            kind=push["kind"],
            metadata=push["metadata"],
            spec=push["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[seed]),
        )

    def _external_secret(
        self, name: str, spec: SecretSpec, backend: StoreBackend
    ) -> kubernetes.apiextensions.CustomResource:
        manifest = external_secrets.external_secret(
            spec.name, spec.namespace, spec.type, spec.data, backend
        )
        return kubernetes.apiextensions.CustomResource(
            f"{name}-{spec.namespace}-{spec.name}",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _reader(self, name: str, spec: SecretSpec) -> None:
        """The Role that may read this one Secret, bound to its consumers only."""
        child = pulumi.ResourceOptions(parent=self)
        base = f"{name}-{spec.namespace}-{spec.name}"
        kubernetes.rbac.v1.Role(
            f"{base}-reader", opts=child, **manifest_args(reader_role(spec.name, spec.namespace))
        )
        kubernetes.rbac.v1.RoleBinding(
            f"{base}-reader-binding",
            opts=child,
            **manifest_args(reader_binding(spec.name, spec.namespace, spec.readers)),
        )

    def _secret(
        self, name: str, spec: SecretSpec, values: dict[str, pulumi.Output[str]]
    ) -> kubernetes.core.v1.Secret:
        used = sorted({n for t in spec.data.values() for n in template_names(t)})
        rendered = pulumi.Output.all(*[values[n] for n in used]).apply(
            lambda vals: {
                key: string.Template(t).substitute(dict(zip(used, vals, strict=True)))
                for key, t in spec.data.items()
            }
        )
        child = pulumi.ResourceOptions(parent=self)
        base = f"{name}-{spec.namespace}-{spec.name}"
        return kubernetes.core.v1.Secret(
            base,
            opts=child,
            **fields(
                metadata={
                    "name": spec.name,
                    "namespace": spec.namespace,
                    "labels": k8s.labels(*external_secrets.SECRET_LABELS),
                },
                type=spec.type,
                string_data=pulumi.Output.secret(rendered),
            ),
        )
