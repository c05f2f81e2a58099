"""Offerings through the API against real NATS and PostgreSQL: scheduling with the seed's fee and
dated refund rules, the lifecycle by command and by the clock, cancellation, retirement."""

import asyncio
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tessera_catalogue.application.offerings import advance_offerings
from tessera_catalogue.application.unit_of_work import UnitOfWork
from tessera_catalogue.bootstrap import create_app
from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints.cli import cli
from tessera_shared.testing.apps import eventually, running_service
from tessera_shared.testing.apps import test_settings as settings_for
from tests.catalogue.integration.catalogue_api import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    CatalogueApi,
    academic_year_of,
    terms_data,
)

pytestmark = pytest.mark.integration
OFFERING = "tessera.catalogue.offering."


async def test_an_offering_with_the_seed_fee_and_refund_rules_runs_its_lifecycle(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG)
    await api.publish_micro_credential("mc-ethics")

    scheduled = await api.schedule("ethics-2025", "mc-ethics")
    assert (scheduled["status"], scheduled["fee"], scheduled["version"]) == ("scheduled", "375.00", 1)
    body = {"offering_id": "ethics-2025", "micro_credential_id": "mc-ethics", "version": 1, "terms": terms_data()}
    assert (await api.post("/offerings", GENT, body)).status_code == 409  # the id is taken
    body["offering_id"] = "ethics-2025-b"
    assert (await api.post("/offerings", AMSTERDAM, body)).status_code == 403  # only the coordinator schedules
    r = await api.post("/offerings", GENT, {**body, "version": 2})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "version"
    r = await api.post("/offerings", GENT, {**body, "terms": terms_data(ends_on="2025-09-01", capacity=0)})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"terms.capacity"}  # the edge refuses first
    r = await api.post("/offerings", GENT, {**body, "terms": terms_data(ends_on="2025-09-01")})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"terms.ends_on", "terms.enrolment.closes_on"}

    # the event carries the complete, pinned terms
    [event] = [m for m in await api.stream(minimum=5) if m["type"].startswith(OFFERING)]
    assert event["type"] == "tessera.catalogue.offering.scheduled.v1"
    data = event["data"]
    assert (data["offering_id"], data["micro_credential_version"], data["fee"], data["ects"]) == (
        "ethics-2025",
        1,
        "375.00",
        "10",
    )
    assert [r["before"] for r in data["terms"]["refund_policy"]["rules"]] == ["2025-12-01", "2026-03-15", None]
    assert data["criteria"]["rule"]["kind"] == "all_of"
    assert [(c["code"], c["semester"]) for c in data["components"]] == [
        ("DE1", "first"),
        ("DE2", "second"),
        ("DE3", "second"),
    ]

    # the public offering: fee and the seed's refund dates as examples with their amounts
    await api.caught_up()
    view = (await api.public("/catalogue/offerings/ethics-2025")).json()
    assert view["fee"]["amount"] == "375.00"
    assert view["fee"]["text"] == "Fee: €37.50 per ECTS credit; 10 ECTS = €375.00."
    assert [(r["until"], r["amount"], r["text"]) for r in view["refund_policy"]["rules"]] == [
        ("2025-11-30", "375.00", "Cancellation before 1 December 2025: full refund (€375.00)."),
        (
            "2026-03-14",
            "225.00",
            "Cancellation from 1 December 2025 to 14 March 2026: refund of the second-semester credits (€225.00).",
        ),
        (None, "0.00", "Cancellation from 15 March 2026: no refund."),
    ]
    assert view["attendance"] == {"compulsory": True, "description": "Both lab weekends are compulsory."}
    assert view["criteria_narrative"].startswith("To earn this micro-credential")
    dutch = (await api.public("/catalogue/offerings/ethics-2025", headers={"Accept-Language": "nl-BE"})).json()
    assert dutch["refund_policy"]["rules"][0]["text"] == (
        "Annulering vóór 1 december 2025: volledige terugbetaling (€ 375,00)."
    )
    assert dutch["schedule"] == "Dinsdagavond 18:00-21:00, online"
    assert dutch["criteria_narrative"].startswith("Om deze microcredential te behalen")

    # the lifecycle, by the coordinator's editors and the operator; steps out of order are 409
    assert (await api.post("/offerings/ethics-2025/close", GENT)).status_code == 409
    assert (await api.post("/offerings/ethics-2025/open", AMSTERDAM)).status_code == 403
    r = await api.post("/offerings/ethics-2025/open", GENT, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["status"] == "open" and r.headers["ETag"] == '"2"'
    stale = await api.client.post("/offerings/ethics-2025/close", headers={**api.operator(), "If-Match": '"1"'})
    assert stale.status_code == 409
    for step in ("close", "start", "finish"):
        r = await api.client.post(f"/offerings/ethics-2025/{step}", headers=api.operator())
        assert r.status_code == 200, r.text
    assert r.json()["status"] == "finished"

    # a second edition, cancelled by the coordinator only, with a reason
    await api.schedule("ethics-2026", "mc-ethics", academic_year="2026-2027", starts_on="2026-09-21",
                       ends_on="2027-06-30", enrolment={"opens_on": "2026-05-01", "closes_on": "2026-09-14"},
                       refund_policy={"rules": [{"before": None, "refund": "full"}]})  # fmt: skip
    assert (
        await api.client.post("/offerings/ethics-2026/cancel", json={"reason": "x"}, headers=api.operator())
    ).status_code == 403
    assert (await api.post("/offerings/ethics-2026/cancel", AMSTERDAM, {"reason": "x"})).status_code == 403
    assert (await api.post("/offerings/ethics-2026/cancel", GENT, {"reason": ""})).status_code == 422
    r = await api.post("/offerings/ethics-2026/cancel", GENT, {"reason": "too few enrolments"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await api.post("/offerings/ethics-2026/open", GENT)).status_code == 409

    # retired: no new offerings
    assert (await api.post("/micro-credentials/mc-ethics/retire", GENT)).status_code == 200
    body["offering_id"] = "ethics-2027"
    assert (await api.post("/offerings", GENT, body)).status_code == 409

    types = [m["type"].removeprefix(OFFERING) for m in await api.stream(minimum=12) if m["type"].startswith(OFFERING)]
    assert types == [
        "scheduled.v1",
        "opened.v1",
        "closed.v1",
        "started.v1",
        "finished.v1",
        "scheduled.v1",
        "cancelled.v1",
    ]
    cancelled = next(m for m in await api.stream() if m["type"].endswith("offering.cancelled.v1"))["data"]
    assert cancelled == {
        "offering_id": "ethics-2026",
        "micro_credential_id": "mc-ethics",
        "micro_credential_version": 1,
        "by": "editor@ugent.be",
        "reason": "too few enrolments",
    }
    await api.caught_up()
    listed = (await api.public("/catalogue/offerings", micro_credential_id="mc-ethics")).json()
    assert [(o["offering_id"], o["status"]) for o in listed["items"]] == [
        ("ethics-2025", "finished"),
        ("ethics-2026", "cancelled"),
    ]
    assert listed["items"][1]["cancellation_reason"] == "too few enrolments"


async def test_the_clock_takes_the_steps_the_dates_make_due(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG)
    await api.publish_micro_credential("mc-ethics")
    await api.schedule("ethics-2025", "mc-ethics")
    await api.schedule("ethics-late", "mc-ethics", enrolment={"opens_on": "2025-08-01", "closes_on": "2025-09-15"})
    assert (await api.post("/offerings/ethics-late/cancel", GENT, {"reason": "merged"})).status_code == 200
    await api.caught_up()
    runtime = api.service.runtime
    uow = UnitOfWork(runtime.pool, runtime.store)

    assert await advance_offerings(uow, date(2025, 4, 30)) == {}
    assert await advance_offerings(uow, date(2025, 5, 1)) == {"ethics-2025": ["open"]}
    assert await advance_offerings(uow, date(2025, 5, 2)) == {}  # nothing twice
    assert await advance_offerings(uow, date(2025, 10, 1)) == {"ethics-2025": ["close", "start"]}
    # the command line a cron job would run instead of the in-process clock
    env = {"DATABASE_URL": api.service.settings.database_url, "NATS_URL": api.nats_url}
    result = await asyncio.to_thread(CliRunner().invoke, cli, ["advance-offerings", "--today", "2026-07-01"], env=env)
    assert result.exit_code == 0, result.output
    assert "'ethics-2025': ['finish']" in result.output
    assert await advance_offerings(uow, date(2026, 7, 2)) == {}
    messages = [m for m in await api.stream(minimum=11) if m["data"].get("offering_id") == "ethics-2025"]
    assert [(m["type"].removeprefix(OFFERING), m["data"].get("by")) for m in messages[1:]] == [
        ("opened.v1", "system:offering-clock"),
        ("closed.v1", "system:offering-clock"),
        ("started.v1", "system:offering-clock"),
        ("finished.v1", "system:offering-clock"),
    ]


async def test_the_clock_runs_in_the_service_when_configured(servers, namespace, tokens):
    """With OFFERING_CLOCK_SECONDS set, an offering whose enrolment window has begun opens by itself."""
    settings = settings_for(CatalogueSettings, servers, namespace, "clock", tokens, offering_clock_seconds=0.2)
    today = datetime.now(ZoneInfo(settings.catalogue_timezone)).date()
    async with running_service(create_app, settings) as service:
        api = CatalogueApi(service, tokens, servers.nats_url, namespace)
        await api.register(GENT, AMSTERDAM, HEIDELBERG)
        await api.publish_micro_credential("mc-ethics")
        await api.schedule(
            "now",
            "mc-ethics",
            academic_year=academic_year_of(today + timedelta(days=30)),
            starts_on=str(today + timedelta(days=30)),
            ends_on=str(today + timedelta(days=300)),
            enrolment={"opens_on": str(today - timedelta(days=1)), "closes_on": str(today + timedelta(days=10))},
            refund_policy={"rules": [{"before": None, "refund": "full"}]},
        )

        async def opened():
            await api.caught_up()
            r = await api.public("/catalogue/offerings/now")
            return r.json()["open_for_enrolment"] and r.json()

        view = await eventually(opened, seconds=15)
        assert view and view["status"] == "open"
        assert [m["type"] for m in await api.stream(minimum=6)][-1] == "tessera.catalogue.offering.opened.v1"
