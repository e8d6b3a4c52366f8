"""The one exception type the CLI turns into a single `error: ...` line."""


class TrainingError(Exception):
    """A failure with a message fit for an operator: what failed and, where known, the fix."""
