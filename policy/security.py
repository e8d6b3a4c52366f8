"""Pod Security Standard `restricted` for every pod template in app namespaces.

The API server already refuses such pods in a namespace labelled `enforce: restricted`, but
only when the ReplicaSet tries to create them: `pulumi up` then reports success while the
Deployment never becomes ready. Checking the template before the update turns that silent
failure into a preview error.
"""

from collections.abc import Iterable
from typing import Any

from mlops_contract.kube import POD_SECURITY_ENFORCE_LABEL

from policy.objects import K8sObject, containers, dig, kind, labels, namespace, pod_spec, ref

# The only capability `restricted` lets a container add back.
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
ALLOWED_SECCOMP_TYPES = frozenset({"RuntimeDefault", "Localhost"})


def restricted_namespaces(objects: Iterable[K8sObject]) -> set[str]:
    """Names of the rendered Namespaces labelled `pod-security.kubernetes.io/enforce: restricted`.

    Returns:
        The set of namespace names.
    """
    return {
        str(dig(obj, "metadata", "name"))
        for obj in objects
        if kind(obj) == "Namespace" and labels(obj).get(POD_SECURITY_ENFORCE_LABEL) == "restricted"
    }


def check_restricted(obj: K8sObject, restricted: set[str] | None = None) -> list[str]:
    """Violations of the restricted profile in `obj`'s pod template.

    Args:
        obj: any Kubernetes object; objects without a pod template yield nothing.
        restricted: namespaces the rule applies to; None applies it whatever the namespace.

    Returns:
        One message per violated field, naming the object, the field path and the fix.
    """
    found = pod_spec(obj)
    if found is None or (restricted is not None and namespace(obj) not in restricted):
        return []
    spec, path = found
    where = ref(obj)
    out = _pod_level(spec, path, where)
    pod_ctx = spec.get("securityContext") or {}
    for container in containers(spec, path):
        out += _container_level(container.spec, container.path, pod_ctx, where)
    return out


def _pod_level(spec: dict[str, Any], path: str, where: str) -> list[str]:
    """Host namespaces and hostPath volumes: forbidden for the whole pod."""
    out = [
        f"{where}: {path}.{field} is true; remove it (restricted forbids host namespaces)"
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if spec.get(field) is True
    ]
    for index, volume in enumerate(spec.get("volumes") or []):
        if isinstance(volume, dict) and "hostPath" in volume:
            out.append(
                f"{where}: {path}.volumes[{index}].hostPath ({volume.get('name')}) is forbidden; "
                "use an emptyDir, a ConfigMap/Secret or a PersistentVolumeClaim"
            )
    return out


def _container_level(
    ctx_holder: dict[str, Any], path: str, pod_ctx: dict[str, Any], where: str
) -> list[str]:
    """Per-container fields; runAsNonRoot and seccomp may come from the pod instead."""
    ctx = ctx_holder.get("securityContext") or {}
    sc = f"{path}.securityContext"
    out: list[str] = []
    non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
    if non_root is not True:
        out.append(f"{where}: {sc}.runAsNonRoot is not true (nor at pod level); set it to true")
    if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
        out.append(f"{where}: {sc}.runAsUser is 0; run as a non-zero UID")
    seccomp = dig(ctx, "seccompProfile", "type") or dig(pod_ctx, "seccompProfile", "type")
    if seccomp not in ALLOWED_SECCOMP_TYPES:
        out.append(
            f"{where}: {sc}.seccompProfile.type is {seccomp!r} (nor set at pod level); "
            "set seccompProfile.type: RuntimeDefault"
        )
    if ctx.get("allowPrivilegeEscalation") is not False:
        out.append(f"{where}: {sc}.allowPrivilegeEscalation must be false; set it to false")
    if ctx.get("privileged") is True:
        out.append(f"{where}: {sc}.privileged is true; remove it")
    drop = dig(ctx, "capabilities", "drop") or []
    if "ALL" not in drop:
        out.append(f"{where}: {sc}.capabilities.drop does not contain ALL; set drop: [ALL]")
    added = set(dig(ctx, "capabilities", "add") or []) - ALLOWED_ADDED_CAPABILITIES
    if added:
        out.append(
            f"{where}: {sc}.capabilities.add has {sorted(added)}; only NET_BIND_SERVICE is allowed"
        )
    return out
