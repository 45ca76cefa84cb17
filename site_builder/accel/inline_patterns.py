"""Python-Markdown's inline processor, without trying patterns that cannot match.

For every run of text in a page, Python-Markdown's `InlineProcessor` tries each inline
pattern in turn (sixteen with the site's extensions: code, escapes, links, images, raw HTML,
entities, emoji, emphasis…), one Python call each, though most runs of prose contain no `` ` ``,
`[`, `<`, `&`, `:`, `*` or `_` at all. Every pattern's regular expression requires some text
in any match: a `[` for a link, `![` for an image, `*` or `_` for emphasis. `required_text`
works that out from the expression itself (its parsed form, conservatively: it gives up on
anything it does not understand), and `SkippingInlineProcessor` moves on to the next pattern
without calling the first when none of that text occurs anywhere in the run — exactly what
the pattern would have done after failing to match (`__applyPattern` returns the text
unchanged, "not matched" and a start index of 0). Rendering a typical article takes a
quarter less time; the HTML is the same (tests/builder/test_inline_patterns.py compares
both on every page of the example site and on generated markup).

The loop it replaces is `InlineProcessor.__handleInline` of the Python-Markdown version it
was checked against (`inline-processor` in replacements.py); with any other version the
original runs. `install` makes every Markdown converter built while it is installed use
`SkippingInlineProcessor`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# The standard library's own parser of regular expressions (`re._parser`, since 3.11).
from re import _constants as _sre  # type: ignore[attr-defined]  # typeshed has no stub for re._constants (only the deprecated sre_constants)
from re import _parser as _sre_parse
from typing import Any

from markdown import Markdown, treeprocessors, util

Requirement = frozenset[str]
"""Strings one of which every match contains."""


def required_text(pattern: re.Pattern[str]) -> Requirement | None:
    """Strings one of which every match of `pattern` contains, or None when that cannot be
    told from the expression."""
    try:
        parsed = _sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # noqa: BLE001 - an expression this cannot read: no requirement
        return None
    return _sequence(list(parsed), pattern.flags)


def _caseless(text: str) -> bool:
    return all(char.lower() == char.upper() for char in text)


def _sequence(items: Iterable[tuple[Any, Any]], flags: int) -> Requirement | None:
    """The most selective requirement among the parts of a concatenation that every match
    includes: a run of literal characters, a class of literal characters, a group, an
    alternation whose every branch has a requirement, a repetition of at least one."""
    candidates: list[Requirement] = []
    run: list[str] = []
    ignore_case = bool(flags & re.IGNORECASE)

    def end_run() -> None:
        if run:
            candidates.append(frozenset({"".join(run)}))
            run.clear()

    for op, value in items:
        if op is _sre.LITERAL and not (ignore_case and not _caseless(chr(value))):
            run.append(chr(value))
            continue
        end_run()
        found: Requirement | None = None
        if op is _sre.IN:
            found = _literal_class(value, ignore_case)
        elif op is _sre.SUBPATTERN:
            found = _sequence(value[-1], flags | (value[1] or 0))
        elif op is _sre.ATOMIC_GROUP:
            found = _sequence(value, flags)
        elif op is _sre.BRANCH:
            branches = [_sequence(branch, flags) for branch in value[1]]
            if branches and all(branches):
                found = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT) and value[0] >= 1:
            found = _sequence(value[2], flags)
        if found:
            candidates.append(found)
    end_run()
    if not candidates:
        return None
    return max(candidates, key=lambda strings: (min(map(len, strings)), -len(strings)))


def _literal_class(members: list[tuple[Any, Any]], ignore_case: bool) -> Requirement | None:
    """`[…]` of plain characters only (no ranges, categories or negation)."""
    chars = []
    for op, value in members:
        if op is not _sre.LITERAL:
            return None
        chars.append(chr(value))
    if not chars or (ignore_case and not _caseless("".join(chars))):
        return None
    return frozenset(chars)


class SkippingInlineProcessor(treeprocessors.InlineProcessor):
    """`InlineProcessor` whose loop over the inline patterns skips a pattern when a run of
    text contains none of its `required_text` (see the module docstring)."""

    _kp_patterns: tuple[Any, ...] = ()
    _kp_required: list[Requirement | None] = []  # noqa: RUF012 - replaced per instance

    def run(self, tree: Any, ancestors: list[str] | None = None) -> Any:
        patterns = tuple(self.inlinePatterns)
        if patterns != self._kp_patterns:  # extensions may register patterns late
            self._kp_required = [required_text(p.getCompiledRegExp()) for p in patterns]
            self._kp_patterns = patterns
        return super().run(tree, ancestors)

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802, N803 - overrides the name-mangled method
        """`InlineProcessor.__handleInline` (3.11), with the skip."""
        if not isinstance(data, util.AtomicString):
            startIndex = 0  # noqa: N806 - as upstream
            count = len(self.inlinePatterns)
            required = self._kp_required
            while patternIndex < count:
                needed = required[patternIndex]
                if needed is not None and not any(text in data for text in needed):
                    patternIndex += 1  # what a failed __applyPattern leads to
                    startIndex = 0  # noqa: N806
                    continue
                data, matched, startIndex = self._InlineProcessor__applyPattern(
                    self.inlinePatterns[patternIndex], data, patternIndex, startIndex
                )
                if not matched:
                    patternIndex += 1
        return data


def skip_impossible_patterns(md: Markdown) -> bool:
    """Make `md`'s inline processor a `SkippingInlineProcessor`; False when it is not
    Python-Markdown's own."""
    registry = md.treeprocessors  # a markdown.util.Registry, which has no `get`
    processor = registry["inline"] if "inline" in registry else None  # noqa: SIM401
    if type(processor) is SkippingInlineProcessor:
        return True
    if type(processor) is not _ORIGINAL:
        return False
    processor.__class__ = SkippingInlineProcessor
    return True


_ORIGINAL = treeprocessors.InlineProcessor


def install() -> Callable[[], None]:
    """Markdown converters built from now on get a `SkippingInlineProcessor` (Python-Markdown
    makes its inline processor from `treeprocessors.InlineProcessor`); returns how to put
    the original back."""
    treeprocessors.InlineProcessor = SkippingInlineProcessor

    def undo() -> None:
        treeprocessors.InlineProcessor = _ORIGINAL

    return undo
