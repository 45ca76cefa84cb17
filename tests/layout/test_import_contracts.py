"""The contract type behind "private third-party names only in the fast-path package"
(tools/import_contracts.py) finds each form of use: a private module, a private name
imported, a private attribute of something imported from a guarded package; and only those."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location(
    "import_contracts", Path(__file__).resolve().parents[2] / "tools" / "import_contracts.py"
)
assert _SPEC is not None and _SPEC.loader is not None
import_contracts = importlib.util.module_from_spec(_SPEC)
sys.modules[_SPEC.name] = import_contracts
_SPEC.loader.exec_module(import_contracts)
private_uses = import_contracts.private_uses

GUARDED = frozenset({"mkdocs", "markdown", "re"})


def test_finds_private_modules_names_and_attributes() -> None:
    source = (
        "import re._parser\n"
        "from re import _constants\n"
        "from mkdocs.structure.pages import Page, _RelativePathTreeprocessor\n"
        "from mkdocs.commands import build as build_module\n"
        "def f():\n"
        "    from markdown import treeprocessors\n"
        "    return build_module._build_page, treeprocessors._private\n"
        "Page._private_method\n"
    )
    assert private_uses(source, GUARDED) == [
        (1, "import re._parser"),
        (2, "from re import _constants"),
        (3, "from mkdocs.structure.pages import _RelativePathTreeprocessor"),
        (7, "build_module._build_page"),
        (7, "treeprocessors._private"),
        (8, "Page._private_method"),
    ]


def test_public_names_dunders_and_other_packages_pass() -> None:
    source = (
        "import mkdocs.__main__\n"
        "from mkdocs.structure.pages import Page\n"
        "from markdown import __version__\n"
        "from jinja2 import _internal\n"
        "import os\n"
        "os._exit\n"
        "Page.file\n"
    )
    assert private_uses(source, GUARDED) == []
