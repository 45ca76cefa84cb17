"""Split Markdown into YAML front matter and body, reporting YAML errors mkdocs would hide."""

from __future__ import annotations

import re
from typing import Any

import yaml

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class FrontMatterError(ValueError):
    """The front matter block is not a YAML mapping."""


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). A file without `---` has an empty mapping."""
    text = text.lstrip("\ufeff")
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1) or "") or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"invalid YAML front matter: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a mapping of keys to values")
    return data, text[match.end() :]


def render_front_matter(data: dict[str, Any]) -> str:
    """YAML block for scaffolding (`kp new`), keys in the given order, unicode kept readable."""
    lines = []
    for key, value in data.items():
        # One key per line, as editors write front matter; lists stay inline (`tags: [a, b]`).
        flow = None if isinstance(value, list) else False
        dumped = yaml.safe_dump(
            {key: value}, sort_keys=False, allow_unicode=True, default_flow_style=flow, width=1000
        )
        lines.append(dumped)
    return "---\n" + "".join(lines) + "---\n"
