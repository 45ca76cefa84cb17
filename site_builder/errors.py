"""Content errors: every problem names the file and, where there is one, the front-matter key
(or the line and column), and repeats the value that was wrong."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import yaml
from mkdocs.exceptions import PluginError

_SHOWN_MAX = 60
"""Longer values are cut in messages (a whole list pasted into `title`)."""


def shown(value: object) -> str:
    """A front-matter value as an editor wrote it, for a message: strings quoted, YAML's own
    spelling for the rest (`true`, `2024`, `[a, b]`), long ones cut."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float | dt.date):
        text = str(value)
    else:
        dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
        text = dumped.removesuffix("\n").removesuffix("\n...").strip()
    return text if len(text) <= _SHOWN_MAX else f"{text[: _SHOWN_MAX - 1]}…"


@dataclass(frozen=True)
class ContentError:
    """One problem in one file, printed as `content/articles/x.md: key 'foo': message`, or
    `content/articles/x.md:3:8: message` followed by the file's line and a caret under the
    column when the place is known (YAML errors)."""

    path: str
    key: str | None
    message: str
    line: int | None = None
    """1-based line in the file."""
    column: int | None = None
    """1-based column in that line."""
    source_line: str | None = None
    """The text of that line, shown under the message."""

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        head = (
            f"{where}: key '{self.key}': {self.message}" if self.key else f"{where}: {self.message}"
        )
        if self.line is None or self.source_line is None:
            return head
        number = str(self.line)
        shown_line = f"{head}\n  {number} | {self.source_line}"
        if self.column is None:
            return shown_line
        # Tabs stay tabs so the caret lines up with the character however they are shown.
        before = self.source_line[: self.column - 1]
        caret = "".join("\t" if ch == "\t" else " " for ch in before) + "^"
        return f"{shown_line}\n  {' ' * len(number)} | {caret}"


def indented(text: str, prefix: str = "  ") -> str:
    """Every line of a (possibly multi-line) error under a list heading."""
    return "\n".join(f"{prefix}{line}" if line else line for line in text.splitlines())


class ContentErrors(PluginError):
    """Raised by the build when content is invalid; carries every error, not just the first."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(indented(str(e)) for e in self.errors)
        super().__init__(f"{len(self.errors)} content error(s):\n{lines}")
