"""A certificate as a PDF (reportlab), in the certificate's language. Chinese text (or a
name in Chinese on an English certificate) is set in WenQuanYi Zen Hei when the system has
it (Debian's fonts-wqy-zenhei, which .ci/run installs), embedded as a subset; else in
reportlab's built-in CID font STSong-Light, which needs no font file."""

from __future__ import annotations

import functools
import io
from pathlib import Path

from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
)
LATIN = ("Helvetica", "Helvetica-Bold")


@functools.cache
def cjk_font() -> str:
    """The registered name of a font with Chinese glyphs (see the module docstring)."""
    for path in CJK_FONT_FILES:
        if path.is_file():
            pdfmetrics.registerFont(TTFont("KPZenHei", str(path), subfontIndex=0))
            return "KPZenHei"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _latin1(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def certificate_pdf(
    *, title: str, name: str, text: str, issuer: str, reference: str, verify_url: str
) -> bytes:
    """One landscape A4 page: title, the name large, what was completed and when, who
    issued it, its number and the address where anyone can check it."""
    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = Canvas(buffer, pagesize=(width, height), invariant=True)
    pdf.setTitle(f"{title}: {name}")
    pdf.setStrokeColor(HexColor("#4051b5"))
    pdf.setLineWidth(6)
    pdf.rect(28, 28, width - 56, height - 56)
    pdf.setLineWidth(1)
    pdf.rect(40, 40, width - 80, height - 80)

    def line(value: str, size: int, y: float, bold: bool = False) -> None:
        font = LATIN[1 if bold else 0] if _latin1(value) else cjk_font()
        pdf.setFont(font, size)
        pdf.drawCentredString(width / 2, y, value)

    pdf.setFillColor(HexColor("#4051b5"))
    line(title, 34, height - 140, bold=True)
    pdf.setFillColor(HexColor("#111111"))
    line(name, 30, height - 230, bold=True)
    line(text, 15, height - 290)
    line(issuer, 13, height - 330)
    pdf.setFillColor(HexColor("#555555"))
    line(reference, 10, 90)
    line(verify_url, 10, 72)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
