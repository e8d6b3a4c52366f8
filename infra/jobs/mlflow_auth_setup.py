"""Create the platform's MLflow identities and their grants; run as the admin identity (idempotent).

Shipped verbatim in a ConfigMap and run by the `mlflow-auth-setup` Job with the MLflow image's
own Python, so it imports only the standard library and mlflow. Everything it needs comes from
the environment the Job sets (names below); the passwords from Secrets of the SecretStore.

Each run converges: a missing user is created, an existing one gets the password from the
Secret (so rotating a password is: change the Secret, rerun the Job), the experiment and the
registered model are created when missing (the grants must exist before training registers the
first version), and each grant is set to exactly the permission below.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

# mlflow is imported where it is used: infra imports this module for its names only.
if TYPE_CHECKING:
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.tracking import MlflowClient

# Environment the Job sets (the admin's own identity is MLflow's MLFLOW_TRACKING_USERNAME and
# MLFLOW_TRACKING_PASSWORD, which the client reads itself).
TRACKING_URI = "MLFLOW_TRACKING_URI"
MODEL_NAME = "MODEL_NAME"
EXPERIMENT_NAME = "MLFLOW_EXPERIMENT_NAME"
# `<IDENTITY>` names the users, `<IDENTITY>_PASSWORD` their passwords: the Job sets both.
TRAINING_USER = "MLFLOW_AUTH_TRAINING_USER"
SERVING_USER = "MLFLOW_AUTH_SERVING_USER"

# Training creates runs, registers versions and moves aliases (EDIT); serving only reads the
# model, its versions, aliases and the runs' artifacts it loads (READ). Nobody else gets a grant:
# the server's default permission is NO_PERMISSIONS.
TRAINING_PERMISSION = "EDIT"
SERVING_PERMISSION = "READ"


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"mlflow-auth-setup: {name} is not set (the Job's env must set it)")
    return value


def ensure_user(auth: AuthServiceClient, username: str, password: str) -> str:
    """Create `username` with `password`, or set that password if the user exists."""
    from mlflow.exceptions import MlflowException

    try:
        auth.get_user(username)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        auth.create_user(username, password)
        return "created"
    auth.update_user_password(username, password)
    return "password set"


def ensure_grant(
    auth: AuthServiceClient, username: str, resource: tuple[str, str], permission: str
) -> None:
    """Make `username`'s permission on the resource exactly `permission`."""
    from mlflow.exceptions import MlflowException

    kind, resource_id = resource
    try:
        auth.grant_user_permission(username, kind, resource_id, permission)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(username, kind, resource_id)
        auth.grant_user_permission(username, kind, resource_id, permission)


def ensure_resources(client: MlflowClient, model: str, experiment: str) -> str:
    """Create the registered model and the experiment when missing; return the experiment id."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(model)
    found = client.get_experiment_by_name(experiment)
    return found.experiment_id if found is not None else client.create_experiment(experiment)


def main() -> int:
    """Converge users and grants; print one line per step (the Job's log)."""
    from mlflow.server.auth.client import AuthServiceClient
    from mlflow.tracking import MlflowClient

    uri = _env(TRACKING_URI)
    model = _env(MODEL_NAME)
    experiment = os.environ.get(EXPERIMENT_NAME) or model
    auth = AuthServiceClient(uri)
    experiment_id = ensure_resources(MlflowClient(tracking_uri=uri), model, experiment)
    for user_var, permission in (
        (TRAINING_USER, TRAINING_PERMISSION),
        (SERVING_USER, SERVING_PERMISSION),
    ):
        username = _env(user_var)
        outcome = ensure_user(auth, username, _env(f"{user_var}_PASSWORD"))
        for resource in (("registered_model", model), ("experiment", experiment_id)):
            ensure_grant(auth, username, resource, permission)
        print(f"mlflow-auth-setup: {username}: {outcome}; {permission} on {model}, {experiment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
