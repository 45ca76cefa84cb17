"""mkdocs-material's interface texts ("Search", "目录") looked up once per language and key.

Material's `partials/language.html` defines `t(key)` as a macro that calls the language
file's own macro, which builds its whole table of about a hundred texts on every call; a
page calls it a few dozen times. `ThemeText` renders that same expression once per
(language, key) and keeps the result, and `themes/partials/language.html` uses it when the
kp-content plugin registered it (`kp_theme_text`), so every page gets the same words for
less than a tenth of the cost.
"""

from __future__ import annotations

from collections.abc import Callable

import jinja2

# Exactly what material's partials/language.html prints for `t(key)`.
_EXPRESSION = (
    '{% import "partials/languages/" ~ lang ~ ".html" as lang_texts %}'
    '{% import "partials/languages/en.html" as fallback %}'
    "{{ lang_texts.t(key) or fallback.t(key) or key }}"
)


class ThemeText:
    """`for_lang(lang)` is a `t(key)` for templates, memoized for the life of the build."""

    def __init__(self, env: jinja2.Environment) -> None:
        self._template = env.from_string(_EXPRESSION)
        self._texts: dict[tuple[str, str], str] = {}

    def text(self, lang: str, key: str) -> str:
        found = self._texts.get((lang, key))
        if found is None:
            found = self._texts[(lang, key)] = self._template.render(lang=lang, key=key)
        return found

    def for_lang(self, lang: str) -> Callable[[str], str]:
        return lambda key: self.text(lang, key)
