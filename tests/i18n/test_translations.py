"""kp_contract/translations.yml: every string in every language, same placeholders, every key the
templates use exists; and the loader refuses files that break those rules, naming the key."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from kp_contract.i18n import (
    LANGS,
    TranslationError,
    format_date,
    load,
    loads,
    normalize_lang,
    placeholders,
    strings,
    t,
    translations,
)

REPO = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPO / "kp_contract" / "translations.yml"


def test_every_key_has_every_language_with_the_same_placeholders():
    raw = yaml.safe_load(TRANSLATIONS.read_text(encoding="utf-8"))
    keys = [(group, key, entry) for group, entries in raw.items() for key, entry in entries.items()]
    assert len(keys) >= 45
    for group, key, entry in keys:
        assert set(entry) == set(LANGS), f"{group}.{key}"
        assert all(isinstance(text, str) and text.strip() for text in entry.values())
        assert len({frozenset(placeholders(text)) for text in entry.values()}) == 1, key
    assert set(translations().messages) == {f"{g}.{k}" for g, k, _ in keys}


def test_chinese_strings_are_chinese():
    """A copy-pasted English value under `zh:` is as bad as a missing one."""
    han = re.compile(r"[\u4e00-\u9fff]")
    # Not words: an address, and "{site}：{title}" where only the punctuation is Chinese.
    not_words = {"theme.email_placeholder", "growth.mail_subject_one"}
    for key, entry in translations().messages.items():
        if key not in not_words:
            assert han.search(entry["zh"]), key
            assert entry["zh"] != entry["en"], key


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("theme:\n  buy: {en: Buy}\n", "theme.buy: missing zh"),
        ("theme:\n  buy: {zh: 购买}\n", "theme.buy: missing en"),
        ("theme:\n  buy: {en: Buy, zh: '', fr: Acheter}\n", "unknown language(s) fr"),
        ("theme:\n  buy: {en: Buy, zh: '  '}\n", "theme.buy.zh: expected non-empty text"),
        (
            'theme:\n  buy_for: {en: "Buy for {price}", zh: "{amount} 购买"}\n',
            "theme.buy_for: languages use different placeholders",
        ),
        ("theme:\n  buy: Buy\n", "theme.buy: expected a mapping of language to text"),
        ("theme:\n  Buy-Now: {en: Buy, zh: 购买}\n", "keys are lower-case words"),
        ("- a list\n", "expected a mapping of groups"),
        ("theme: {buy: {en: [unclosed\n", "invalid YAML"),
    ],
)
def test_loader_refuses_incomplete_files(tmp_path, yaml_text, problem):
    path = tmp_path / "translations.yml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(TranslationError) as caught:
        load(path)
    assert problem in str(caught.value) and str(path) in str(caught.value)


def test_loader_reports_every_missing_string_at_once():
    with pytest.raises(TranslationError) as caught:
        loads("theme:\n  a: {en: A}\n  b: {zh: 乙}\nnav:\n  c: {en: C}\n")
    message = str(caught.value)
    assert "theme.a: missing zh" in message
    assert "theme.b: missing en" in message
    assert "nav.c: missing zh" in message


def test_the_packaged_file_is_the_one_in_the_repository():
    assert translations() == load(TRANSLATIONS)


def _template_keys() -> set[str]:
    """`kp.t.<key>` and `kp.t["<key>"]` / `kp.t["mode_" ~ …]` used by the theme."""
    keys: set[str] = set()
    for path in (REPO / "themes").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"kp\.t\.([a-z_]+)", text))
        keys |= set(re.findall(r'kp\.t\["([a-z_]+)"\]', text))
        for prefix in re.findall(r'kp\.t\["([a-z_]+)"\s*~', text):
            keys |= {k for k in strings("en") if k.startswith(prefix)}
    return keys


def test_every_string_the_theme_uses_exists_in_both_languages():
    used = _template_keys()
    assert {"buy_for", "paywall_title", "send_link", "mode_payment", "per_month"} <= used
    for lang in LANGS:
        missing = used - set(strings(lang))
        assert missing == set(), (lang, missing)


def test_text_lookup_formats_and_falls_back():
    assert t("zh", "theme.buy_for", price="$49") == "$49 购买"
    assert t("en", "theme.buy_for", price="$49") == "Buy for $49"
    assert t("fr", "theme.sign_in") == "Sign in", "unknown language: the default one"
    with pytest.raises(KeyError, match="no translation 'theme.nope'"):
        t("en", "theme.nope")


@pytest.mark.parametrize(
    ("tag", "lang"),
    [("zh", "zh"), ("zh-CN", "zh"), ("zh_Hans", "zh"), ("EN-gb", "en"), ("fr", "en"), (None, "en")],
)
def test_language_tags_are_normalized(tag, lang):
    assert normalize_lang(tag) == lang


def test_dates_per_language():
    day = dt.date(2026, 3, 5)
    assert format_date(day, "zh") == "2026年3月5日"
    assert format_date(day, "en") == "March 5, 2026"
    assert format_date(day, "zh-CN") == "2026年3月5日"


def _python_keys() -> set[str]:
    """Keys the Python code asks for: `t(lang, "group.key")` calls with a literal key and
    `t["key"]` lookups on the theme strings (views.py)."""
    groups = "|".join(sorted({key.split(".")[0] for key in translations().messages}))
    keys: set[str] = set()
    for package in ("kp_contract", "site_builder", "kp", "paywall"):
        for path in (REPO / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            call = rf"""\bt\(\s*[a-z_.'"]+,\s*["']((?:{groups})\.[a-z_]+)["']"""
            keys |= set(re.findall(call, text))
            keys |= {f"theme.{k}" for k in re.findall(r'\bt\["([a-z_]+)"\]', text)}
    return keys


def test_every_string_the_code_uses_exists():
    used = _python_keys()
    assert {"nav.articles", "language.name", "theme.join_title", "theme.learn_more"} <= used
    assert {"sign_in.button", "account.title", "term.renews"} <= used, "the paywall's too"
    assert used - set(translations().messages) == set()
