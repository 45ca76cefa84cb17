"""Pinyin of Chinese text, in a module of its own: the romanizer process
(site_builder/accel/processes/romanize.py) imports only this and pypinyin, so it is ready
sooner."""

from __future__ import annotations


def pinyin_of(text: str) -> str:
    """Han characters of `text` as space-separated pinyin, everything else unchanged."""
    from pypinyin import Style, lazy_pinyin  # loads large dictionaries: only when needed

    return " ".join(lazy_pinyin(text, style=Style.NORMAL, errors="default"))
