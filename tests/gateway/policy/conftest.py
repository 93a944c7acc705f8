"""What the policy tests share: a copy of the bundled policy to edit, and editing helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import POLICIES


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    """The bundled policy's files (not its tests and examples), copied for a test to edit."""
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("tests", "examples"))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)
