"""apps/Dockerfile's serving HEALTHCHECK probes the route and port the contract owns."""

from __future__ import annotations

from pathlib import Path

from mlops_contract import serving

DOCKERFILE = Path(__file__).resolve().parents[2] / "apps" / "Dockerfile"


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def test_serving_healthcheck_probes_the_contract_health_route() -> None:
    instructions = _instructions()
    serving_stage = instructions.index("FROM runtime AS serving")
    healthchecks = [i for i in instructions[serving_stage:] if i.startswith("HEALTHCHECK")]
    assert len(healthchecks) == 1, healthchecks
    assert f"http://127.0.0.1:{serving.PORT}{serving.HEALTH_PATH}'" in healthchecks[0]
