"""Split Markdown into YAML front matter and body, reporting YAML errors mkdocs would hide."""

from __future__ import annotations

import pickle
import re
from typing import Any

import yaml

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class FrontMatterError(ValueError):
    """The front matter block is not a YAML mapping."""


PARSED: dict[str, bytes] = {}
"""Front matter blocks already parsed, by their exact text, pickled (unpickling makes a
fresh copy several times faster than `copy.deepcopy`). `kp build` keeps it in .kp-cache,
so a rebuild parses only the files that changed (YAML parsing is most of the time spent
reading a large site's content)."""


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)
"""libyaml's safe loader: about ten times faster than the pure-Python one (reading a large
site's front matter is otherwise a large part of a build that starts from scratch)."""


def _load_yaml(block: str) -> Any:
    """`yaml.safe_load`, by libyaml when available. On an error the pure-Python loader parses
    the block again: its messages are the ones editors see, and where the two disagree on
    an edge case the reference loader's answer counts."""
    if _FAST_LOADER is not None:
        try:
            return yaml.load(block, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            pass
    return yaml.safe_load(block)


def _parse(block: str) -> dict[str, Any]:
    known = PARSED.get(block)
    if known is not None:
        return pickle.loads(known)  # noqa: S301 - our own memo
    try:
        data = _load_yaml(block) or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"invalid YAML front matter: {exc}".replace("\n", " ")) from exc
    if not isinstance(data, dict):
        raise FrontMatterError("front matter must be a mapping of keys to values")
    PARSED[block] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). A file without `---` has an empty mapping."""
    text = text.lstrip("\ufeff")
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    return _parse(match.group(1) or ""), text[match.end() :]


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
