"""Monitoring as code: Grafana dashboards and Prometheus rules for the mlops-platform loop.

`python -m dashboards.generate` writes `dashboards/grafana/*.json` and `dashboards/rules/*.yaml`
from the definitions in this package, which are the single source of truth for both.
"""
