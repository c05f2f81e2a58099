"""The printable certificate (PDF, A4 landscape) of a credential, with a QR code to its verification page.

* **Fonts:** no network. The first Unicode TrueType font found at a Debian path is used (DejaVu Sans,
  then Liberation Sans, then Noto Sans); a CJK-capable font, when one is installed, is added as a
  fallback for glyphs the main font lacks. Without any of them the PDF falls back to the core
  Helvetica font (Latin-1). Characters no available font can draw become ``?`` rather than a
  crash or an invisible glyph (e.g. a Chinese name on a machine without a CJK font).
* **QR code:** the verification page's URL, error correction level M, drawn as vector rectangles
  (sharp at any zoom, and checkable in tests), under a link annotation to the same URL.
* **Deterministic:** the PDF's creation date is the credential's issue time, so the same credential,
  language and status always give the same bytes (fpdf2 derives the file id from the content).
* **Status at generation time:** a revoked or superseded credential's certificate carries a banner
  saying so; the QR code leads to the live status either way.
* Page 2 lists the learning outcomes, awarding institutions and the credential id.
* **Cost:** ≈ 0.2–0.3 s of CPU per certificate (font subsetting), so :class:`Certificates` makes at
  most ``concurrency`` at once, in worker threads, and keeps the last ``max_entries`` (by view and
  language: a changed status or document makes a new entry).
"""

from __future__ import annotations

import asyncio
import functools
import os
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import qrcode
import structlog
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

from tessera_credential.pages.i18n import Translator
from tessera_credential.pages.views import CredentialView

log = structlog.get_logger(__name__)

# (regular, bold) pairs in order of preference; the first pair present is used.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
)
FALLBACK_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
# For the Latin-1 core font only: punctuation and Latin letters that have no decomposition.
_LATIN_1 = str.maketrans(
    {"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "...", "•": "*"}
    | {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t"}
    | {"Œ": "OE", "œ": "oe", "Ŋ": "N", "ŋ": "n", "ĸ": "k", "ŉ": "'n", "ſ": "s"}
)

PAGE_W, PAGE_H = 297.0, 210.0
QR_SIZE = 38.0
INK = (27, 27, 31)
BRAND = (11, 58, 110)
MUTED = (74, 74, 85)
ALERT = (155, 28, 28)


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of ``url`` (level M, smallest version, no quiet zone: the page margin is one)."""
    code = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


@functools.lru_cache(maxsize=16)
def _coverage(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=0, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


@dataclass(frozen=True)
class Fonts:
    family: str
    unicode: bool
    regular: str | None = None
    bold: str | None = None
    fallback: str | None = None

    def covered(self) -> frozenset[int]:
        """Code points every style can draw (regular and bold, or the fallback font)."""
        return _covered(self)


@functools.lru_cache(maxsize=4)
def _covered(fonts: Fonts) -> frozenset[int]:
    if not fonts.unicode or not fonts.regular or not fonts.bold:
        return frozenset()
    extra = _coverage(fonts.fallback) if fonts.fallback else frozenset()
    return (_coverage(fonts.regular) & _coverage(fonts.bold)) | extra


@functools.lru_cache(maxsize=1)
def available_fonts() -> Fonts:
    for regular, bold in FONT_CANDIDATES:
        if os.path.isfile(regular) and os.path.isfile(bold):
            fallback = next((p for p in FALLBACK_CANDIDATES if os.path.isfile(p)), None)
            return Fonts("body", True, regular, bold, fallback)
    log.warning("no TrueType font found at the usual Debian paths; certificates use Helvetica (Latin-1 only)")
    return Fonts("helvetica", False)


def printable(text: str, fonts: Fonts) -> str:
    """``text`` with control characters dropped and every character the fonts cannot draw replaced."""
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    if fonts.unicode:
        covered = fonts.covered()
        return "".join(c if c == " " or ord(c) in covered else "?" for c in text)
    out = []
    for c in text.translate(_LATIN_1):
        if ord(c) < 256:
            out.append(c)
            continue
        stripped = "".join(d for d in unicodedata.normalize("NFKD", c) if not unicodedata.combining(d))
        out.append(stripped if stripped and all(ord(d) < 256 for d in stripped) else "?")
    return "".join(out)


class _Certificate(FPDF):
    def __init__(self, fonts: Fonts) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.choice = fonts
        if fonts.unicode:
            assert fonts.regular and fonts.bold
            self.add_font(fonts.family, "", fonts.regular)
            self.add_font(fonts.family, "B", fonts.bold)
            if fonts.fallback:
                self.add_font("fallback", "", fonts.fallback)
                self.set_fallback_fonts(["fallback"], exact_match=False)

    def font(self, size: float, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        self.set_font(self.choice.family, "B" if bold else "", size)
        self.set_text_color(*color)

    def text_of(self, value: str) -> str:
        return printable(value, self.choice)

    def centred(self, value: str, size: float, *, bold: bool = False, color: tuple[int, int, int] = INK) -> None:
        """One centred line, shrunk to fit the width (down to 60 %), wrapped when still too long."""
        text = self.text_of(value)
        width = PAGE_W - 50
        actual = size
        self.font(actual, bold, color)
        while self.get_string_width(text) > width and actual > size * 0.6:
            actual -= 0.5
            self.font(actual, bold, color)
        self.set_x(25)
        self.multi_cell(width, actual * 0.45, text, align="C", new_x="LMARGIN", new_y="NEXT")


def _draw_qr(pdf: FPDF, url: str, x: float, y: float, size: float) -> None:
    matrix = qr_matrix(url)
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(x + start * module, y + r * module, (c - start) * module, module, style="F")
    pdf.link(x, y, size, size, url)


def _facts(view: CredentialView, t: Translator) -> str:
    parts = []
    if view.ects_available is not None:
        parts.append(f"{t.number(view.ects_available)} ECTS")
    if view.eqf_level:
        parts.append(f"{t('eqf_level')} {view.eqf_level}")
    parts.append(f"{t('awarded_on')} {t.date(view.valid_from or view.issued_at)}")
    if view.valid_until:
        parts.append(f"{t('valid_until')} {t.date(view.valid_until)}")
    return "  ·  ".join(parts)


def _bodies(view: CredentialView) -> str:
    return ", ".join(f"{b.name} ({b.country})" if b.country else b.name for b in view.bodies)


def certificate_pdf(view: CredentialView, t: Translator) -> bytes:
    """The certificate of ``view`` in ``t``'s language; the QR code and link lead to ``view.share_url``."""
    fonts = available_fonts()
    pdf = _Certificate(fonts)
    pdf.set_creation_date(view.issued_at)
    pdf.set_title(pdf.text_of(view.title))
    pdf.set_author(pdf.text_of(view.issuer_name or "Tessera"))
    pdf.set_subject(pdf.text_of(t("pdf_heading")))
    pdf.set_creator("Tessera credential service")
    pdf.set_lang(t.language)
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()

    pdf.set_draw_color(*BRAND)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, PAGE_W - 16, PAGE_H - 16, style="D")
    pdf.set_line_width(0.3)
    pdf.rect(11, 11, PAGE_W - 22, PAGE_H - 22, style="D")

    pdf.set_y(20)
    pdf.centred("T E S S E R A", 11, bold=True, color=BRAND)
    pdf.ln(2)
    pdf.centred(t("pdf_heading"), 26, bold=True, color=BRAND)
    pdf.ln(5)
    if not view.active:
        status = t(f"status_{view.status}")
        pdf.set_fill_color(*ALERT)
        pdf.font(13, True, (255, 255, 255))
        pdf.set_x(40)
        pdf.cell(PAGE_W - 80, 10, pdf.text_of(t("pdf_status_banner", status=status)), align="C", fill=True)
        pdf.ln(13)
    pdf.centred(t("pdf_certifies"), 13, color=MUTED)
    pdf.ln(2)
    pdf.centred(view.learner_name or "", 26, bold=True)
    pdf.ln(2)
    pdf.centred(t("pdf_has_earned_pathway" if view.kind == "pathway" else "pdf_has_earned"), 13, color=MUTED)
    pdf.ln(2)
    pdf.centred(view.title, 20, bold=True, color=BRAND)
    pdf.ln(3)
    pdf.centred(_facts(view, t), 12)
    if view.bodies:
        pdf.ln(2)
        pdf.centred(f"{t('awarding_bodies')}: {_bodies(view)}", 11, color=MUTED)

    qr_x, qr_y = PAGE_W - 22 - QR_SIZE, PAGE_H - 30 - QR_SIZE
    _draw_qr(pdf, view.share_url, qr_x, qr_y, QR_SIZE)
    pdf.font(9, color=MUTED)
    pdf.set_xy(qr_x - 6, qr_y + QR_SIZE + 1.5)
    pdf.cell(QR_SIZE + 12, 4, pdf.text_of(t("pdf_scan")), align="C")

    left_w = qr_x - 30
    pdf.set_xy(22, qr_y + 6)
    pdf.font(10, True, INK)
    pdf.multi_cell(left_w, 5, pdf.text_of(t("pdf_verify_at")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(22)
    pdf.font(10, color=BRAND)
    pdf.multi_cell(left_w, 5, view.share_url, link=view.share_url, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(22)
    pdf.font(8, color=MUTED)
    pdf.multi_cell(left_w, 4, f"{pdf.text_of(t('credential_id'))}: {view.credential_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(22)
    pdf.multi_cell(left_w, 4, pdf.text_of(t("pdf_signed_note")), new_x="LMARGIN", new_y="NEXT")

    _annex(pdf, view, t)
    return bytes(pdf.output())


def _section(pdf: _Certificate, title: str, lines: Iterable[str]) -> None:
    pdf.ln(3)
    pdf.font(13, True, BRAND)
    pdf.multi_cell(0, 7, pdf.text_of(title), new_x="LMARGIN", new_y="NEXT")
    pdf.font(10.5)
    for line in lines:
        pdf.multi_cell(0, 5.5, pdf.text_of(f"•  {line}"), new_x="LMARGIN", new_y="NEXT")


def _annex(pdf: _Certificate, view: CredentialView, t: Translator) -> None:
    outcomes: Sequence[str] = [o.text for o in view.outcomes]
    if not outcomes and not view.stacked and not view.bodies:
        return
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    pdf.set_y(18)
    pdf.font(18, True, BRAND)
    pdf.multi_cell(0, 9, pdf.text_of(view.title), new_x="LMARGIN", new_y="NEXT")
    pdf.font(10.5, color=MUTED)
    pdf.multi_cell(0, 5.5, pdf.text_of(_facts(view, t)), new_x="LMARGIN", new_y="NEXT")
    if outcomes:
        _section(pdf, t("learning_outcomes"), outcomes)
    if view.stacked:
        _section(pdf, t("stacked_credentials"), view.stacked)
    if view.bodies:
        roles = {"issuer": t("role_issuer"), "co-awarder": t("role_co_awarder")}
        _section(pdf, t("awarding_bodies"), [f"{b.name} ({b.country}): {roles[b.role]}" for b in view.bodies])
    pdf.ln(4)
    pdf.font(8, color=MUTED)
    pdf.multi_cell(0, 4, f"{pdf.text_of(t('credential_id'))}: {view.credential_id}", new_x="LMARGIN", new_y="NEXT")


class Certificates:
    """Certificates made off the event loop, a few at a time, the most recent ones kept."""

    def __init__(self, *, concurrency: int = 2, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._made: OrderedDict[tuple[CredentialView, str], bytes] = OrderedDict()

    async def pdf(self, view: CredentialView, t: Translator) -> bytes:
        key = (view, t.language)
        found = self._made.get(key)
        if found is not None:
            self._made.move_to_end(key)
            return found
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._concurrency)
        async with self._slots:
            body = await asyncio.to_thread(certificate_pdf, view, t)
        self._made[key] = body
        while len(self._made) > self.max_entries:
            self._made.popitem(last=False)
        return body
