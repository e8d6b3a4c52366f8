"""No literal credential in a manifest: credentials travel only by Secret reference.

A literal in a Deployment spec is stored in plain text in the Pulumi state, in every preview
diff and in `kubectl get -o yaml` for anyone who can read Deployments; a Secret can be
restricted by RBAC to the one ServiceAccount that needs it.
"""

import re
from typing import Any

from policy.objects import K8sObject, kind, ref, workload_containers

# Name parts (split on `_`, `-`, `.`) that mark a variable or key as a credential.
CREDENTIAL_WORDS = frozenset(
    {
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PWD",
        "SECRET",
        "TOKEN",
        "KEY",
        "APIKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "PASSPHRASE",
    }
)
# A trailing part that says the value is a location or a name, not the credential itself.
REFERENCE_SUFFIXES = frozenset({"FILE", "PATH", "DIR", "NAME", "REF"})

# scheme://user:password@host; the password may not be a `$(VAR)`/`${VAR}` expansion.
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^/\s:@]+):([^/\s@]+)@")
_EXPANSION = re.compile(r"^(\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[A-Za-z_][A-Za-z0-9_]*\})$")


def looks_like_credential(var_name: str) -> bool:
    """Whether an env var or config key name says it holds a credential."""
    parts = [part for part in re.split(r"[_\-.]", var_name.upper()) if part]
    if not parts or parts[-1] in REFERENCE_SUFFIXES:
        return False
    return any(part in CREDENTIAL_WORDS for part in parts)


def userinfo_leak(value: str) -> bool:
    """Whether `value` embeds `scheme://user:password@` with a literal password."""
    return any(not _EXPANSION.match(match.group(2)) for match in _USERINFO.finditer(value))


def check_credentials(obj: K8sObject) -> list[str]:
    """Violations: credential env without secretKeyRef, credential ConfigMap keys, URI leaks."""
    if kind(obj) == "Secret":
        return []  # the one place a credential belongs
    out = _env_violations(obj)
    if kind(obj) == "ConfigMap":
        for section in ("data", "binaryData"):
            for key in obj.get(section) or {}:
                if looks_like_credential(str(key)):
                    out.append(
                        f"{ref(obj)}: {section}.{key} looks like a credential in a ConfigMap; "
                        "move it to a Secret and reference it with secretKeyRef"
                    )
    out += [
        f"{ref(obj)}: {path} embeds user:password@ in a URI; build the URI from a Secret "
        "(secretKeyRef, or $(VAR) expansion of a secret-backed env var)"
        for path, value in _strings(obj, "")
        if userinfo_leak(value)
    ]
    return out


def _env_violations(obj: K8sObject) -> list[str]:
    """Credential-named env entries must come from `valueFrom.secretKeyRef`."""
    out: list[str] = []
    for container in workload_containers(obj):
        for index, entry in enumerate(container.spec.get("env") or []):
            var = str(entry.get("name", ""))
            if not looks_like_credential(var):
                continue
            value_from = entry.get("valueFrom") or {}
            if "secretKeyRef" in value_from:
                continue
            source = "a literal value" if "value" in entry else f"valueFrom {sorted(value_from)}"
            out.append(
                f"{ref(obj)}: {container.path}.env[{index}] ({var}) takes {source}; "
                "use valueFrom.secretKeyRef to a Secret"
            )
    return out


def _strings(value: Any, path: str) -> list[tuple[str, str]]:
    """Every string leaf of a nested structure with its dotted path."""
    if isinstance(value, str):
        return [(path or "<root>", value)]
    if isinstance(value, dict):
        return [
            pair
            for key, item in value.items()
            for pair in _strings(item, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [pair for i, item in enumerate(value) for pair in _strings(item, f"{path}[{i}]")]
    return []
