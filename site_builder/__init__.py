"""Build half: content/ → site/ (public) + private/ (paid lessons) + private/manifest.json."""

from __future__ import annotations

import os
from collections.abc import Mapping

CACHE_NAME = ".kp-cache"
"""The build's cache folder, beside mkdocs.yml (git-ignored): page results, memos."""

ACCEL_VARIABLE = "KP_ACCEL"
"""`KP_ACCEL=0` builds through mkdocs' own build, with none of the fast paths of
`site_builder.accel` (`kp build --no-accel` does the same)."""

_OFF = frozenset({"0", "false", "no", "off"})


def accel_requested(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the fast paths are on: unless KP_ACCEL is 0 (or false, no, off)."""
    value = (os.environ if environ is None else environ).get(ACCEL_VARIABLE, "")
    return value.strip().lower() not in _OFF
