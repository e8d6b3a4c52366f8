"""No Service exposes pods outside the cluster: exposure goes only through an Ingress/gateway.

A Service of type LoadBalancer gets a cloud load balancer with a public address; a NodePort
opens a port on every node; `externalIPs` makes every node route an address the cluster does
not own. Each bypasses the Ingress or gateway where TLS, authentication and the NetworkPolicy
`from` rules apply, so a fork could put a workload on the internet without any of them.
"""

from policy.objects import K8sObject, dig, kind, ref

# The Service types that stay inside the cluster (ExternalName only aliases a DNS name).
INTERNAL_SERVICE_TYPES = frozenset({"ClusterIP", "ExternalName"})


def check_service_exposure(obj: K8sObject) -> list[str]:
    """Violations: a Service of type LoadBalancer or NodePort, or with externalIPs."""
    if kind(obj) != "Service":
        return []
    out: list[str] = []
    service_type = dig(obj, "spec", "type") or "ClusterIP"  # the API server's default
    if service_type not in INTERNAL_SERVICE_TYPES:
        out.append(
            f"{ref(obj)}: spec.type is {service_type!r}, which exposes the pods outside the "
            "cluster; use ClusterIP and expose it through the Ingress or gateway"
        )
    if dig(obj, "spec", "externalIPs"):
        out.append(
            f"{ref(obj)}: spec.externalIPs is set, which routes outside addresses to the pods; "
            "remove it and expose the Service through the Ingress or gateway"
        )
    return out
