"""No Service exposes pods outside the cluster: exposure goes only through an Ingress/gateway.

A Service of type LoadBalancer gets a cloud load balancer with a public address; a NodePort
opens a port on every node; `externalIPs` makes every node route an address the cluster does
not own. Each bypasses the Ingress or gateway where TLS, authentication and the NetworkPolicy
`from` rules apply, so a fork could put a workload on the internet without any of them. An
Ingress, the one way out, must serve every host it routes over TLS.
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


def check_ingress_tls(obj: K8sObject) -> list[str]:
    """Violations: an Ingress rule whose host no `spec.tls` entry covers, or a rule without host.

    Without TLS the controller serves the host over plain HTTP (credentials, model inputs and
    labels in clear text); a rule without a host matches every name the controller receives.
    """
    if kind(obj) != "Ingress":
        return []
    covered = {host for entry in dig(obj, "spec", "tls") or [] for host in entry.get("hosts") or []}
    out: list[str] = []
    for index, rule in enumerate(dig(obj, "spec", "rules") or []):
        host = rule.get("host")
        if not host:
            out.append(
                f"{ref(obj)}: spec.rules[{index}] has no host, so it answers for any name; set "
                "the host and list it under spec.tls"
            )
        elif host not in covered:
            out.append(
                f"{ref(obj)}: spec.rules[{index}].host {host!r} is not in any spec.tls[].hosts, "
                "so it is served over plain HTTP; add it with a secretName (cert-manager issues it)"
            )
    if dig(obj, "spec", "defaultBackend"):
        out.append(
            f"{ref(obj)}: spec.defaultBackend answers every unmatched host and path; remove it "
            "and route named hosts only"
        )
    return out
