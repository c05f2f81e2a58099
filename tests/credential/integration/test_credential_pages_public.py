"""The public verification page (the share link) on a real PostgreSQL, with credentials signed by the
real issuance pipeline: what it shows, the live verification, status changes, i18n, caching."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime

import pytest

from tessera_credential.entrypoints.pages import wire_pages
from tessera_credential.issuance.wiring import wire_issuance
from tessera_credential.pages.i18n import LANGUAGES, MESSAGES, Translator, accept_language, negotiate
from tests.credential.integration.credential_award_support import AMSTERDAM, GENT, HEIDELBERG
from tests.credential.integration.test_credential_issuance_world import (
    BASE,
    award,
    issuance_settings,
    pathway_award,
    revoke,
    seed_catalogue,
    supersede,
)
from tests.credential.integration.test_credential_pages_world import (
    Html,
    check_accessible_basics,
    checks_of,
    credential_of,
    issue,
    key_of,
    logo_of,
    pages_service,
    pipeline,
    seed_learner,
    seed_world,
)

pytestmark = pytest.mark.integration


async def test_the_page_shows_the_signed_facts_the_awarding_bodies_and_a_valid_verification(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana", given="Ana", family="Peeters")
        key = key_of(row)

        response = await svc.client.get(f"/c/{key}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = Html(response.text)
        check_accessible_basics(page, "en")
        assert page.text("h1") == "Responsible Data Science"
        assert "Ana Peeters" in page.text("p", class_="lead")
        assert page.text("dd", id="ects") == "10"
        assert page.text("dd", id="eqf") == "6"
        assert "Analyse data responsibly" in page.text("ul", id="outcomes")
        # the live verification: every awarding body's signature checked on the stored document
        verdict = page.one("p", id="verdict")
        assert verdict["attrs"]["data-verdict"] == "valid"
        assert "authentic and valid" in verdict["text"]
        checks = checks_of(page)
        assert "Passed: Signed by Ghent University" in checks
        assert "Passed: Signed by University of Amsterdam" in checks
        assert all(c.startswith("Passed") for c in checks), checks
        assert page.one("p", id="status")["attrs"]["data-status"] == "active"
        # awarding bodies with names and logos (Heidelberg only contributes: not an awarding body)
        bodies = page.text("ul", id="bodies")
        assert "Ghent University" in bodies and "University of Amsterdam" in bodies
        assert "Heidelberg" not in bodies
        logos = {
            img["attrs"]["src"]: img["attrs"]["alt"] for img in page.find("img") if "logos." in img["attrs"]["src"]
        }
        assert logos == {
            logo_of(GENT): "Logo of Ghent University",
            logo_of(AMSTERDAM): "Logo of University of Amsterdam",
        }
        assert HEIDELBERG not in response.text
        # downloads: the JSON link serves this very credential
        json_link = page.one("a", id="download-json")["attrs"]["href"]
        assert json_link == f"{BASE}/credentials/{key}.json"
        served = await svc.client.get(json_link)
        assert served.status_code == 200 and json.loads(served.content)["id"] == row["credential_id"]
        assert page.one("a", id="download-pdf")["attrs"]["href"] == f"{BASE}/c/{key}.pdf?lang=en"
        # headers: cache, privacy of the share link, no scripts
        headers = response.headers
        assert headers["cache-control"] == "private, max-age=10"
        assert headers["referrer-policy"] == "no-referrer"
        assert "script-src" not in headers["content-security-policy"]
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["content-language"] == "en" and "Accept-Language" in headers["vary"]
        assert "<script" not in response.text
        again = await svc.client.get(f"/c/{key}", headers={"If-None-Match": headers["etag"]})
        assert again.status_code == 304


async def test_the_page_speaks_the_visitors_language_and_lang_overrides(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        key = key_of(await issue(pool, "ana"))
        cases = [
            (
                {"Accept-Language": "nl-BE,nl;q=0.9,en;q=0.5"},
                "",
                "nl",
                "Geverifieerd: dit credential is echt en geldig.",
            ),
            ({"Accept-Language": "fr-FR,fr;q=0.8"}, "", "fr", "Vérifié : ce justificatif est authentique et valide."),
            ({"Accept-Language": "fr"}, "?lang=de", "de", "Überprüft: Dieser Nachweis ist echt und gültig."),
            ({"Accept-Language": "es-ES,es;q=0.9"}, "", "en", "Verified: this credential is authentic and valid."),
            (
                {"Accept-Language": "de;q=0.5,nl;q=0.8"},
                "?lang=xx",
                "nl",
                "Geverifieerd: dit credential is echt en geldig.",
            ),
            ({}, "?lang=FR", "fr", "Vérifié : ce justificatif est authentique et valide."),
        ]
        for headers, query, lang, verdict in cases:
            response = await svc.client.get(f"/c/{key}{query}", headers=headers)
            assert response.status_code == 200
            page = Html(response.text)
            check_accessible_basics(page, lang)
            assert response.headers["content-language"] == lang
            assert " ".join(page.one("p", id="verdict")["text"].split()).endswith(verdict), (lang, query)
            # the signed texts stay in their own language, marked as such when it differs
            h1 = page.one("h1")
            assert " ".join(h1["text"].split()) == "Responsible Data Science"
            assert h1["attrs"].get("lang") == (None if lang == "en" else "en")
            # every language is offered, each link in its own language
            switch = {a["attrs"]["hreflang"]: a["attrs"]["href"] for a in page.find("a") if "hreflang" in a["attrs"]}
            assert set(switch) == {"en", "nl", "de", "fr"} - {lang}
            assert all(href == f"{BASE}/c/{key}?lang={code}" for code, href in switch.items())
        assert "ECTS-studiepunten" in (await svc.client.get(f"/c/{key}?lang=nl")).text
        assert "EQR-Niveau" in (await svc.client.get(f"/c/{key}?lang=de")).text


async def test_revocation_shows_at_once_and_the_verification_fails(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        key = key_of(row)
        before = Html((await svc.client.get(f"/c/{key}")).text)
        assert before.one("p", id="verdict")["attrs"]["data-verdict"] == "valid"
        async with pool.acquire() as conn:
            await revoke(conn, row["award_id"], "criteria no longer met: C2 withdrawn (grade 0.3)")
        await pipeline(pool).drain(pool)

        response = await svc.client.get(f"/c/{key}")
        page = Html(response.text)
        assert page.one("p", id="status")["attrs"]["data-status"] == "revoked"
        assert "This credential was revoked on" in page.text("p", id="status")
        assert page.one("p", id="verdict")["attrs"]["data-verdict"] == "invalid"  # the report saw the status bit
        assert "Failed: Not revoked (status list)" in checks_of(page, "bad")
        assert "the credential is revoked" in response.text  # the report's own problem, in English
        assert "C2 withdrawn" not in response.text  # the reason stays private (it can reveal grades)


async def test_a_superseded_credential_links_its_successor_and_back(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        first = await issue(pool, "ana")
        async with pool.acquire() as conn:
            second_award = await supersede(conn, first["award_id"], "ana")
        await pipeline(pool).drain(pool)
        second = dict(await pool.fetchrow("SELECT * FROM issued_credentials WHERE award_id = $1", second_award))

        old = Html((await svc.client.get(f"/c/{key_of(first)}?lang=fr")).text)
        assert old.one("p", id="status")["attrs"]["data-status"] == "superseded"
        assert old.one("p", id="verdict")["attrs"]["data-verdict"] == "invalid"
        assert old.one("a", id="successor-link")["attrs"]["href"] == f"{BASE}/c/{key_of(second)}"
        assert "Voir le justificatif qui le remplace" in old.text("a", id="successor-link")

        new = await svc.client.get(f"/c/{key_of(second)}")
        page = Html(new.text)
        assert page.one("p", id="verdict")["attrs"]["data-verdict"] == "valid"
        assert [a for a in page.find("a") if a["attrs"].get("href") == f"{BASE}/c/{key_of(first)}"]


async def test_a_tampered_stored_document_is_reported_invalid(servers, namespace, tokens):
    """The page really verifies: a forged field in the stored document breaks every proof."""
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        row = await issue(pool, "ana")
        key = key_of(row)
        assert Html((await svc.client.get(f"/c/{key}")).text).one("p", id="verdict")["attrs"]["data-verdict"] == "valid"
        await pool.execute(
            """UPDATE issued_credentials SET document = jsonb_set(document, '{credentialSubject,name}', '"Mallory"')
               WHERE credential_id = $1""",
            row["credential_id"],
        )
        page = Html((await svc.client.get(f"/c/{key}")).text)
        assert "Mallory" in page.text("p", class_="lead")
        assert page.one("p", id="verdict")["attrs"]["data-verdict"] == "invalid"
        checks = checks_of(page, "bad")
        assert "Failed: No valid signature of Ghent University" in checks
        assert "Failed: No valid signature of University of Amsterdam" in checks


async def test_a_pathway_credential_page_lists_the_stacked_micro_credentials(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        pool = svc.runtime.pool
        await seed_world(pool)
        async with pool.acquire() as conn:
            await seed_catalogue(conn, mc_id="mc-ml", offering_id="off-2")
            await seed_learner(conn, "ana", "Ana", "Peeters")
            data = await award(conn, "ana")
            ml = await award(conn, "ana", mc_id="mc-ml", offering_id="off-2")
            bundle = await pathway_award(conn, "ana", [data, ml])
        assert await pipeline(pool).drain(pool) == 3
        row = await credential_of(pool, bundle)
        response = await svc.client.get(f"/c/{key_of(row)}")
        assert response.status_code == 200
        page = Html(response.text)
        check_accessible_basics(page, "en")
        assert page.text("p", class_="kind") == "Stacked credential (pathway)"
        assert "Ana Peeters" in page.text("p", class_="lead")
        stacked = page.one("h2", id="stacked-heading")
        assert stacked["text"] == "Micro-credentials included"
        assert response.text.count("<li>Responsible Data Science</li>") == 2  # both stacked members (same title)
        checks = checks_of(page, "ok")
        assert "Passed: Signed by Ghent University" in checks and "Passed: Signed by University of Amsterdam" in checks
        assert page.find("img", class_="badge-image") == []  # pathways have no badge image yet
        pdf = await svc.client.get(f"/c/{key_of(row)}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
        backpack = Html((await svc.client.get("/backpack", headers=tokens.headers("ana", ["learner"]))).text)
        assert len(backpack.find("article", class_="card credential")) == 3


async def test_unknown_and_malformed_keys_get_a_404_page(servers, namespace, tokens):
    async with pages_service(servers, namespace, tokens) as svc:
        for path in ("/c/3f0c8a57-1d7e-4b8e-9a53-2a8f7c0f0e11", "/c/not-a-key", "/c/%3Cscript%3E"):
            response = await svc.client.get(path, headers={"Accept-Language": "de"})
            assert response.status_code == 404, path
            page = Html(response.text)
            check_accessible_basics(page, "de")
            assert page.text("h1") == "Nachweis nicht gefunden"
            assert "<script>" not in response.text
        for path in ("/c/3f0c8a57-1d7e-4b8e-9a53-2a8f7c0f0e11.pdf", "/c/nope.pdf"):
            assert (await svc.client.get(path)).status_code == 404


@pytest.mark.unit
def test_every_message_exists_in_every_language_with_the_same_placeholders():
    formatter = string.Formatter()
    for key, texts in MESSAGES.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {lang: sorted(f for _, f, _, _ in formatter.parse(text) if f) for lang, text in texts.items()}
        assert len({tuple(f) for f in fields.values()}) == 1, (key, fields)
        assert all(text.strip() for text in texts.values()), key


@pytest.mark.unit
def test_language_negotiation():
    assert accept_language("nl-BE,nl;q=0.9,en;q=0.5,*;q=0.1") == ["nl-be", "nl", "en"]
    assert accept_language("en;q=0, de;q=0.2, fr;q=oops, <x>;q=1, es") == ["es", "de"]
    assert negotiate(None, "es, de;q=0.2, en;q=0.1") == "de"
    assert negotiate("NL", "fr") == "nl" and negotiate("xx", "fr") == "fr" and negotiate(None, None) == "en"
    assert negotiate(None, "x" * 5000) == "en"
    t = Translator("de")
    assert t.number("7.50") == "7,5" and t.number(10) == "10" and Translator("en").number("7.5") == "7.5"
    assert t.date(datetime(2025, 3, 12, 23, 30, tzinfo=UTC)) == "12. März 2025"
    assert Translator("fr").date(datetime(2025, 8, 1, tzinfo=UTC)) == "1 août 2025"


@pytest.mark.unit
def test_every_page_route_is_public_or_asks_for_a_token():
    """The kernel's rule (tests/services/test_every_route_is_guarded.py), for the app with the pages wired."""
    from tessera_credential.bootstrap import build
    from tessera_shared.kernel.app import create_app
    from tessera_shared.kernel.auth import PUBLIC_MARK

    definition = build()
    wire_issuance(definition, settings=issuance_settings())
    wire_pages(definition)
    wire_pages(definition)  # twice is harmless
    assert sum(1 for r in definition.routers if any(getattr(x, "path", "") == "/backpack" for x in r.routes)) == 1
    paths = create_app(definition).openapi()["paths"]
    ours = {
        ("get", "/c/{credential_key}"): True,
        ("get", "/c/{credential_key}.pdf"): True,
        ("get", "/achievements/{mc_id}/v{version}/badge.svg"): True,
        ("get", "/achievements/{mc_id}/badge.svg"): True,
        ("post", "/backpack/session"): True,
        ("post", "/backpack/sign-out"): True,
        ("get", "/backpack"): False,
    }
    for (method, path), is_public in ours.items():
        operation = paths[path][method]
        assert bool(operation.get(PUBLIC_MARK)) is is_public, path
        assert bool(operation.get("security")) is not is_public, path
