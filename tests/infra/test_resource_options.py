"""resources.json records each resource's options as the engine would receive them."""

from __future__ import annotations

from pulumi.runtime.proto import resource_pb2

from infra.render import RenderedStack, resource_options


def test_options_are_read_from_the_register_request() -> None:
    request = resource_pb2.RegisterResourceRequest(
        type="kubernetes:core/v1:Namespace",
        name="ns",
        protect=True,
        retainOnDelete=True,
        ignoreChanges=["spec.b", "spec.a"],
        deletedWith="urn:pulumi:dev::p::kubernetes:core/v1:Namespace::owner",
    )
    assert resource_options(request) == {
        "protect": True,
        "retainOnDelete": True,
        "deleteBeforeReplace": False,
        "ignoreChanges": ["spec.a", "spec.b"],
        "replaceOnChanges": [],
        "deletedWith": "owner",
    }


def test_unset_options_are_recorded_as_their_defaults() -> None:
    request = resource_pb2.RegisterResourceRequest(type="t", name="n")
    options = resource_options(request)
    assert options["protect"] is False
    assert options["retainOnDelete"] is False
    assert options["deletedWith"] is None


def test_every_record_carries_its_options(rendered_stacks: dict[str, RenderedStack]) -> None:
    for rendered in rendered_stacks.values():
        for rec in rendered.resources:
            assert set(rec["options"]) == {
                "protect",
                "retainOnDelete",
                "deleteBeforeReplace",
                "ignoreChanges",
                "replaceOnChanges",
                "deletedWith",
            }, rec["name"]
