"""The PDF certificate (QR code to the verification page, any name, deterministic) and the SVG badge
(well-formed, escaped, deterministic), served by the credential service on a real PostgreSQL."""

from __future__ import annotations

import re
import uuid
from xml.etree import ElementTree

import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from tessera_credential.pages import pdf as pdf_module
from tests.credential.integration.test_credential_issuance_world import BASE, definition, revoke
from tests.credential.integration.test_credential_pages_world import (
    issue,
    key_of,
    pages_service,
    pdf_streams,
    pipeline,
    seed_world,
)

pytestmark = pytest.mark.integration
SVG = "{http://www.w3.org/2000/svg}"


def qr_in_pdf(pdf: bytes, url: str) -> list[list[bool]]:
    """The QR code drawn under the link annotation to ``url`` on page 1, read back from the page's
    filled rectangles (``x y w h re f``) into a module matrix."""
    link = re.search(rb"/A <<[^>]*/URI \(" + re.escape(url.encode()) + rb"\)", pdf)
    assert link is not None, "no link annotation to the verification page"
    annotation = pdf[pdf.rfind(b"<<", 0, link.start()) : link.end()]
    rect = re.search(rb"/Rect \[([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\]", pdf[pdf.rfind(b"obj", 0, link.start()) :])
    assert rect is not None, annotation
    x1, y1, x2, y2 = (float(v) for v in rect.groups())
    rects = []
    for stream in pdf_streams(pdf):
        for m in re.finditer(rb"(-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) re f", stream):
            x, y, w, h = (float(v) for v in m.groups())
            top, bottom = (y, y + h) if h < 0 else (y + h, y)
            if x1 - 0.5 <= x and x + w <= x2 + 0.5 and y1 - 0.5 <= bottom and top <= y2 + 0.5:
                rects.append((x, top, w, top - bottom))
    assert rects, "nothing is drawn under the link"
    module = min(h for *_, h in rects)
    size = round((x2 - x1) / module)
    matrix = [[False] * size for _ in range(size)]
    for x, top, w, _ in rects:
        row, col = round((y2 - top) / module), round((x - x1) / module)
        for c in range(col, col + round(w / module)):
            matrix[row][c] = True
    return matrix


def qr_reference(url: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    return [list(r) for r in code.get_matrix()]


async def test_the_certificate_is_a_pdf_whose_qr_code_leads_to_the_verification_page(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        key = key_of(row)
        response = await svc.client.get(f"/c/{key}.pdf")
        assert response.status_code == 200
        body = response.content
        assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == f'attachment; filename="tessera-credential-{key}.pdf"'
        assert response.headers["cache-control"] == "private, max-age=10"
        target = f"{BASE}/c/{key}"
        assert qr_in_pdf(body, target) == qr_reference(target)
        assert qr_in_pdf(body, target) != qr_reference(f"{BASE}/c/{uuid.uuid4()}")  # the reading is discriminating
        assert b"/Lang (en)" in body or b"/Lang(en)" in body
        # deterministic: same credential, language and status -> same bytes; ETag -> 304
        again = await svc.client.get(f"/c/{key}.pdf")
        assert again.content == body and again.headers["etag"] == response.headers["etag"]
        assert (
            await svc.client.get(f"/c/{key}.pdf", headers={"If-None-Match": response.headers["etag"]})
        ).status_code == 304
        german = await svc.client.get(f"/c/{key}.pdf?lang=de")
        assert german.headers["content-language"] == "de" and german.content != body
        assert b"/Lang (de)" in german.content or b"/Lang(de)" in german.content


async def test_names_outside_latin_1_never_break_the_certificate(servers, namespace, tokens, monkeypatch):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        names = [("Zoë", "Łukasiewicz-Ødegård"), ("Ἀλέξανδρος", "Παπαδόπουλος"), ("李", "雷"), ("أحمد", "😀 Ω\u200b")]
        keys = [key_of(await issue(pool, f"learner{i}", given=g, family=f)) for i, (g, f) in enumerate(names)]
        for key in keys:
            response = await svc.client.get(f"/c/{key}.pdf")
            assert response.status_code == 200 and response.content.startswith(b"%PDF-"), key
            assert qr_in_pdf(response.content, f"{BASE}/c/{key}") == qr_reference(f"{BASE}/c/{key}")
        # without any TrueType font (a minimal machine): core Helvetica, Latin-1 only, still a PDF
        monkeypatch.setattr(pdf_module, "available_fonts", lambda: pdf_module.Fonts("helvetica", False))
        svc.app.state.services["credential_pages"].certificates._made.clear()
        for key in keys:
            response = await svc.client.get(f"/c/{key}.pdf?lang=fr")
            assert response.status_code == 200 and response.content.startswith(b"%PDF-"), key
        text = b"".join(pdf_streams((await svc.client.get(f"/c/{keys[0]}.pdf?lang=fr")).content))
        assert b"(Zo\xeb Lukasiewicz-\xd8deg\xe5rd)" in text  # Latin-1 kept, Ł transliterated
        assert b"Certificat de r\xe9ussite" in text


async def test_a_revoked_credentials_certificate_says_so(servers, namespace, tokens, monkeypatch):
    monkeypatch.setattr(pdf_module, "available_fonts", lambda: pdf_module.Fonts("helvetica", False))  # readable text
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        active = b"".join(pdf_streams((await svc.client.get(f"/c/{key_of(row)}.pdf")).content))
        assert b"no longer valid" not in active
        async with pool.acquire() as conn:
            await revoke(conn, row["award_id"])
        await pipeline(pool).drain(pool)
        revoked = b"".join(pdf_streams((await svc.client.get(f"/c/{key_of(row)}.pdf")).content))
        assert b"(Revoked: this certificate is no longer valid)" in revoked


async def test_the_badge_is_well_formed_escaped_and_deterministic(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        hostile = 'Data & <Ethics> "2025" </text><script>alert(1)</script> \x01'
        nasty = definition("mc-nasty").model_copy(update={"title": {"en": hostile, "fr": "Données & éthique"}})
        await pool.execute(
            "INSERT INTO award_definitions (micro_credential_id, version, definition, event_id) VALUES ($1, 1, $2, $3)",
            "mc-nasty",
            nasty.model_dump(mode="json"),
            str(uuid.uuid4()),
        )
        response = await svc.client.get("/achievements/mc-nasty/v1/badge.svg")
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["content-security-policy"] == "default-src 'none'"
        root = ElementTree.fromstring(response.content)  # well-formed XML, or this raises
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.find(f"{SVG}title").text == hostile.replace("\x01", "")  # escaped, then read back exactly
        description = root.find(f"{SVG}desc").text
        assert "10 ECTS" in description and "EQF level 6" in description and "Ghent University" in description
        assert not list(root.iter(f"{SVG}script"))
        assert b"<script" not in response.content and b"&lt;script&gt;" in response.content
        texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
        assert "MICRO-CREDENTIAL" in texts and "10 ECTS · EQF 6" in texts
        # deterministic bytes, cacheable
        again = await svc.client.get("/achievements/mc-nasty/v1/badge.svg", headers={"Accept-Language": "nl"})
        assert again.content == response.content  # Accept-Language does not change an image
        assert response.headers["cache-control"] == "public, max-age=86400"
        cached = await svc.client.get(
            "/achievements/mc-nasty/v1/badge.svg", headers={"If-None-Match": response.headers["etag"]}
        )
        assert cached.status_code == 304
        french = ElementTree.fromstring((await svc.client.get("/achievements/mc-nasty/v1/badge.svg?lang=fr")).content)
        assert french.find(f"{SVG}title").text == "Données & éthique"
        assert "MICROCERTIFICATION" in ["".join(t.itertext()) for t in french.iter(f"{SVG}text")]
        # the page of a credential of this version shows the badge; unknown versions are 404
        row = await issue(pool, "ana")
        page = await svc.client.get(f"/c/{key_of(row)}")
        assert f'src="{BASE}/achievements/mc-data/v1/badge.svg"' in page.text
        versioned = await svc.client.get(f"{BASE}/achievements/mc-data/v1/badge.svg")
        assert versioned.status_code == 200
        # the latest published version's badge, under the micro-credential's own path
        await pool.execute(
            "INSERT INTO award_definitions (micro_credential_id, version, definition, event_id) VALUES ($1, 2, $2, $3)",
            "mc-data",
            definition("mc-data")
            .model_copy(update={"title": {"en": "Responsible Data Science II"}})
            .model_dump(mode="json"),
            str(uuid.uuid4()),
        )
        latest = await svc.client.get("/achievements/mc-data/badge.svg")
        assert latest.status_code == 200 and latest.headers["cache-control"] == "public, max-age=3600"
        assert ElementTree.fromstring(latest.content).find(f"{SVG}title").text == "Responsible Data Science II"
        assert (await svc.client.get("/achievements/mc-data/v1/badge.svg")).content == versioned.content
        assert (await svc.client.get("/achievements/nope/badge.svg")).status_code == 404
        for path in (
            "/achievements/mc-data/v3/badge.svg",
            "/achievements/nope/v1/badge.svg",
            "/achievements/%3C/v1/badge.svg",
        ):
            assert (await svc.client.get(path)).status_code == 404, path
