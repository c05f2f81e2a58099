"""The SVG badge image of an achievement (a published micro-credential version).

Deterministic: the same inputs give the same bytes (no dates, no random ids; the colour is chosen
from a fixed palette by a hash of the achievement id), so the image can be cached and, later, named
in credentials (``achievement.image``). Every text is XML-escaped, characters XML 1.0 forbids are
dropped, and the SVG holds no script, no external reference and no style sheet: it is safe to serve
and to embed. It is accessible: ``role="img"`` with a ``<title>`` and a ``<desc>``.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from xml.sax.saxutils import escape, quoteattr

# Dark tones: white text on each has a contrast ratio above 7:1.
PALETTE = ("#0b3a6e", "#5b2a86", "#0a5c4a", "#7a2a0c", "#1f4e5f", "#6b1d3a")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TITLE_CHARS, _TITLE_LINES = 19, 4


def xml_text(value: str, limit: int = 500) -> str:
    """Escaped text for an XML text node (invalid XML characters removed, length bounded)."""
    return escape(_NOT_XML.sub("", value)[:limit])


def xml_attr(value: str, limit: int = 200) -> str:
    """A quoted, escaped XML attribute value."""
    return quoteattr(_NOT_XML.sub("", value)[:limit])


def wrap(text: str, width: int, lines: int) -> list[str]:
    """Greedy word wrap; over-long words broken; an ellipsis when it does not fit in ``lines``."""
    clean = " ".join(_NOT_XML.sub("", text).split())
    wrapped = textwrap.wrap(clean, width=width, break_long_words=True, break_on_hyphens=True) or [""]
    if len(wrapped) <= lines:
        return wrapped
    kept = wrapped[:lines]
    kept[-1] = kept[-1][: width - 1].rstrip() + "…"
    return kept


def shorten(text: str, width: int) -> str:
    clean = " ".join(_NOT_XML.sub("", text).split())
    return clean if len(clean) <= width else clean[: width - 1].rstrip() + "…"


def colour_for(seed: str) -> str:
    return PALETTE[hashlib.sha256(seed.encode("utf-8")).digest()[0] % len(PALETTE)]


def badge_svg(
    *,
    seed: str,
    title: str,
    label: str,
    ects: str | None,
    eqf: str | None,
    issuer: str | None,
    language: str,
    description: str,
) -> str:
    """The badge: a tessera tile with the label, the title, ECTS and EQF level, and the issuer."""
    colour = colour_for(seed)
    facts = " · ".join(p for p in (f"{ects} ECTS" if ects else None, f"EQF {eqf}" if eqf else None) if p)
    title_lines = wrap(title, _TITLE_CHARS, _TITLE_LINES)
    first_y = 105 - (len(title_lines) - 1) * 9.5
    tspans = "".join(
        f'<tspan x="120" y="{first_y + i * 19:g}">{xml_text(line)}</tspan>' for i, line in enumerate(title_lines)
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="240" viewBox="0 0 240 240" role="img" ',
        f'aria-labelledby="badge-title badge-desc" xml:lang={xml_attr(language, 35)}>',
        f'<title id="badge-title">{xml_text(title)}</title>',
        f'<desc id="badge-desc">{xml_text(description, 1000)}</desc>',
        f'<polygon points="120,6 218,63 218,177 120,234 22,177 22,63" fill="{colour}"/>',
        '<polygon points="120,16 209,68 209,172 120,224 31,172 31,68" fill="none" stroke="#ffffff" '
        'stroke-opacity="0.6" stroke-width="2"/>',
        '<g fill="#ffffff" font-family="DejaVu Sans, Verdana, Arial, sans-serif" text-anchor="middle">',
        f'<text x="120" y="54" font-size="10" font-weight="700" letter-spacing="1.5">{xml_text(label.upper(), 40)}'
        "</text>",
        f'<text font-size="15" font-weight="700">{tspans}</text>',
        '<line x1="60" y1="158" x2="180" y2="158" stroke="#ffffff" stroke-opacity="0.6" stroke-width="1"/>',
    ]
    if facts:
        parts.append(f'<text x="120" y="178" font-size="13" font-weight="700">{xml_text(facts, 60)}</text>')
    if issuer:
        parts.append(f'<text x="120" y="197" font-size="9.5">{xml_text(shorten(issuer, 24))}</text>')
    parts.append("</g></svg>\n")
    return "".join(parts)
