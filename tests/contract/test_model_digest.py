"""The one definition of a model artifact's digest, which training records and serving checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mlops_contract.registry import model_digest

pytestmark = pytest.mark.unit

FILES = {
    "MLmodel": b"flavors:\n  sklearn: {}\n",
    "model.skops": bytes(range(256)) * 64,
    "requirements.txt": b"scikit-learn==1.7.2\n",
    "sub/dir/extra.json": b'{"a": 1}',
}


def write(root: Path, files: dict[str, bytes], order: list[str] | None = None) -> Path:
    for name in order or list(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
    return root


def test_the_digest_does_not_depend_on_the_order_files_were_written_or_the_directory(
    tmp_path: Path,
) -> None:
    first = write(tmp_path / "a", FILES)
    second = write(tmp_path / "elsewhere" / "b", FILES, order=sorted(FILES, reverse=True))
    assert model_digest(first) == model_digest(second)
    assert model_digest(str(first)) == model_digest(first)


def test_one_changed_byte_changes_the_digest(tmp_path: Path) -> None:
    original = model_digest(write(tmp_path / "a", FILES))
    changed = bytearray(FILES["model.skops"])
    changed[1000] ^= 1
    tampered = model_digest(write(tmp_path / "b", {**FILES, "model.skops": bytes(changed)}))
    assert tampered != original


def test_a_renamed_added_or_removed_file_changes_the_digest(tmp_path: Path) -> None:
    original = model_digest(write(tmp_path / "a", FILES))
    renamed = {("model.pkl" if k == "model.skops" else k): v for k, v in FILES.items()}
    assert model_digest(write(tmp_path / "renamed", renamed)) != original
    assert model_digest(write(tmp_path / "added", {**FILES, "x.py": b""})) != original
    removed = {k: v for k, v in FILES.items() if k != "requirements.txt"}
    assert model_digest(write(tmp_path / "removed", removed)) != original


def test_moving_content_between_files_changes_the_digest(tmp_path: Path) -> None:
    # Concatenating contents would collide here; per-file hashes in the manifest do not.
    a = model_digest(write(tmp_path / "a", {"x": b"ab", "y": b"c"}))
    b = model_digest(write(tmp_path / "b", {"x": b"a", "y": b"bc"}))
    assert a != b


def test_the_digest_is_what_the_runbooks_shell_command_prints(tmp_path: Path) -> None:
    root = write(tmp_path / "model", FILES)
    shell = subprocess.run(  # noqa: S602 - the runbook's pipeline, verbatim
        "find . -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum",
        shell=True,
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.split()[0] == model_digest(root)


def test_an_empty_directory_has_no_digest(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="no files"):
        model_digest(tmp_path / "empty")
