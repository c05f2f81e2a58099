"""The public catalogue against real NATS and PostgreSQL: search filters, paging and sorting, ETag and
304, Accept-Language with fallback, what each entry shows, and `tessera catalogue rebuild`
reproducing the read models. One populated catalogue is shared by the module's tests (they only
read it, or change what the others do not look at)."""

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tessera_catalogue.bootstrap import create_app
from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints.cli import cli
from tessera_shared.testing.apps import running_service
from tessera_shared.testing.apps import test_settings as settings_for
from tests.catalogue.integration.catalogue_api import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    LEUVEN,
    CatalogueApi,
    academic_year_of,
)
from tests.catalogue.unit.catalogue_builders import profile

pytestmark = pytest.mark.integration
ETHICS, PRIVACY, AI = "mc-ethics", "mc-privacy", "mc-ai"


def partners(*pairs: tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"institution_id": i, "roles": roles} for i, roles in pairs]


PRIVACY_CHANGES = {
    "title": {"en": "Privacy Engineering", "nl": "Privacy-engineering"},
    "learning_outcomes": [{"id": "LO2", "text": {"en": "Protect personal data by design"}}],
    "workload": {"ects": "5", "notional_hours": 140},
    "level": {"eqf": 6, "qf_ehea": "first_cycle"},
    "isced_field": "0421",
    "languages": ["en"],
    "participation": {"mode": "online", "distance": True},
    "components": [
        {"code": "PE1", "title": {"en": "Privacy by design"}, "ects": "5", "semester": "second",
         "learning_outcome_ids": ["LO2"], "teaching_institution": AMSTERDAM},
    ],
    "partners": partners((AMSTERDAM, ["coordinator", "awarding"]), (LEUVEN, ["contributing", "awarding"])),
    "criteria": {"rule": {"kind": "ects_passed", "minimum": "5"}},
}  # fmt: skip
AI_CHANGES = {
    "title": {"de": "KI-Governance", "en": "AI Governance"},
    "description": {"de": "Steuerung künstlicher Intelligenz.", "en": "Governing artificial intelligence."},
    "learning_outcomes": [{"id": "LO1", "text": {"en": "Audit the data governance of an AI system"}}],
    "workload": {"ects": "20", "notional_hours": 560},
    "isced_field": "0619",
    "languages": ["de", "en"],
    "participation": {"mode": "on_site"},
    "components": [
        {"code": "AI1", "title": {"en": "AI law"}, "ects": "12", "semester": "first", "teaching_institution": HEIDELBERG},
        {"code": "AI2", "title": {"en": "AI audits"}, "ects": "8", "semester": "first", "teaching_institution": GENT},
    ],
    "partners": partners((HEIDELBERG, ["coordinator", "awarding"]), (GENT, ["contributing"])),
    "criteria": {"rule": {"kind": "ects_passed", "minimum": "20"}},
}  # fmt: skip


@pytest.fixture(scope="module")
async def populated(servers, tokens):
    """Three published micro-credentials of different partners, and one offering each:
    ethics 2025-2026 (scheduled), privacy this year's second semester (open now), AI 2027-2028."""
    namespace = "t" + uuid.uuid4().hex[:10]
    settings = settings_for(CatalogueSettings, servers, namespace, "pub", tokens)
    async with running_service(create_app, settings) as service:
        api = CatalogueApi(service, tokens, servers.nats_url, namespace)
        await api.register(GENT, AMSTERDAM, HEIDELBERG, LEUVEN)
        await api.publish_micro_credential(ETHICS)
        await api.publish_micro_credential(PRIVACY, AMSTERDAM, (AMSTERDAM, LEUVEN), **PRIVACY_CHANGES)
        await api.publish_micro_credential(AI, HEIDELBERG, (HEIDELBERG, GENT), **AI_CHANGES)
        await api.schedule("ethics-2025", ETHICS)
        today = datetime.now(ZoneInfo(settings.catalogue_timezone)).date()
        await api.schedule(
            "privacy-now", PRIVACY, as_=AMSTERDAM, academic_year=academic_year_of(today + timedelta(days=40)), period="second",
            starts_on=str(today + timedelta(days=40)), ends_on=str(today + timedelta(days=200)),
            enrolment={"opens_on": str(today - timedelta(days=5)), "closes_on": str(today + timedelta(days=30))},
            tariff={"kind": "flat", "amount": "250"}, refund_policy={"rules": [{"before": None, "refund": "full"}]},
            attendance={"compulsory": False},
        )  # fmt: skip
        assert (await api.post("/offerings/privacy-now/open", AMSTERDAM)).status_code == 200
        await api.schedule(
            "ai-2027", AI, as_=HEIDELBERG, academic_year="2027-2028", period="first", starts_on="2027-09-20",
            ends_on="2028-01-31", enrolment={"opens_on": "2027-05-01", "closes_on": "2027-09-10"},
            refund_policy={"rules": [{"before": "2027-09-01", "refund": "full"}, {"before": None, "refund": "none"}]},
        )  # fmt: skip
        await api.caught_up()
        yield api


async def ids(api: CatalogueApi, **params: Any) -> list[str]:
    r = await api.public("/catalogue/micro-credentials", **params)
    assert r.status_code == 200, r.text
    return [item["micro_credential_id"] for item in r.json()["items"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [AI, ETHICS, PRIVACY]),  # by English title
        ({"field": "06"}, [AI, ETHICS]),  # ISCED-F broad field
        ({"field": "0613"}, [ETHICS]),
        ({"ects_min": 6}, [AI, ETHICS]),
        ({"ects_max": "10"}, [ETHICS, PRIVACY]),
        ({"ects_min": 6, "ects_max": 15}, [ETHICS]),
        ({"eqf": 6}, [PRIVACY]),
        ({"language": "de"}, [AI]),
        ({"language": "nl-BE"}, [ETHICS]),
        ({"mode": "online"}, [PRIVACY]),
        ({"evening": "true"}, [ETHICS]),
        ({"distance": "true"}, [PRIVACY]),
        ({"institution": LEUVEN}, [PRIVACY]),
        ({"institution": GENT}, [AI, ETHICS]),
        ({"institution": GENT, "role": "coordinator"}, [ETHICS]),
        ({"institution": GENT, "role": "awarding", "field": "06"}, [ETHICS]),
        ({"academic_year": "2025-2026"}, [ETHICS]),
        ({"semester": "second"}, [PRIVACY]),
        ({"academic_year": "2027-2028", "semester": "first"}, [AI]),
        ({"academic_year": "2027-2028", "semester": "second"}, []),
        ({"open": "true"}, [PRIVACY]),
        ({"open": "false"}, [AI, ETHICS]),
        ({"q": "ethic"}, [ETHICS]),
        ({"q": "Éthics LAB"}, [ETHICS]),  # case and accents folded, every word a prefix
        ({"q": "privacy design"}, [PRIVACY]),
        ({"q": "universität"}, [AI, ETHICS]),  # a partner's name
        ({"q": "künstlich"}, [AI]),
        ({"q": "nothing-like-this"}, []),
        ({"q": "!!!"}, []),
        ({"sort": "-ects"}, [AI, ETHICS, PRIVACY]),
        ({"sort": "ects"}, [PRIVACY, ETHICS, AI]),
        ({"sort": "-title"}, [PRIVACY, ETHICS, AI]),
        ({"sort": "published"}, [ETHICS, PRIVACY, AI]),
    ],
)
async def test_search_filters(populated, params, expected):
    assert await ids(populated, **params) == expected


async def test_paging_sorting_and_bad_parameters(populated):
    api = populated
    first = (await api.public("/catalogue/micro-credentials", page_size=2, sort="-ects")).json()
    assert (first["total"], first["pages"], first["page"]) == (3, 2, 1)
    assert [i["micro_credential_id"] for i in first["items"]] == [AI, ETHICS]
    second = (await api.public("/catalogue/micro-credentials", page_size=2, page=2, sort="-ects")).json()
    assert [i["micro_credential_id"] for i in second["items"]] == [PRIVACY]
    beyond = (await api.public("/catalogue/micro-credentials", page_size=2, page=3)).json()
    assert (beyond["items"], beyond["total"]) == ([], 3)
    # relevance: a title word (weight A) ranks above a learning outcome's (weight B), whatever the title
    relevant = await ids(api, q="data")
    assert relevant[0] == ETHICS and set(relevant) == {ETHICS, AI, PRIVACY}
    assert await ids(api, q="data", sort="-ects") == [AI, ETHICS, PRIVACY]
    # sorted by the reader's language: KI-Governance between Data and Privacy
    assert await ids(api, headers={"Accept-Language": "de"}) == [ETHICS, AI, PRIVACY]
    r = await api.public("/catalogue/micro-credentials", eqf=9, field="abc", sort="newest", page_size=500)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} == {"eqf", "field", "sort", "page_size"}


async def test_an_entry_shows_annex_i_partners_components_criteria_fees_and_refunds(populated):
    api = populated
    [entry] = (await api.public("/catalogue/micro-credentials", q="privacy")).json()["items"]
    assert entry["annex_i"]["complete"] is True and entry["annex_i"]["missing"] == []
    assert "type_of_quality_assurance" in entry["annex_i"]["present"]
    assert entry["annex_i"]["at_issuance"] == ["learner_identification", "date_of_issuing"]
    assert [(p["institution_id"], p["name"], p["roles"]) for p in entry["partners"]] == [
        (AMSTERDAM, "Universiteit van Amsterdam", ["coordinator", "awarding"]),
        (LEUVEN, "KU Leuven", ["contributing", "awarding"]),
    ]
    assert entry["components"] == [
        {
            "code": "PE1",
            "title": "Privacy by design",
            "ects": "5",
            "semester": "second",
            "learning_outcome_ids": ["LO2"],
            "taught_by": {"institution_id": AMSTERDAM, "name": "Universiteit van Amsterdam"},
        }
    ]
    assert entry["criteria"]["narrative"] == (
        "To earn this micro-credential, a learner must pass components worth at least 5 ECTS credits."
    )
    [offering] = entry["offerings"]
    assert (offering["offering_id"], offering["status"], offering["open_for_enrolment"]) == (
        "privacy-now",
        "open",
        True,
    )
    assert offering["fee"]["text"] == "Fee: a flat fee of €250.00; 5 ECTS = €250.00."
    assert [r["text"] for r in offering["refund_policy"]["rules"]] == [
        "Cancellation at any time: full refund (€250.00)."
    ]
    assert (entry["ects"], entry["level"], entry["isced_field"]) == ("5", {"eqf": 6, "qf_ehea": "first_cycle"}, "0421")
    assert entry["participation"] == {"mode": "online", "evening": False, "distance": True, "description": None}
    assert entry["links"]["self"] == f"/catalogue/micro-credentials/{PRIVACY}/versions/1"

    latest = (await api.public(f"/catalogue/micro-credentials/{AI}")).json()
    assert latest["versions"][0]["version"] == 1 and latest["offerings"][0]["offering_id"] == "ai-2027"
    assert [r["amount"] for r in latest["offerings"][0]["refund_policy"]["rules"]] == ["750.00", "0.00"]
    assert (await api.public("/catalogue/micro-credentials/mc-none")).status_code == 404
    assert (await api.public("/catalogue/offerings/none")).status_code == 404
    assert (await api.public("/catalogue/institutions/none.org")).status_code == 404
    institutions = (await api.public("/catalogue/institutions", headers={"Accept-Language": "en"})).json()
    assert [i["name"] for i in institutions["items"]] == [
        "Ghent University",
        "KU Leuven",
        "Universität Heidelberg",
        "Universiteit van Amsterdam",
    ]


@pytest.mark.parametrize(
    ("accept_language", "ethics_title", "ai_title", "narrative_start", "refund_start"),
    [
        ("nl", "Data-ethiek voor professionals", "AI Governance", "Om deze", "Annulering vóór 1 december 2025"),
        ("nl-BE, en;q=0.5", "Data-ethiek voor professionals", "AI Governance", "Om deze", "Annulering"),
        ("de-AT", "Data Ethics for Professionals", "KI-Governance", "To earn", "Stornierung vor dem 1. Dezember 2025"),
        ("fr", "Data Ethics for Professionals", "AI Governance", "To earn", "Annulation avant le 1er décembre 2025"),
        ("es", "Data Ethics for Professionals", "AI Governance", "To earn", "Cancellation before 1 December 2025"),
        (None, "Data Ethics for Professionals", "AI Governance", "To earn", "Cancellation before 1 December 2025"),
    ],
)
async def test_accept_language_with_fallback(
    populated, accept_language, ethics_title, ai_title, narrative_start, refund_start
):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    r = await populated.public("/catalogue/micro-credentials", headers=headers)
    items = {i["micro_credential_id"]: i for i in r.json()["items"]}
    assert items[ETHICS]["title"] == ethics_title and items[AI]["title"] == ai_title
    assert items[ETHICS]["criteria"]["narrative"].startswith(narrative_start)  # en + nl published
    assert items[ETHICS]["description"] == "Responsible use of data in organisations."  # English only
    assert items[ETHICS]["offerings"][0]["refund_policy"]["rules"][0]["text"].startswith(refund_start)
    if accept_language == "de-AT":
        assert items[AI]["criteria"]["narrative"].startswith("Um dieses Micro-Credential")
        assert items[AI]["description"] == "Steuerung künstlicher Intelligenz."


async def test_etag_and_if_none_match(populated):
    api = populated
    first = await api.public("/catalogue/micro-credentials", q="ethic")
    etag = first.headers["ETag"]
    assert first.headers["Vary"] == "Accept-Language" and "no-cache" in first.headers["Cache-Control"]
    again = await api.public("/catalogue/micro-credentials", q="ethic", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    weak = await api.public("/catalogue/micro-credentials", q="ethic", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    other = await api.public("/catalogue/micro-credentials", q="ethic", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.json() == first.json()
    dutch = await api.public(
        "/catalogue/micro-credentials", q="ethic", headers={"Accept-Language": "nl", "If-None-Match": etag}
    )
    assert dutch.status_code == 200 and dutch.headers["ETag"] != etag
    for path in (
        f"/catalogue/micro-credentials/{ETHICS}",
        "/catalogue/offerings/ethics-2025",
        "/catalogue/institutions",
    ):
        r = await api.public(path)
        assert (await api.public(path, headers={"If-None-Match": r.headers["ETag"]})).status_code == 304, path

    # a change to what a response shows changes its ETag
    institutions = await api.public("/catalogue/institutions")
    updated = profile(LEUVEN, name={"nl": "KU Leuven", "en": "KU Leuven (Catholic University of Leuven)"})
    r = await api.client.put(
        f"/institutions/{LEUVEN}",
        json={**updated.model_dump(mode="json"), "expected_version": 1},
        headers=api.operator(),
    )
    assert r.status_code == 200 and r.json()["version"] == 2, r.text
    stale = await api.client.put(
        f"/institutions/{LEUVEN}", json=updated.model_dump(mode="json"), headers={**api.operator(), "If-Match": '"1"'}
    )
    assert stale.status_code == 409
    await api.caught_up()
    changed = await api.public("/catalogue/institutions", headers={"If-None-Match": institutions.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != institutions.headers["ETag"]
    assert "KU Leuven (Catholic University of Leuven)" in [i["name"] for i in changed.json()["items"]]
    updates = [m for m in await api.stream(minimum=12) if m["type"] == "tessera.catalogue.institution.updated.v1"]
    assert [m["data"]["institution"]["name"]["en"] for m in updates] == ["KU Leuven (Catholic University of Leuven)"]


async def test_rebuild_reproduces_the_read_models(populated):
    api = populated
    pool = api.service.runtime.pool
    tables = ("cat_institutions", "cat_mc_versions", "cat_micro_credentials", "cat_offerings",
              "cat_pathway_versions", "cat_search")  # fmt: skip

    async def snapshot() -> dict[str, list[str]]:
        async with pool.acquire() as conn:
            return {t: sorted(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {t}")) for t in tables}

    await api.caught_up()
    before = await snapshot()
    assert all(before[t] for t in tables if t != "cat_pathway_versions")
    async with pool.acquire() as conn:  # damage the read models
        await conn.execute("DELETE FROM cat_search WHERE micro_credential_id = $1", ETHICS)
        await conn.execute("UPDATE cat_offerings SET status = 'cancelled'")
        await conn.execute("DELETE FROM cat_institutions")
    assert await snapshot() != before

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["rebuild", "all"], env={"DATABASE_URL": api.service.settings.database_url}
    )
    assert result.exit_code == 0, result.output
    assert "search" in result.output and "offerings" in result.output
    assert await snapshot() == before
    assert await ids(api) == [AI, ETHICS, PRIVACY]
