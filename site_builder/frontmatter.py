"""Split Markdown into YAML front matter and body, reporting YAML errors mkdocs would hide."""

from __future__ import annotations

import pickle
import re
from typing import Any

import yaml

from site_builder.errors import shown

FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class FrontMatterError(ValueError):
    """The front matter block is not a YAML mapping; `line`/`column` (1-based, in the file)
    and `source_line` say where, when that is known."""

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        source_line: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.source_line = source_line


_OPENING = re.compile(r"\A---[ \t]*\r?\n")
_BLOCK_FIRST_LINE = 2
"""The block starts on the file's second line, after the opening `---`."""
_END_OF_BLOCK = (
    (", but got '<stream end>'", " before the end of the front matter"),
    ("found unexpected end of stream", "not closed before the end of the front matter"),
)
"""PyYAML's words for the end of its input: here the input is the front matter."""
_HINTS = {
    "found character '\\t' that cannot start any token": (
        "YAML does not allow tabs for indentation: use spaces"
    ),
    "mapping values are not allowed here": (
        "a value holding ': ' needs quotes, e.g. title: \"Pricing: a guide\""
    ),
}


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
        data = _load_yaml(block)
    except yaml.YAMLError as exc:
        raise _yaml_error(block, exc) from exc
    except ValueError as exc:  # PyYAML builds `2026-13-01` as a date, and fails
        raise _bad_date(block, exc) from exc
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise FrontMatterError(
            f"front matter must be a mapping of keys to values (`title: ...` lines), "
            f"got {shown(data)}",
            line=_BLOCK_FIRST_LINE,
        )
    PARSED[block] = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def _yaml_error(block: str, exc: yaml.YAMLError) -> FrontMatterError:
    """The YAML error with its place in the file (not in the block) and the line itself.

    PyYAML points at the end of the block for something left open (`[` or a quote without
    its end): the place shown is then where it was opened."""
    problem = getattr(exc, "problem", None)
    if not isinstance(exc, yaml.MarkedYAMLError) or not problem:
        return FrontMatterError(f"invalid YAML front matter: {exc}".replace("\n", " "))
    mark, context_mark, context = exc.problem_mark, exc.context_mark, exc.context
    for upstream, ours in _END_OF_BLOCK:
        problem = problem.replace(upstream, ours)
    message = f"invalid YAML front matter: {problem}"
    lines = block.splitlines()
    if context_mark is not None and (mark is None or mark.line >= len(lines)):
        mark = context_mark
        message += f" ({context} that starts here)"
    elif context_mark is not None and context:
        message += f" ({context} from line {context_mark.line + _BLOCK_FIRST_LINE})"
    hint = _HINTS.get(exc.problem or "")
    if hint:
        message += f"; {hint}"
    if mark is None:
        return FrontMatterError(message)
    source = lines[mark.line] if mark.line < len(lines) else ""
    return FrontMatterError(
        message,
        line=mark.line + _BLOCK_FIRST_LINE,
        column=mark.column + 1,
        source_line=source,
    )


def _bad_date(block: str, exc: ValueError) -> FrontMatterError:
    """The value that looks like a date but is none (`2026-02-30`), and where it is."""
    constructor = yaml.constructor.SafeConstructor()
    lines = block.splitlines()
    nodes = [yaml.compose(block, Loader=yaml.SafeLoader)]
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            nodes.extend(n for pair in reversed(node.value) for n in reversed(pair))
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(reversed(node.value))
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                constructor.construct_yaml_timestamp(node)
            except ValueError as problem:
                mark = node.start_mark
                return FrontMatterError(
                    f"not a date: {node.value} ({problem}); write dates as YYYY-MM-DD",
                    line=mark.line + _BLOCK_FIRST_LINE,
                    column=mark.column + 1,
                    source_line=lines[mark.line] if mark.line < len(lines) else "",
                )
    return FrontMatterError(f"invalid YAML front matter: {exc}")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). A file without `---` has an empty mapping; one
    whose `---` is never closed is an error (its keys would silently become text)."""
    text = text.lstrip("\ufeff")
    match = FRONT_MATTER.match(text)
    if not match:
        if _OPENING.match(text):
            raise FrontMatterError(
                "the front matter opened by `---` on line 1 is never closed: end it with a "
                "line holding only `---`",
                line=1,
                source_line="---",
            )
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
