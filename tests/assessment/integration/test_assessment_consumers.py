"""The catalogue and enrolment consumers against real JetStream: delivered twice → state once
(re-published with new ids, and redelivered with the same id past JetStream's de-duplication),
and events out of order end in the state the order would have given."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from tessera_shared.contract import catalogue as cat
from tests.assessment.integration.assessment_world import (
    AMSTERDAM,
    GENT,
    OFFERING,
    World,
    admitted,
    cancelled,
    catalogue_events,
    completed,
    institution,
    lifecycle,
    offering_scheduled,
    result_body,
    running_world,
    version_published,
    waitlisted,
)

pytestmark = pytest.mark.integration

READ_MODELS = ("institutions", "micro_credential_versions", "components", "offerings", "enrolments")


@pytest.fixture
async def world(servers, tokens) -> AsyncIterator[World]:
    async with running_world(servers, tokens, learners=["l-1", "l-2"]) as w:
        yield w


async def test_events_delivered_twice_change_the_state_once(world: World) -> None:
    before = await world.snapshot(*READ_MODELS)
    assert len(before["components"]) == 5 and len(before["enrolments"]) == 2
    assert before["offerings"][0]["status"] == "running"

    # the producers re-publish everything (new event ids: JetStream and the inbox see new events)
    again = [*catalogue_events(), admitted("l-1"), admitted("l-2")]
    await world.publish(again)
    await world.consumed("assessment--catalogue", 2 * 8)
    await world.consumed("assessment--enrolment", 2 * 2)
    assert await world.snapshot(*READ_MODELS) == before

    # the same event id delivered again under another Nats-Msg-Id: only the inbox can catch it
    event_id = str(uuid.uuid4())
    await world.publish_raw(cancelled("l-2"), event_id, msg_id="first")
    await world.publish_raw(admitted("l-2"), event_id, msg_id="second")  # same id, other content
    await world.drained("enrolment")
    assert await world.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1
    status = await world.fetchval("SELECT status FROM enrolments WHERE learner_id = 'l-2'")
    assert status == "cancelled"
    refused = await world.client.post(
        f"/offerings/{OFFERING}/results", json=result_body("l-2", "DATA101", "12"), headers=world.assessor(GENT)
    )
    assert refused.status_code == 422 and "cancelled" in refused.json()["detail"]
    assert await world.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_a_batch_with_several_events_per_enrolment_ends_as_one_by_one(world: World) -> None:
    """The consumer applies a fetched batch in one upsert (events of one enrolment folded first)."""
    events = [
        waitlisted("b-1"),
        admitted("b-1"),
        cancelled("b-1"),
        admitted("b-1"),  # late: a cancellation stays a cancellation
        admitted("b-2"),
        completed("b-2"),
        cancelled("b-2"),
        waitlisted("b-3"),
    ]
    await world.publish_many(events)  # pipelined: one fetch gets them together
    await world.consumed("assessment--enrolment", 2 + len(events))
    rows = await world.fetch("SELECT learner_id, status FROM enrolments WHERE learner_id LIKE 'b-%'")
    assert {r["learner_id"]: r["status"] for r in rows} == {"b-1": "cancelled", "b-2": "completed", "b-3": "waitlisted"}


async def test_events_out_of_order_end_in_the_same_state(world: World) -> None:
    late = {"LATE1": (GENT, "6"), "LATE2": (AMSTERDAM, "4")}
    # running before scheduled, an enrolment before its offering, a cancellation before its admission
    await world.publish(
        [
            lifecycle(cat.OfferingStarted, "OFF-LATE", "mc-late"),
            admitted("l-late", "OFF-LATE"),
            cancelled("l-gone", "OFF-LATE"),
            admitted("l-gone", "OFF-LATE"),
            admitted("l-wait", "OFF-LATE"),
            waitlisted("l-wait", "OFF-LATE"),
        ]
    )
    await world.consumed("assessment--enrolment", 2 + 5)
    await world.consumed("assessment--catalogue", 8 + 1)
    gent = world.assessor(GENT)
    body = result_body("l-late", "LATE1", "15")
    r = await world.client.post("/offerings/OFF-LATE/results", json=body, headers=gent)
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "offering_id"  # no components known yet

    # the offering's scheduling arrives, then the version's snapshot, then a stale "opened"
    await world.publish([offering_scheduled("OFF-LATE", mc="mc-late", components=late)])
    await world.consumed("assessment--catalogue", 8 + 2)
    r = await world.client.post("/offerings/OFF-LATE/results", json=body, headers=gent)
    assert r.status_code == 201, r.text
    await world.publish(
        [version_published("mc-late", components=late), lifecycle(cat.OfferingOpened, "OFF-LATE", "mc-late")]
    )
    await world.consumed("assessment--catalogue", 8 + 4)

    info = (await world.client.get("/offerings/OFF-LATE", headers=gent)).json()
    assert (info["status"], info["coordinator_id"], info["micro_credential_id"]) == ("running", GENT, "mc-late")
    assert [(c["code"], c["title"], c["teaching_institution"], c["ects"]) for c in info["components"]] == [
        ("LATE1", {"en": "Course LATE1"}, GENT, "6"),  # the snapshot's titles filled in
        ("LATE2", {"en": "Course LATE2"}, AMSTERDAM, "4"),
    ]
    assert info["components"][0]["default_scheme_id"] == "be-flemish-0-20"
    statuses = {
        r["learner_id"]: r["status"]
        for r in await world.fetch("SELECT learner_id, status FROM enrolments WHERE offering_id = 'OFF-LATE'")
    }
    assert statuses == {"l-late": "admitted", "l-gone": "cancelled", "l-wait": "admitted"}

    await world.publish(
        [completed("l-late", "OFF-LATE"), lifecycle(cat.OfferingCancelled, "OFF-LATE", "mc-late", reason="x")]
    )
    await world.consumed("assessment--catalogue", 8 + 5)
    await world.consumed("assessment--enrolment", 2 + 6)
    info = (await world.client.get("/offerings/OFF-LATE", headers=gent)).json()
    assert info["status"] == "cancelled"
    r = await world.client.post("/offerings/OFF-LATE/results", json={**body, "attempt": 2}, headers=gent)
    assert r.status_code == 409


async def test_institution_profiles_follow_the_newest_stream_version(world: World) -> None:
    await world.publish_raw(institution("vub.be", ["nl-1-10"], updated=True), str(uuid.uuid4()), stream_version=2)
    await world.publish_raw(institution("vub.be", ["be-flemish-0-20"]), str(uuid.uuid4()), stream_version=1)
    await world.drained("catalogue")
    schemes = await world.fetchval("SELECT grading_scheme_ids FROM institutions WHERE institution_id = 'vub.be'")
    assert schemes == ["nl-1-10"]
    # a newer profile replaces the schemes, and with them the default
    await world.publish_raw(institution(GENT, ["pass-fail", "be-flemish-0-20"], updated=True), str(uuid.uuid4()))
    await world.drained("catalogue")
    r = await world.client.post(
        f"/offerings/{OFFERING}/results", json=result_body("l-1", "DATA101", "Pass"), headers=world.assessor(GENT)
    )
    assert r.status_code == 201, r.text
    assert (r.json()["scheme_id"], r.json()["grade"]) == ("pass-fail", "pass")
    assert Decimal(str(r.json()["normalised_score"])) == 1
