"""CPU and memory requests and limits on every container and initContainer.

Without requests the scheduler packs pods blindly; without limits one pod can starve its node,
and a namespace with a ResourceQuota rejects the pod outright.
"""

from policy.objects import K8sObject, dig, ref, workload_containers

REQUIRED = (("requests", "cpu"), ("requests", "memory"), ("limits", "cpu"), ("limits", "memory"))


def check_resources(obj: K8sObject) -> list[str]:
    """Violations: a container (init or regular) missing a cpu/memory request or limit."""
    out: list[str] = []
    for container in workload_containers(obj):
        if container.list_name == "ephemeralContainers":
            continue  # debug containers take no resources field
        for section, resource in REQUIRED:
            value = dig(container.spec, "resources", section, resource)
            if value in (None, "", 0):
                out.append(
                    f"{ref(obj)}: {container.path}.resources.{section}.{resource} is missing "
                    f"(container {container.name}); set an explicit {resource} {section[:-1]}"
                )
    return out
