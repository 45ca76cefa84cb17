"""Interface strings in every supported language, from one file (`kp_contract/translations.yml`).

Shared by the build (theme strings, navigation, feeds) and the paywall (account, checkout and
sign-in pages, e-mails) so a reader sees one vocabulary everywhere. The file is checked when
loaded: a key without every language, or whose languages disagree on `{placeholders}`, is an
error naming the key, so a missing translation fails the build and the tests instead of
showing up as an English sentence on a Chinese page.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

LANGS: tuple[str, ...] = ("en", "zh")
DEFAULT_LANG = "en"
TRANSLATIONS_FILE = "translations.yml"

_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class TranslationError(ValueError):
    """The translation file is malformed; the message lists every problem found."""


def placeholders(text: str) -> set[str]:
    """`{name}` fields of a `str.format` template ('{{' escapes excluded)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _check_entry(key: str, entry: object) -> list[str]:
    if not isinstance(entry, dict):
        return [f"{key}: expected a mapping of language to text, e.g. {{en: ..., zh: ...}}"]
    problems = []
    unknown = sorted(str(lang) for lang in entry if lang not in LANGS)
    if unknown:
        problems.append(f"{key}: unknown language(s) {', '.join(unknown)} (known: {LANGS})")
    missing = [lang for lang in LANGS if lang not in entry]
    if missing:
        problems.append(f"{key}: missing {', '.join(missing)}")
    texts = {lang: entry[lang] for lang in LANGS if lang in entry}
    for lang, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{key}.{lang}: expected non-empty text, got {text!r}")
    fields = {lang: placeholders(text) for lang, text in texts.items() if isinstance(text, str)}
    if len({frozenset(f) for f in fields.values()}) > 1:
        shown = "; ".join(f"{lang}: {sorted(f)}" for lang, f in fields.items())
        problems.append(f"{key}: languages use different placeholders ({shown})")
    return problems


def parse(data: object, source: str = TRANSLATIONS_FILE) -> dict[str, dict[str, str]]:
    """Validate the loaded YAML; returns `{"group.key": {lang: text}}` or raises
    `TranslationError` listing every problem (so one run shows all missing strings)."""
    if not isinstance(data, dict):
        raise TranslationError(f"{source}: expected a mapping of groups")
    problems: list[str] = []
    messages: dict[str, dict[str, str]] = {}
    for group, entries in data.items():
        if not isinstance(group, str) or not _KEY.match(group):
            problems.append(f"{group!r}: group names are lower-case words")
            continue
        if not isinstance(entries, dict):
            problems.append(f"{group}: expected a mapping of keys")
            continue
        for name, entry in entries.items():
            key = f"{group}.{name}"
            if not isinstance(name, str) or not _KEY.match(name):
                problems.append(f"{key}: keys are lower-case words joined by _")
                continue
            entry_problems = _check_entry(key, entry)
            problems += entry_problems
            if not entry_problems:
                messages[key] = {lang: entry[lang] for lang in LANGS}
    if problems:
        raise TranslationError(f"{source}: " + "; ".join(problems))
    return messages


@dataclass(frozen=True)
class Translations:
    """Validated strings: `messages["group.key"][lang]`."""

    messages: dict[str, dict[str, str]]
    _groups: dict[tuple[str, str], dict[str, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """`group` results worked out before (every page of a build asks for its language's)."""

    def text(self, lang: str, key: str, **values: Any) -> str:
        """The string in `lang` (the default language for an unknown one), formatted."""
        try:
            entry = self.messages[key]
        except KeyError:
            raise KeyError(f"no translation '{key}' in {TRANSLATIONS_FILE}") from None
        template = entry.get(lang) or entry[DEFAULT_LANG]
        return template.format(**values) if values else template

    def group(self, lang: str, group: str) -> dict[str, str]:
        """Every string of `group` in `lang`, keyed without the group prefix (for templates)."""
        lang = normalize_lang(lang)
        known = self._groups.get((lang, group))
        if known is None:
            prefix = f"{group}."
            known = self._groups[(lang, group)] = {
                key.removeprefix(prefix): entry[lang]
                for key, entry in self.messages.items()
                if key.startswith(prefix)
            }
        return dict(known)  # (a caller may change its copy)


def loads(text: str, source: str = TRANSLATIONS_FILE) -> Translations:
    """Translations from YAML text; `source` names the file in errors."""
    try:  # libyaml when available: loading this file is part of every build's start-up
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as exc:
        raise TranslationError(f"{source}: invalid YAML: {exc}".replace("\n", " ")) from exc
    return Translations(parse(data, source))


def load(path: Path) -> Translations:
    """A translation file from disk (tests use this on broken copies)."""
    return loads(path.read_text(encoding="utf-8"), str(path))


@cache
def translations() -> Translations:
    """The packaged `kp_contract/translations.yml`, loaded and checked once per process."""
    text = resources.files("kp_contract").joinpath(TRANSLATIONS_FILE).read_text(encoding="utf-8")
    return loads(text, f"kp/{TRANSLATIONS_FILE}")


def t(lang: str, key: str, **values: Any) -> str:
    """Shorthand: `t("zh", "theme.buy_for", price="$49")`."""
    return translations().text(lang, key, **values)


def strings(lang: str, group: str = "theme") -> dict[str, str]:
    """All strings of one group in `lang`, e.g. the template variable `kp.t`."""
    return translations().group(lang, group)


def normalize_lang(value: str | None, default: str = DEFAULT_LANG) -> str:
    """A supported language from a tag such as 'zh-CN', 'zh_Hans' or 'en-GB'; else `default`."""
    if not value:
        return default
    base = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return base if base in LANGS else default


def language_name(lang: str) -> str:
    """The language's name in itself ('English', '中文'), as language pickers show it."""
    return t(lang, "language.name")


def format_date(value: dt.date, lang: str) -> str:
    """'June 16, 2026' in English, '2026年6月16日' in Chinese."""
    if normalize_lang(lang) == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value:%B} {value.day}, {value.year}"
