"""Shared world of the pages tests (no tests here).

The credential service as the composition root will build it (``bootstrap.build`` + ``wire_issuance``
+ ``wire_pages``), on real PostgreSQL (and NATS, which the kernel connects to). Background work is
off: the awarding engine's tables are seeded with SQL exactly as part 1 writes them (see
test_credential_issuance_world.py), and the real issuance pipeline signs and stores the credentials
(``issue``), so every page shows a genuinely signed credential and really verifies it.
"""

from __future__ import annotations

import re
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import asyncpg

from tessera_credential.bootstrap import build
from tessera_credential.entrypoints.pages import wire_pages
from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.issuance.wiring import wire_issuance
from tessera_credential.keys.did import DidWeb
from tessera_shared.contract import criteria as cr
from tessera_shared.kernel.app import create_app
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.testing.apps import RunningService, Tokens, running_service
from tessera_shared.testing.servers import Servers
from tests.credential.integration.credential_award_support import AMSTERDAM, GENT, HEIDELBERG, ensure_source_streams
from tests.credential.integration.test_credential_issuance_world import (
    BASE,
    COMPONENTS,
    NAMES,
    award,
    definition,
    issuance_settings,
    kek_for_tests,
    seed_catalogue,
    service_settings,
)

COUNTRIES = {GENT: "BE", AMSTERDAM: "NL", HEIDELBERG: "DE"}


def logo_of(institution_id: str, base: str = BASE) -> str:
    """Institution logos: a remote https image; on a loopback test server a real image it serves."""
    if base == BASE:
        return f"https://logos.example.org/{institution_id}.png"
    return f"{base}/achievements/mc-data/v1/badge.svg?lang={COUNTRIES[institution_id].lower()}"


@asynccontextmanager
async def pages_service(
    servers: Servers, namespace: str, tokens: Tokens, *, base: str = BASE
) -> AsyncIterator[RunningService]:
    """The service with issuance and pages wired; no background work (the test drives issuance)."""
    await ensure_source_streams(servers.nats_url, namespace)

    def app_of(s: Any) -> Any:
        definition_ = build(s)
        wire_issuance(definition_, settings=issuance_settings())
        wire_pages(definition_)
        return create_app(definition_)

    settings = service_settings(servers, namespace, tokens, public_base_url=base, run_background=False)
    async with running_service(app_of, settings) as svc:
        yield svc


def pipeline(pool: asyncpg.Pool, base: str = BASE) -> IssuancePipeline:
    store = EventStore(pool, source="/tessera/credential", service="credential")
    return IssuancePipeline(dids=DidWeb(base), kek=kek_for_tests(), store=store)


async def seed_institutions(conn: Any, base: str = BASE) -> None:
    """Institution profiles as part 1 keeps them from the catalogue (names, websites, logos)."""
    for institution_id, name in NAMES.items():
        profile = {
            "institution_id": institution_id,
            "name": {"en": name},
            "country": COUNTRIES[institution_id],
            "website": f"https://www.{institution_id}/",
            "logo_url": logo_of(institution_id, base),
            "contact": {"email": f"office@{institution_id}"},
        }
        await conn.execute(
            """INSERT INTO award_institutions (institution_id, profile, at, event_id) VALUES ($1, $2, now(), $3)
               ON CONFLICT (institution_id) DO UPDATE SET profile = excluded.profile""",
            institution_id,
            profile,
            str(uuid.uuid4()),
        )


async def seed_learner(conn: Any, learner_id: str, given: str = "Ada", family: str | None = None) -> None:
    profile = {
        "learner_id": learner_id,
        "given_name": given,
        "family_name": family or learner_id.title(),
        "email": f"{learner_id}@example.org",
    }
    await conn.execute(
        """INSERT INTO award_learners (learner_id, profile) VALUES ($1, $2)
           ON CONFLICT (learner_id) DO UPDATE SET profile = excluded.profile""",
        learner_id,
        profile,
    )


async def seed_world(pool: asyncpg.Pool, base: str = BASE) -> None:
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_institutions(conn, base)


async def issue(
    pool: asyncpg.Pool, learner_id: str, *, base: str = BASE, given: str = "Ada", family: str | None = None
) -> dict[str, Any]:
    """An award for the learner, signed and stored by the real pipeline; returns its credential row."""
    async with pool.acquire() as conn:
        await seed_learner(conn, learner_id, given, family)
        award_id = await award(conn, learner_id)
        await enrol(conn, learner_id, "off-1", award_id=award_id)
    assert await pipeline(pool, base).drain(pool) >= 1
    return await credential_of(pool, award_id)


async def credential_of(pool: asyncpg.Pool, award_id: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM issued_credentials WHERE award_id = $1", award_id)
    assert row is not None, "the pipeline issued no credential"
    return dict(row)


def key_of(row: dict[str, Any]) -> str:
    return str(row["credential_id"]).rsplit("/", 1)[1]


async def enrol(conn: Any, learner_id: str, offering_id: str, *, award_id: str | None = None) -> None:
    """An admitted enrolment and the engine's evaluation of it (met with an award, or not met)."""
    enrolment_id = f"enr-{learner_id}-{offering_id}"
    await conn.execute(
        """INSERT INTO award_enrolments (enrolment_id, learner_id, offering_id, micro_credential_id,
               micro_credential_version, status, admitted_at, event_id, at)
           VALUES ($1, $2, $3, 'mc-data', 1, 'admitted', now(), $4, now()) ON CONFLICT DO NOTHING""",
        enrolment_id,
        learner_id,
        offering_id,
        str(uuid.uuid4()),
    )
    passed = {"C1", "C2", "C3"} if award_id else {"C1"}
    facts = cr.Facts(
        components={
            code: cr.ComponentFacts(
                ects=Decimal(ects),
                result=cr.ComponentResult(score=Decimal("0.7"), passed=True, event_ids=(f"e-{code}",))
                if code in passed
                else None,
            )
            for code, ects, _ in COMPONENTS
        }
    )
    explanation = cr.evaluate(definition().criteria, facts)
    await conn.execute(
        """INSERT INTO award_learner_offerings (learner_id, offering_id, outcome, met, explanation, award_id,
               evaluated_by, evaluated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'test', now())
           ON CONFLICT (learner_id, offering_id) DO UPDATE SET outcome = excluded.outcome, met = excluded.met,
               explanation = excluded.explanation, award_id = excluded.award_id""",
        learner_id,
        offering_id,
        "awarded" if award_id else "not_met",
        explanation.met,
        explanation.model_dump(mode="json"),
        uuid.UUID(award_id) if award_id else None,
    )


async def second_offering(conn: Any, offering_id: str = "off-2") -> None:
    """Another edition of the same micro-credential (a learner can be enrolled in both)."""
    await conn.execute(
        """INSERT INTO award_offerings (offering_id, micro_credential_id, micro_credential_version, coordinator_id,
               partner_ids, title, ects, components, criteria, scheduled_at, event_id)
           SELECT $1, micro_credential_id, micro_credential_version, coordinator_id, partner_ids,
                  '{"en": "Responsible Data Science (spring)", "nl": "Verantwoorde datawetenschap (voorjaar)"}',
                  ects, components, criteria, now(), $2
           FROM award_offerings WHERE offering_id = 'off-1'""",
        offering_id,
        str(uuid.uuid4()),
    )


# ------------------------------------------------------------------------------ reading HTML and PDF


class Html(HTMLParser):
    """A small DOM-less reader: elements with their attributes and the text inside each."""

    VOID = frozenset({"meta", "link", "img", "input", "br", "hr", "source", "area", "base", "col", "wbr"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "text": ""}
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["tag"] == tag:
                del self._open[i:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["text"] += data

    def find(self, tag: str | None = None, **attrs: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.elements
            if (tag is None or e["tag"] == tag) and all(e["attrs"].get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def one(self, tag: str | None = None, **attrs: str) -> dict[str, Any]:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]

    def text(self, tag: str | None = None, **attrs: str) -> str:
        return " ".join(self.one(tag, **attrs)["text"].split())


def check_accessible_basics(page: Html, lang: str) -> None:
    """What every page must have: its language, one h1, alt on every image, a label for every field."""
    assert page.one("html")["attrs"]["lang"] == lang
    assert len(page.find("h1")) == 1
    assert page.find("title") and page.text("title")
    assert page.find("main")
    for img in page.find("img"):
        assert "alt" in img["attrs"], img
    labelled = {e["attrs"].get("for") for e in page.find("label")}
    for field in page.find("input"):
        if field["attrs"].get("type") != "hidden":
            assert field["attrs"].get("id") in labelled, field


def checks_of(page: Html, *states: str) -> list[str]:
    """The verification checks listed on a credential page (state: ok | bad | unknown), as read aloud."""
    return [
        " ".join(li["text"].split()).lstrip("✓✗? ")
        for li in page.find("li")
        if li["attrs"].get("class") in (states or ("ok", "bad", "unknown"))
    ]


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream of the PDF (by its /Length), inflated when Flate-encoded."""
    out = []
    for match in re.finditer(rb"\d+ 0 obj\s*<<", pdf):
        start = match.end()
        head = pdf.find(b"stream", start)
        end_obj = pdf.find(b"endobj", start)
        if head < 0 or (0 <= end_obj < head):
            continue
        dictionary = pdf[start:head]
        length = re.search(rb"/Length (\d+)", dictionary)
        if length is None:
            continue
        begin = head + len(b"stream") + (2 if pdf[head + 6 : head + 8] == b"\r\n" else 1)
        data = pdf[begin : begin + int(length.group(1))]
        out.append(zlib.decompress(data) if b"FlateDecode" in dictionary else data)
    return out


def now() -> datetime:
    return datetime.now(UTC)
