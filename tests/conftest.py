"""Fixtures shared by every test package. Package-specific ones live in tests/<area>/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


def copy_example_project(dest: Path) -> Path:
    """Copy the example project (content/, themes/, mkdocs.yml) into `dest` (created)."""
    dest.mkdir(parents=True)
    for name in ("content", "themes"):
        shutil.copytree(REPO_ROOT / name, dest / name)
    shutil.copy2(REPO_ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    return dest


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the example project (content/, mkdocs.yml, themes/) to build in."""
    return copy_example_project(tmp_path / "project")


@pytest.fixture(scope="session")
def session_project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like `project_copy` but one per test session, for suites that build the site once."""
    return copy_example_project(tmp_path_factory.mktemp("example") / "project")
