"""Fixtures shared by every test package. Package-specific ones live in tests/<area>/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the example project (content/, mkdocs.yml, themes/) to build in."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("content", "themes"):
        shutil.copytree(REPO_ROOT / name, dest / name)
    shutil.copy2(REPO_ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    return dest
