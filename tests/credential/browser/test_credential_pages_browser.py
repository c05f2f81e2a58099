"""The learner and employer pages in a real headless Chromium (Debian's ``/usr/bin/chromium``, driven by
Playwright), against the credential service served by uvicorn on a free loopback port, on real
PostgreSQL and NATS. The pages render, the links work (share link, JSON download, PDF download,
LinkedIn), sign-in and sign-out work without JavaScript, and screenshots are kept under
``test-artifacts/credential-pages/`` (gitignored) as artefacts of the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import uvicorn

from tessera_credential.bootstrap import build
from tessera_credential.entrypoints.pages import wire_pages
from tessera_credential.issuance.wiring import wire_issuance
from tessera_shared.kernel import db
from tessera_shared.kernel.app import create_app
from tessera_shared.testing.apps import Tokens
from tests.credential.integration.credential_award_support import ensure_source_streams
from tests.credential.integration.test_credential_issuance_world import (
    issuance_settings,
    revoke,
    service_settings,
    supersede,
)
from tests.credential.integration.test_credential_pages_world import (
    credential_of,
    enrol,
    issue,
    key_of,
    pipeline,
    second_offering,
    seed_learner,
    seed_world,
)

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("Debian's chromium (/usr/bin/chromium) is not installed", allow_module_level=True)
async_playwright = pytest.importorskip("playwright.async_api").async_playwright

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "credential-pages"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServedApp:
    """The app under uvicorn in a thread of its own (own event loop), on 127.0.0.1:<port>."""

    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="pages-uvicorn", daemon=True)

    async def start(self, wait_seconds: float = 90.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + wait_seconds
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the credential service did not start under uvicorn")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, 30)


@dataclass
class World:
    base: str
    tokens: Tokens
    active: dict[str, Any]  # ana's credential
    revoked: dict[str, Any]  # bob's
    superseded: dict[str, Any]  # cara's first credential ...
    successor: dict[str, Any]  # ... and the one that replaced it


@pytest.fixture(scope="module")
async def world(servers) -> AsyncIterator[World]:
    namespace = "t" + uuid.uuid4().hex[:10]
    tokens = Tokens.generate()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    await ensure_source_streams(servers.nats_url, namespace)
    settings = service_settings(servers, namespace, tokens, public_base_url=base, run_background=False)
    definition = build(settings)
    wire_issuance(definition, settings=issuance_settings())
    wire_pages(definition)
    served = ServedApp(create_app(definition), port)
    await served.start()
    pool = await db.create_pool(settings.database_url, size=4)
    try:
        await seed_world(pool, base)
        active = await issue(pool, "ana", base=base, given="Ana", family="Peeters")
        revoked = await issue(pool, "bob", base=base, given="Bob", family="Jansen")
        superseded = await issue(pool, "cara", base=base, given="Cara", family="Dubois")
        async with pool.acquire() as conn:
            await revoke(conn, revoked["award_id"])
            successor_award = await supersede(conn, superseded["award_id"], "cara")
            await enrol(conn, "bob", "off-1")  # the engine re-evaluated: no longer met
            await second_offering(conn)
            await seed_learner(conn, "bob", "Bob", "Jansen")
            await enrol(conn, "bob", "off-2")
        await pipeline(pool, base).drain(pool)
        yield World(
            base=base,
            tokens=tokens,
            active=active,
            revoked=await credential_of(pool, revoked["award_id"]),
            superseded=await credential_of(pool, superseded["award_id"]),
            successor=await credential_of(pool, successor_award),
        )
    finally:
        await pool.close()
        await served.stop()
        await db.drop_database(settings.database_url)


@pytest.fixture(scope="module")
async def browser(world) -> AsyncIterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    tab = await context.new_page()
    yield tab
    await context.close()


async def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 3_000, f"{name}: the screenshot is empty"
    return path


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


async def downloaded(download_info: Any) -> tuple[str, bytes]:
    """The suggested file name and the bytes of a finished download."""
    download = await download_info.value
    return download.suggested_filename, await asyncio.to_thread(_read, await download.path())


async def accessible_basics(page: Any, lang: str) -> None:
    """Language, one h1, alt text on every image, a label for every visible field — in the live DOM."""
    facts = await page.evaluate(
        """() => ({
            lang: document.documentElement.lang,
            h1: document.querySelectorAll('h1').length,
            noAlt: [...document.images].filter(i => !i.hasAttribute('alt')).length,
            unlabelled: [...document.querySelectorAll('input:not([type=hidden])')].filter(i => !i.labels.length).length,
            scripts: document.scripts.length,
            title: document.title,
        })"""
    )
    assert facts["lang"] == lang and facts["h1"] == 1 and facts["title"]
    assert facts["noAlt"] == 0 and facts["unlabelled"] == 0 and facts["scripts"] == 0


async def test_the_learner_signs_in_and_every_backpack_link_works(world, page):
    response = await page.goto(f"{world.base}/backpack")
    assert response.status == 401
    await accessible_basics(page, "en")
    await screenshot(page, "signin-en")

    # sign in with the form (no JavaScript): POST -> 303 -> the backpack with the cookie
    await page.get_by_label("Access token").fill(world.tokens.mint("ana", ["learner"]))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{world.base}/backpack?lang=en")
    assert await page.locator("h1").inner_text() == "My backpack"
    assert await page.locator("#signed-in").inner_text() == "Signed in as Ana Peeters"
    await accessible_basics(page, "en")
    cookies = await page.context.cookies()
    [cookie] = [c for c in cookies if c["name"] == "tessera_backpack"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/backpack"
    await screenshot(page, "backpack-en")

    key = key_of(world.active)
    card = page.locator(f'article[data-key="{key}"]')
    share = await card.get_by_label("Share link").input_value()
    assert share == f"{world.base}/c/{key}"

    linkedin = await card.get_by_role("link", name="Add to LinkedIn profile").get_attribute("href")
    url = urlsplit(linkedin)
    params = parse_qs(url.query)
    assert url.netloc == "www.linkedin.com" and url.path == "/profile/add"
    assert params["name"] == ["Responsible Data Science"] and params["organizationName"] == ["Ghent University"]
    assert params["certId"] == [key] and params["certUrl"] == [share]

    async with page.expect_download() as download_info:
        await card.get_by_role("link", name="Download the credential (JSON)").click()
    name, body = await downloaded(download_info)
    assert name == f"credential-{key}.json"
    credential = json.loads(body)
    assert credential["id"] == world.active["credential_id"] and len(credential["proof"]) == 2

    async with page.expect_download() as download_info:
        await card.get_by_role("link", name="Download the certificate (PDF)").click()
    name, pdf = await downloaded(download_info)
    assert name == f"tessera-credential-{key}.pdf"
    assert pdf.startswith(b"%PDF-") and f"/URI ({share})".encode() in pdf
    (ARTIFACTS / "certificate-en.pdf").write_bytes(pdf)

    # the share link, followed: the public page, verified
    await card.get_by_role("link", name="Open the verification page").click()
    await page.wait_for_url(f"{share}?lang=en")
    assert await page.locator("#verdict").get_attribute("data-verdict") == "valid"

    # sign out: the cookie is gone and the backpack asks to sign in again
    await page.goto(f"{world.base}/backpack")
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{world.base}/backpack?lang=en")
    assert await page.locator("#auth-problem").inner_text() == "Please sign in to see your backpack."
    assert not [c for c in await page.context.cookies() if c["name"] == "tessera_backpack"]


async def test_the_verification_page_renders_in_every_language(world, page):
    key = key_of(world.active)
    verdicts = {
        "en": "Verified: this credential is authentic and valid.",
        "nl": "Geverifieerd: dit credential is echt en geldig.",
        "de": "Überprüft: Dieser Nachweis ist echt und gültig.",
        "fr": "Vérifié : ce justificatif est authentique et valide.",
    }
    await page.goto(f"{world.base}/c/{key}")
    for lang, verdict in verdicts.items():
        if lang != "en":  # switch with the page's own language links
            await page.locator(f'nav a[hreflang="{lang}"]').click()
            await page.wait_for_url(f"{world.base}/c/{key}?lang={lang}")
        await accessible_basics(page, lang)
        assert (await page.locator("#verdict").inner_text()).strip().endswith(verdict)
        assert await page.locator("h1").inner_text() == "Responsible Data Science"
        await screenshot(page, f"verification-{lang}")
    # every awarding body's logo is a real image that loaded, with its alt text
    logos = await page.evaluate(
        "() => [...document.querySelectorAll('#bodies img')].map(i => [i.alt, i.complete && i.naturalWidth > 0])"
    )
    assert logos == [["Logo de Ghent University", True], ["Logo de University of Amsterdam", True]]
    # keyboard: the first Tab reaches the skip link, which leads to the main content
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.className") == "skip"
    # the JSON download from the public page
    async with page.expect_download() as download_info:
        await page.locator("#download-json").click()
    _, body = await downloaded(download_info)
    assert json.loads(body)["id"] == world.active["credential_id"]
    # a phone-sized screen: nothing wider than the screen
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{world.base}/c/{key}")
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "verification-mobile-en")


async def test_revoked_and_superseded_credentials_say_so_and_link_the_successor(world, page):
    await page.goto(f"{world.base}/c/{key_of(world.revoked)}")
    assert await page.locator("#status").get_attribute("data-status") == "revoked"
    assert await page.locator("#verdict").get_attribute("data-verdict") == "invalid"
    await screenshot(page, "revoked-en")

    await page.goto(f"{world.base}/c/{key_of(world.superseded)}?lang=de")
    assert await page.locator("#status").get_attribute("data-status") == "superseded"
    await screenshot(page, "superseded-de")
    await page.get_by_role("link", name="Den ersetzenden Nachweis ansehen").click()
    await page.wait_for_url(f"{world.base}/c/{key_of(world.successor)}")
    assert await page.locator("#verdict").get_attribute("data-verdict") == "valid"

    await page.goto(f"{world.base}/c/{uuid.uuid4()}?lang=fr")
    assert await page.locator("h1").inner_text() == "Justificatif introuvable"


async def test_progress_shows_in_the_backpack_and_the_badge_renders(world, page):
    await page.set_extra_http_headers(
        {"Authorization": f"Bearer {world.tokens.mint('bob', ['learner'])}", "Accept-Language": "nl-BE,nl;q=0.9"}
    )
    await page.goto(f"{world.base}/backpack")
    await accessible_basics(page, "nl")
    offering = page.locator('article[data-offering="off-2"]')
    assert await offering.locator(".outcome").inner_text() == "Criteria nog niet voldaan"
    assert await offering.get_by_label("Voortgang naar de toekenningscriteria: 33%").get_attribute("value") == "1"
    card = page.locator(f'article[data-key="{key_of(world.revoked)}"]')
    assert "Ingetrokken" in await card.inner_text()
    assert await card.get_by_role("link", name="Toevoegen aan LinkedIn-profiel").count() == 0
    await screenshot(page, "backpack-progress-nl")

    await page.set_extra_http_headers({})
    await page.set_viewport_size({"width": 280, "height": 280})
    response = await page.goto(f"{world.base}/achievements/mc-data/v1/badge.svg")
    assert response.headers["content-type"] == "image/svg+xml"
    assert await page.evaluate("() => document.documentElement.getAttribute('role')") == "img"
    await screenshot(page, "badge", full_page=False)  # an SVG document has no page to scroll
