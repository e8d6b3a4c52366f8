"""Real platform services run as local processes on 127.0.0.1, for tests, benchmarks and demos.

`sandbox.services` starts PostgreSQL, SeaweedFS S3, MLflow, Prometheus and the Pushgateway on
free loopback ports and stops them by PID; it depends on nothing under tests/.
"""
