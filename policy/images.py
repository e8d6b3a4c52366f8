"""Every image pinned: a tag other than `latest`, or a digest.

An untagged image means `:latest`, which moves under a running cluster: two pods of one
Deployment can run different code, and a rollback does not roll anything back.
"""

from policy.objects import UNKNOWN, K8sObject, ref, workload_containers


def image_problem(image: str) -> str | None:
    """Why `image` is not pinned, or None when it carries a digest or a non-latest tag."""
    if image == UNKNOWN:
        return None  # built in this same update: pinned by digest once known
    if not image:
        return "is empty"
    if "@" in image:
        digest = image.split("@", 1)[1]
        return (
            None
            if digest.startswith("sha256:") and len(digest) > len("sha256:")
            else (f"has a malformed digest {digest!r}")
        )
    # Only the last path segment can hold the tag (`localhost:5000/app` has a port, not a tag).
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (it means :latest)"
    tag = last.split(":", 1)[1]
    if not tag:
        return "has an empty tag"
    if tag == "latest":
        return "uses the :latest tag"
    return None


def check_images(obj: K8sObject) -> list[str]:
    """Violations: a container image that is untagged, `:latest` or badly formed."""
    out: list[str] = []
    for container in workload_containers(obj):
        image = str(container.spec.get("image") or "")
        problem = image_problem(image)
        if problem:
            out.append(
                f"{ref(obj)}: {container.path}.image {image!r} {problem}; "
                "pin a version tag or an @sha256 digest (in infra/versions.py)"
            )
    return out
