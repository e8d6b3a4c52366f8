"""Kubernetes facts shared by the platform program and the policy pack."""

from typing import Final

PART_OF: Final = "mlops-platform"
MANAGED_BY: Final = "pulumi"

# The recommended app.kubernetes.io/* label keys: infra writes them, policy and selectors read them.
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_VERSION: Final = "app.kubernetes.io/version"
# Kubernetes sets this on every Namespace (1.22+); NetworkPolicies select namespaces by it.
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"

# Kinds that live outside any namespace (the rest must name one): the render files them under
# `_cluster.yaml` and the policy rules exempt them from the namespace checks.
CLUSTER_SCOPED_KINDS: Final = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ClusterSecretStore",
        "ClusterExternalSecret",
    }
)
# Pod Security Admission: the namespaces write the level, the policy pack checks pods against it.
POD_SECURITY_ENFORCE_LABEL: Final = "pod-security.kubernetes.io/enforce"
# CloudNativePG labels its instance pods with these; NetworkPolicies, monitors and policy use them.
CNPG_CLUSTER_LABEL: Final = "cnpg.io/cluster"
CNPG_POD_ROLE_LABEL: Final = "cnpg.io/podRole"
