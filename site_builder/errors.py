"""Content errors: every problem names the file and, where there is one, the front-matter key."""

from __future__ import annotations

from dataclasses import dataclass

from mkdocs.exceptions import PluginError


@dataclass(frozen=True)
class ContentError:
    """One problem in one file, printed as `content/articles/x.md: key 'foo': message`."""

    path: str
    key: str | None
    message: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.path}: key '{self.key}': {self.message}"
        return f"{self.path}: {self.message}"


class ContentErrors(PluginError):
    """Raised by the build when content is invalid; carries every error, not just the first."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{len(self.errors)} content error(s):\n{lines}")
