"""`python -m training` (and the `training` script): the process entry point.

MLflow reads some of its configuration only from the environment: its HTTP client's retries and
timeout on every request, and its loggers' level once, when `mlflow` is first imported. There
is no argument for either, so this entry point, and nothing that merely imports or constructs
training code, sets fail-fast defaults there before anything imports mlflow; an operator's own
values win. (MLflow's defaults retry 7 times with backoff and wait up to 120 s per request: a
dead server would hold a CronJob for minutes.)
"""

import os
import sys

from training.cli import main as cli_main

MLFLOW_PROCESS_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    # Library chatter would bury the progress lines and the single error line.
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


def main() -> int:
    """Apply MLflow's environment-only defaults for this process, then run the CLI."""
    for key, value in MLFLOW_PROCESS_DEFAULTS.items():
        os.environ.setdefault(key, value)
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
