"""Pulumi entry point: load the stack config, build the platform, export names (not secrets)."""

import pulumi

from infra.assembly import build_platform
from infra.config import load_config

outputs = build_platform(load_config())
pulumi.export("namespaces", outputs.namespaces)
pulumi.export("mlflowTrackingUri", outputs.mlflow_tracking_uri)
pulumi.export("servingUrl", outputs.serving_url)
pulumi.export("s3Endpoint", outputs.s3_endpoint)
pulumi.export("buckets", outputs.buckets)
pulumi.export("postgresHost", outputs.postgres_host)
# Secret NAMES (namespace/name) only; values stay in the cluster.
pulumi.export("secretNames", outputs.secret_names)
