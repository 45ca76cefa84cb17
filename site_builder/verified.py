"""Which versions of third-party internals the fast paths were checked against.

Some speed-ups here reproduce a library's private function exactly (material's search
parser and icon index, Python-Markdown's inline processor). Each applies only to the
module source it was verified against, named by the sha256 of that source file; any other
version keeps its own code until the tests are run against it and its digest is added.
"""

from __future__ import annotations

import hashlib
from types import ModuleType


def source_fingerprint(module: ModuleType) -> str:
    """sha256 of `module`'s source file."""
    with open(module.__file__ or "", "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def is_verified(module: ModuleType, fingerprints: frozenset[str]) -> bool:
    """Whether `module`'s source is one of `fingerprints` (False without a source)."""
    try:
        return source_fingerprint(module) in fingerprints
    except (AttributeError, OSError, TypeError):
        return False
