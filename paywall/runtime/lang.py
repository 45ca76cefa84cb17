"""Which language the paywall answers in, and its strings (from kp_contract/translations.yml).

Pages (sign-in, account, checkout status) follow the reader: the language the page they came
from sent (`lang` form field or query, which every form and the header's account link carry),
else the signed-in member's own language, else the language of the page they came from
(`/zh/…`, or a gated page's language in the manifest), else the browser's Accept-Language,
else the site's language. E-mails follow the member (`Member.lang`, set when they joined).
"""

from __future__ import annotations

from starlette.requests import Request

from kp_contract.i18n import LANGS, format_date, normalize_lang, t
from paywall.database.models import Member
from paywall.runtime.context import Paywall

__all__ = ["LANGS", "format_date", "lang_of_path", "preferred_lang", "t", "valid_lang"]


def valid_lang(value: str | None) -> str | None:
    """`value` when it is one of the site's languages, else None."""
    return value if value in LANGS else None


def lang_of_path(pw: Paywall, path: str | None) -> str | None:
    """`/zh/articles/x/` → `zh` (the build puts translations under their language); a gated
    page's language from the manifest; None when the path says nothing."""
    first = (path or "").lstrip("/").split("/", 1)[0]
    if valid_lang(first):
        return first
    manifest = pw.manifest()
    page = manifest.page_for(path) if manifest and path and path.startswith("/") else None
    return valid_lang(page.lang) if page else None


def accepted_lang(request: Request) -> str | None:
    """The first of the browser's Accept-Language tags that the site speaks."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip()
        if tag and normalize_lang(tag, default="") in LANGS:
            return normalize_lang(tag)
    return None


def site_lang(pw: Paywall) -> str:
    manifest = pw.manifest()
    return valid_lang(manifest.default_lang if manifest else None) or "en"


def preferred_lang(
    pw: Paywall,
    request: Request,
    explicit: str | None = None,
    page: str | None = None,
    member: Member | None = None,
) -> str:
    """The language of a page the paywall renders (see the module docstring for the order)."""
    return (
        valid_lang(explicit)
        or valid_lang(member.lang if member is not None else None)
        or lang_of_path(pw, page)
        or accepted_lang(request)
        or site_lang(pw)
    )
