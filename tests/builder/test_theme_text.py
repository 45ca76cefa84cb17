"""The theme's interface texts from site_builder.theme_text equal what mkdocs-material's
own `t(key)` macro prints, for every key and both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from material import __file__ as material_init

from site_builder.build import load_site_config
from site_builder.theme_text import ThemeText

REPO_ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = Path(material_init).parent / "templates" / "partials" / "languages"
KEYS = re.findall(r'^  "([^"]+)":', (LANGUAGES / "en.html").read_text("utf-8"), re.MULTILINE)
USES = '{% import "partials/language.html" as lang with context %}{{ lang.t(key) }}'


@pytest.fixture(scope="module")
def env():
    return load_site_config(REPO_ROOT / "mkdocs.yml").theme.get_env()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_memo_prints_what_the_macro_prints(env, lang: str) -> None:
    assert len(KEYS) > 50
    env.globals.pop("kp_theme_text", None)
    macro = env.from_string(USES)
    expected = {key: macro.render(kp={"lang": lang}, key=key) for key in [*KEYS, "no.such.key"]}
    env.globals["kp_theme_text"] = ThemeText(env)
    try:
        memo = env.from_string(USES)
        got = {key: memo.render(kp={"lang": lang}, key=key) for key in expected}
    finally:
        env.globals.pop("kp_theme_text")
    assert got == expected
    assert expected["no.such.key"] == "no.such.key"
    if lang == "zh":
        assert expected["search.placeholder"] == "搜索"
