"""Readiness and liveness probes on every container of a long-running workload.

Without readiness a rolling update sends traffic to pods that are still loading; without
liveness a wedged process is never restarted. Jobs and initContainers run to completion, so
they are exempt.
"""

from policy.objects import LONG_RUNNING_KINDS, K8sObject, kind, ref, workload_containers


def check_probes(obj: K8sObject) -> list[str]:
    """Violations: a container of a Deployment/StatefulSet/DaemonSet without a probe."""
    if kind(obj) not in LONG_RUNNING_KINDS:
        return []
    out: list[str] = []
    for container in workload_containers(obj):
        if container.list_name != "containers":
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if not isinstance(container.spec.get(probe), dict) or not container.spec[probe]:
                out.append(
                    f"{ref(obj)}: {container.path}.{probe} is missing (container "
                    f"{container.name}); add an httpGet/tcpSocket/exec {probe}"
                )
    return out
