"""The hosted pages' HTML: one plain layout, readable at 375px, no JavaScript needed."""

from __future__ import annotations

from html import escape

_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a1f36;
background:#f6f8fa}
main{max-width:28rem;margin:0 auto;padding:1.25rem 1rem 3rem}
.badge{display:inline-block;font-size:.75rem;font-weight:600;color:#a04100;background:#ffde92;
border-radius:4px;padding:0 .4rem;margin-bottom:1rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
.panel{background:#fff;border:1px solid #e3e8ee;border-radius:8px;padding:1rem;margin:0 0 1rem}
.row{display:flex;justify-content:space-between;gap:1rem;padding:.25rem 0}
.row span:last-child{text-align:right;white-space:nowrap}
.total{border-top:1px solid #e3e8ee;margin-top:.5rem;padding-top:.5rem;font-weight:600}
.muted{color:#697386;font-size:.9rem}
label{display:block;font-size:.9rem;font-weight:500;margin:.75rem 0 .25rem}
input{width:100%;font:inherit;padding:.6rem .7rem;border:1px solid #cfd7df;border-radius:6px;
background:#fff}
.inline{display:flex;gap:.5rem}
.inline input{flex:1}
button{font:inherit;border:0;border-radius:6px;padding:.7rem 1rem;cursor:pointer;
background:#e3e8ee;color:#1a1f36}
button.primary{display:block;width:100%;margin-top:1.25rem;background:#635bff;color:#fff;
font-weight:600}
button.danger{background:#fff;color:#c0123c;border:1px solid #f4b6c2}
.error{background:#fff0f0;border:1px solid #f4b6c2;color:#a4001f;border-radius:6px;
padding:.6rem .75rem;margin:0 0 1rem}
.ok{background:#effaf3;border:1px solid #b4e2c6;color:#0d6632;border-radius:6px;
padding:.6rem .75rem;margin:0 0 1rem}
a{color:#635bff}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.75rem}
.actions form{margin:0}
.back{display:block;text-align:center;margin-top:1rem}
"""


def e(value: object) -> str:
    """Escape for HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, lang: str = "en") -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="{e(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><span class="badge">TEST MODE · stripe_local</span>{body}</main>'
        "</body></html>\n"
    )


def error_box(message: str | None) -> str:
    return f'<p class="error" role="alert">{e(message)}</p>' if message else ""
