"""Readiness and liveness probes on every container of a long-running workload.

Without readiness a rolling update sends traffic to pods that are still loading; without
liveness a wedged process is never restarted. Jobs and initContainers run to completion, so
they are exempt.
"""

from policy.objects import LONG_RUNNING_KINDS, K8sObject, containers, kind, pod_spec, ref


def check_probes(obj: K8sObject) -> list[str]:
    """Violations: a container of a Deployment/StatefulSet/DaemonSet without a probe."""
    found = pod_spec(obj)
    if found is None or kind(obj) not in LONG_RUNNING_KINDS:
        return []
    spec, path = found
    out: list[str] = []
    for container in containers(spec, path):
        if container.list_name != "containers":
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if not isinstance(container.spec.get(probe), dict) or not container.spec[probe]:
                out.append(
                    f"{ref(obj)}: {container.path}.{probe} is missing (container "
                    f"{container.name}); add an httpGet/tcpSocket/exec {probe}"
                )
    return out
