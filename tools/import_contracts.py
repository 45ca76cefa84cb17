"""An import-linter contract type: third-party internals only from the fast-path package.

`lint-imports` (configured in pyproject.toml) checks that no module of ours outside the
allowed packages uses a private name of the listed third-party packages: an underscore
module (`re._parser`), an underscore name imported from them (`from mkdocs.structure.pages
import _RelativePathTreeprocessor`), or an underscore attribute of a module or class
imported from them (`build_module._build_page`, `HtmlFormatter._create_stylesheet`).
Those are the places an upgrade of mkdocs, material or Python-Markdown can break without
notice, so they are kept in one package where every such use is registered and
fingerprinted. import-linter's own contracts see modules, not names; this one reads the
importing modules' source.
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from grimp import ImportGraph
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


@dataclass(frozen=True)
class Use:
    module: str
    line: int
    what: str


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _origin(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    return Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None


def private_uses(source: str, packages: frozenset[str]) -> list[tuple[int, str]]:
    """(line, what) of every private name of `packages` the source uses."""
    tree = ast.parse(source)
    aliases: set[str] = set()  # local names bound to modules of `packages`
    found: list[tuple[int, str]] = []

    def listed(module: str) -> bool:
        return module.split(".")[0] in packages

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not listed(alias.name):
                    continue
                if any(is_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"import {alias.name}"))
                aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if not listed(node.module):
                continue
            private_module = any(is_private(part) for part in node.module.split("."))
            for alias in node.names:
                if private_module or is_private(alias.name):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
                # a name imported from a package may be a module: its attributes count too
                aliases.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return sorted(set(found))


class ThirdPartyInternalsContract(Contract):
    """Options: `packages` (third-party top-level packages whose private names are guarded),
    `allowed` (our packages that may use them, with their sub-packages)."""

    type_name = "third_party_internals"

    packages = fields.ListField(subfield=fields.StringField())
    allowed = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        packages = frozenset(self.packages)  # type: ignore[arg-type]
        allowed = tuple(self.allowed)  # type: ignore[arg-type]
        uses: list[Use] = []
        ours = {name for name in graph.modules if not graph.is_module_squashed(name)}
        for module in sorted(ours):
            if any(module == a or module.startswith(a + ".") for a in allowed):
                continue
            path = _origin(module)
            if path is None:
                continue
            for line, what in private_uses(path.read_text(encoding="utf-8"), packages):
                uses.append(Use(module, line, what))
        return ContractCheck(kept=not uses, warnings=None, metadata={"uses": uses})

    def render_broken_contract(self, check: ContractCheck) -> None:
        output.print_error(
            f"Private names of third-party packages used outside {', '.join(self.allowed)}:",  # type: ignore[arg-type]
            bold=False,
        )
        output.new_line()
        for use in check.metadata["uses"]:
            output.print_error(f"- {use.module} (l.{use.line}): {use.what}", bold=False)
        output.new_line()
