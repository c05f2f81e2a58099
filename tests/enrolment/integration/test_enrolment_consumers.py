"""The catalogue's and the credential service's events: delivered twice, applied once; in any order,
the same outcome; completion by award, not completed when the offering finishes without one."""

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from tessera_enrolment.adapters import awards_sql
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.envelope import Envelope, dataschema_for
from tessera_shared.contract.topology import subject_for
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.apps import eventually
from tests.enrolment.enrolment_builders import awarded, lifecycle, offering_scheduled, version_published

pytestmark = pytest.mark.integration


async def _statuses(svc, offering_id: str) -> dict[str, str]:
    r = await svc.client.get("/enrolments", params={"offering_id": offering_id}, headers=svc.operator())
    return {e["learner_id"]: e["status"] for e in r.json()["items"]}


async def _seats(svc, offering_id: str) -> dict:
    return (await svc.client.get(f"/offerings/{offering_id}", headers=svc.operator())).json()["seats"]


async def test_catalogue_and_credential_events_published_twice_are_applied_once(svc):
    await svc.open("off-dup", capacity=3)
    for learner in ("dup-1", "dup-2"):
        await svc.register(learner)
        assert (await svc.enrol(learner, "off-dup")).json()["status"] == "admitted"

    # the catalogue re-publishes the offering (a new event id, the same content): seats are kept
    await svc.publish([offering_scheduled("off-dup", "mc-off-dup"), version_published("mc-off-dup")])
    award = awarded("dup-1", "mc-off-dup", "off-dup", award_id="aw-dup-1")
    await svc.publish([award, award])
    await svc.wait_consumed()
    assert await _seats(svc, "off-dup") == {"capacity": 3, "taken": 2, "available": 1, "waitlisted": 0}
    assert (await svc.offering_status("off-dup")) == "open"
    assert await _statuses(svc, "off-dup") == {"dup-1": "completed", "dup-2": "admitted"}
    assert len(await svc.events("tessera.enrolment.enrolment.completed.v1")) == 1

    cancelled = lifecycle(cat.OfferingCancelled, "off-dup", "mc-off-dup", reason="no rooms")
    await svc.publish([cancelled, cancelled])
    await svc.wait_consumed()
    assert await _statuses(svc, "off-dup") == {"dup-1": "completed", "dup-2": "cancelled"}
    assert len(await svc.events("tessera.enrolment.enrolment.cancelled.v1")) == 1


async def test_a_redelivered_message_with_the_same_event_id_runs_the_handler_once(svc):
    """The same CloudEvent (same id) arriving twice — JetStream's duplicate window bypassed by a new
    Nats-Msg-Id, as after a producer's crash — is skipped by the consumer's inbox."""
    await svc.open("off-redeliver", capacity=5)
    await svc.register("re-1")
    assert (await svc.enrol("re-1", "off-redeliver")).json()["status"] == "admitted"
    event, subject = lifecycle(cat.OfferingCancelled, "off-redeliver", "mc-off-redeliver", reason="flood")
    envelope = Envelope(
        id=str(uuid.uuid4()),
        source="/tessera/catalogue",
        type=event.event_type,
        subject=subject,
        time=datetime.now(UTC),
        dataschema=dataschema_for(event.event_type),
        data=event.model_dump(mode="json"),
    )
    nc = await connect(svc.servers.nats_url)
    try:
        js = nc.jetstream()
        for _ in range(2):
            await js.publish(
                subject_for(event.event_type, svc.namespace),
                envelope.to_bytes(),
                headers={"Nats-Msg-Id": str(uuid.uuid4())},
            )
    finally:
        await nc.close()
    await svc.wait_consumed()

    async with svc.pool.acquire() as conn:
        inbox = await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", envelope.id)
    assert inbox == 1
    assert await _statuses(svc, "off-redeliver") == {"re-1": "cancelled"}
    assert len(await svc.events("tessera.enrolment.enrolment.cancelled.v1")) == 1


async def test_events_in_any_order_give_the_same_offering(svc):
    # opened before it was scheduled, and the version after both
    await svc.publish(
        [
            lifecycle(cat.OfferingOpened, "off-late", "mc-late"),
            offering_scheduled("off-late", "mc-late"),
            version_published("mc-late"),
        ]
    )
    await svc.wait_status("off-late", "open")
    await svc.register("late-1")
    assert (await svc.enrol("late-1", "off-late")).json()["status"] == "admitted"

    # cancelled before it was scheduled: stays cancelled
    await svc.publish(
        [
            lifecycle(cat.OfferingCancelled, "off-never", "mc-never", reason="withdrawn"),
            offering_scheduled("off-never", "mc-never"),
            lifecycle(cat.OfferingOpened, "off-never", "mc-never"),
        ]
    )
    await svc.wait_consumed()
    assert await svc.offering_status("off-never") == "cancelled"
    r = await svc.enrol("late-1", "off-never")
    assert r.status_code == 409

    # a lifecycle event of an offering never scheduled: known, but nobody can enrol
    await svc.publish([lifecycle(cat.OfferingOpened, "off-ghost", "mc-ghost")])
    await svc.wait_status("off-ghost", "open")
    r = await svc.enrol("late-1", "off-ghost")
    assert r.status_code == 409 and "not been scheduled" in r.json()["detail"]


async def test_completion_by_award_and_not_completed_when_the_offering_finishes_without_one(svc):
    await svc.open("off-end", capacity=3)
    for learner in ("end-award-early", "end-award-late", "end-none", "end-waiting"):
        await svc.register(learner)
    for learner in ("end-award-early", "end-award-late", "end-none"):
        assert (await svc.enrol(learner, "off-end")).json()["status"] == "admitted"
    assert (await svc.enrol("end-waiting", "off-end")).json()["status"] == "waitlisted"
    # an award while the offering runs completes the enrolment at once
    await svc.publish([awarded("end-award-early", "mc-off-end", "off-end", award_id="aw-early")])
    await svc.publish([lifecycle(k, "off-end", "mc-off-end") for k in (cat.OfferingClosed, cat.OfferingStarted)])
    await svc.wait_status("off-end", "running")
    await svc.publish([lifecycle(cat.OfferingFinished, "off-end", "mc-off-end")])
    await svc.wait_status("off-end", "finished")
    await svc.wait_consumed()
    assert await _statuses(svc, "off-end") == {
        "end-award-early": "completed",
        "end-award-late": "not_completed",
        "end-none": "not_completed",
        "end-waiting": "cancelled",  # the waitlist closes with the offering; nothing was charged
    }
    waiting = await svc.client.get("/enrolments", params={"learner_id": "end-waiting"}, headers=svc.operator())
    assert (waiting.json()["items"][0]["refund_rule"], waiting.json()["items"][0]["refund_eur"]) == (
        "nothing_charged",
        "0.00",
    )

    # the award decided after the end turns "not completed" into "completed"
    await svc.publish([awarded("end-award-late", "mc-off-end", "off-end", award_id="aw-late")])

    async def late_completed():
        return (await _statuses(svc, "off-end"))["end-award-late"] == "completed"

    assert await eventually(late_completed)
    assert (await _statuses(svc, "off-end"))["end-none"] == "not_completed"
    completed = await svc.events("tessera.enrolment.enrolment.completed.v1")
    assert sorted(e["data"]["award_id"] for e in completed) == ["aw-early", "aw-late"]


async def test_completion_locks_the_seats_before_the_enrolment_in_one_statement(svc):
    """The lock order of every command (seats, then enrolments) holds inside the one statement that
    records an award and finds and locks the enrolment it completes: while the seats row is held
    elsewhere, the enrolment is not locked yet."""
    await svc.open("off-order", capacity=2)
    await svc.register("order-1")
    enrolled = (await svc.enrol("order-1", "off-order")).json()
    assert enrolled["status"] == "admitted"
    async with svc.pool.acquire() as seats, svc.pool.acquire() as completing, svc.pool.acquire() as probe:
        async with seats.transaction():
            await seats.execute("SELECT 1 FROM offering_seats WHERE offering_id = 'off-order' FOR UPDATE")
            tx = completing.transaction()
            await tx.start()
            try:
                award, _ = awarded("order-1", "mc-order", "off-order", award_id="aw-order")
                found = asyncio.create_task(awards_sql.record_awarded(completing, award))
                await asyncio.sleep(0.3)
                assert not found.done()  # waits for the seats
                async with probe.transaction():  # and holds no enrolment row meanwhile
                    await probe.execute(
                        "SELECT 1 FROM enrolments WHERE enrolment_id = $1 FOR UPDATE NOWAIT", enrolled["enrolment_id"]
                    )
            except BaseException:
                await tx.rollback()
                raise
        assert await asyncio.wait_for(found, 10) == (False, enrolled["enrolment_id"])
        with pytest.raises(asyncpg.LockNotAvailableError):
            await probe.execute(
                "SELECT 1 FROM enrolments WHERE enrolment_id = $1 FOR UPDATE NOWAIT", enrolled["enrolment_id"]
            )
        await tx.rollback()
