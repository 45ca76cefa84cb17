"""Wording of the growth features (invites on the account page, newsletter mails and the
unsubscribe page, the admin dashboard): the `growth` group of `kp_contract/translations.yml`,
the one translation file of the product, so every language check there covers these strings too.

`gt` is the growth modules' shorthand for `kp_contract.i18n.t(lang, "growth.<key>")`. Values are
plain text (escape them where they are used).
"""

from __future__ import annotations

from kp_contract.i18n import LANGS, normalize_lang, translations

GROUP = "growth"

TEXTS: dict[str, dict[str, str]] = {
    key.removeprefix(f"{GROUP}."): entry
    for key, entry in translations().messages.items()
    if key.startswith(f"{GROUP}.")
}


def gt(lang: str | None, key: str, **values: object) -> str:
    """The growth text `key` in `lang` (the default language for an unknown one)."""
    if key not in TEXTS:
        raise KeyError(f"no growth text {key!r} in kp_contract/translations.yml (group {GROUP!r})")
    return translations().text(normalize_lang(lang), f"{GROUP}.{key}", **values)


__all__ = ["LANGS", "TEXTS", "gt"]
