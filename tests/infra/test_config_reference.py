"""docs/config-reference.md's key table is generated from PlatformConfig and kept current."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from infra.config import PlatformConfig, SecureValue
from infra.config_reference import COMMAND, DOC, generated_block, update
from infra.config_rows import ConfigReferenceError, Row, reference_model, rows


def _models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = [model]
    for info in model.model_fields.values():
        inner = reference_model(info.annotation)
        if inner is not None and inner not in found:
            found += [m for m in _models(inner) if m not in found]
    return found


def test_every_config_field_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in _models(PlatformConfig)
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]

    assert missing == [], "give each Field(description=...) in infra/config.py"


def test_the_committed_reference_is_what_the_generator_writes() -> None:
    committed = DOC.read_text(encoding="utf-8")

    assert update(committed, generated_block()) == committed, (
        f"docs/config-reference.md is stale: run `{COMMAND}` and commit the result"
    )


class _Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class _Inner(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    max_depth: Annotated[int, Field(ge=2)] = Field(3, description="How deep.")


class _Example(BaseModel):
    """Every kind of field a helper may add: the generator needs only the description."""

    model_config = ConfigDict(alias_generator=to_camel, arbitrary_types_allowed=True)

    mode: Literal["fast", "safe"] = Field("safe", description="A choice.")
    colour: _Colour = Field(_Colour.RED, description="An enum.")
    names: list[str] = Field(default_factory=lambda: ["a", "b"], description="A list.")
    weights: dict[str, float] = Field(default_factory=dict, description="A mapping.")
    api_token: SecureValue | None = Field(None, description="A secret.")
    inner: _Inner = Field(_Inner(), description="A section.")
    size: int = Field(description="Required.")


def test_new_fields_of_any_kind_get_rows_from_their_description_alone() -> None:
    stacks = {
        "dev": {"mode": "fast", "apiToken": {"secure": "v1:CIPHERTEXT"}, "inner": {"maxDepth": 5}},
        "prod": {"size": 7},
    }

    table = list(rows(_Example, stacks))

    assert table == [
        Row("mode", "`fast` \\| `safe`", "`safe`", ("`fast`", "—"), "A choice."),
        Row("colour", "`red` \\| `blue`", "`red`", ("—", "—"), "An enum."),
        Row("names", "list of string", "`[a, b]`", ("—", "—"), "A list."),
        Row("weights", "mapping of string to number", "`{}`", ("—", "—"), "A mapping."),
        Row("apiToken", "**secret**", "unset", ("secret", "—"), "A secret."),
        Row("inner", "mapping", "keys below", ("set", "—"), "A section."),
        Row("inner.maxDepth", "int >= 2", "`3`", ("`5`", "—"), "How deep."),
        Row("size", "int", "required", ("—", "`7`"), "Required."),
    ]


def test_a_field_without_description_fails_naming_its_key_and_the_fix() -> None:
    class Undocumented(BaseModel):
        model_config = ConfigDict(alias_generator=to_camel)

        retry_count: int = 3

    with pytest.raises(ConfigReferenceError, match=r"retryCount .*Field\(description="):
        list(rows(Undocumented, {}))
