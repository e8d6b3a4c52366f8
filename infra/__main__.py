"""Pulumi entry point: load the stack config, build the platform, export names (not secrets)."""

import pulumi

from infra.config import load_config
from infra.platform import build_platform

outputs = build_platform(load_config())
pulumi.export("namespaces", outputs.namespaces)
