"""``persist`` (application/deps.py): an enrolment's row and its events go in one statement, and a
refusal — another command appended first, or a second active enrolment — writes neither."""

import pytest

from tessera_enrolment.adapters import enrolments_sql, offerings_sql
from tessera_enrolment.application.deps import persist
from tessera_enrolment.domain.enrolment import Enrolment
from tessera_shared.contract import enrolment as ev
from tessera_shared.kernel.aggregate import Conflict
from tessera_shared.kernel.eventstore import ConcurrencyError

pytestmark = pytest.mark.integration


async def _state(conn, enrolment_id: str) -> tuple[str, int, list[str]]:
    row = await conn.fetchrow("SELECT status, version FROM enrolments WHERE enrolment_id = $1", enrolment_id)
    types = await conn.fetch(
        "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY stream_version", f"enrolment-{enrolment_id}"
    )
    published = await conn.fetchval(
        "SELECT count(*) FROM outbox o JOIN events e USING (event_id) WHERE e.stream_id = $1",
        f"enrolment-{enrolment_id}",
    )
    assert published == len(types)  # every event with its outbox row
    return row["status"], row["version"], [t["event_type"].split(".")[-2] for t in types]


async def test_a_stale_aggregate_writes_neither_its_row_nor_its_events(svc):
    await svc.open("off-p")
    await svc.register("l-p")
    enrolment_id = (await svc.enrol("l-p", "off-p")).json()["enrolment_id"]
    store, now = svc.running.runtime.store, svc.clock.now()
    async with svc.pool.acquire() as conn:
        first = (await enrolments_sql.load_aggregates(conn, [enrolment_id]))[enrolment_id]
        stale = (await enrolments_sql.load_aggregates(conn, [enrolment_id]))[enrolment_id]
        before = await _state(conn, enrolment_id)
        assert before[0] == "admitted"

        first.withdraw(by="l-p", at=now)
        async with conn.transaction():
            await persist(conn, store, [first], now=now)
        assert await _state(conn, enrolment_id) == ("withdrawn", before[1] + 1, [*before[2], "withdrawn"])

        stale.complete(award_id="award-1", at=now)  # decided on the state before the withdrawal
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                await persist(conn, store, [stale], now=now)
        assert await _state(conn, enrolment_id) == ("withdrawn", before[1] + 1, [*before[2], "withdrawn"])


async def test_a_second_active_enrolment_is_a_conflict_on_the_learner_and_writes_nothing(svc):
    await svc.open("off-q")
    await svc.register("l-q")
    await svc.enrol("l-q", "off-q")
    store, now = svc.running.runtime.store, svc.clock.now()
    async with svc.pool.acquire() as conn:
        offering = await offerings_sql.load_offering(conn, "off-q")
        assert offering is not None
        consent = ev.Consent(terms_version="2025-1", accepted_at=now, partners=offering.partners)
        second = Enrolment.request(
            "e-second", learner_id="l-q", offering=offering, consent=consent, requested_by="l-q", at=now
        )
        second.admit(fee=offering.fee(), at=now)
        with pytest.raises(Conflict) as refused:
            async with conn.transaction():
                await persist(conn, store, [second], now=now)
        assert refused.value.field == "learner_id"
        assert await conn.fetchval("SELECT count(*) FROM enrolments WHERE enrolment_id = 'e-second'") == 0
        assert await conn.fetchval("SELECT count(*) FROM events WHERE stream_id = 'enrolment-e-second'") == 0


async def test_another_unique_violation_is_raised_as_it_is(svc):
    import asyncpg

    await svc.open("off-r")
    for learner in ("l-r1", "l-r2"):
        await svc.register(learner)
    store, now = svc.running.runtime.store, svc.clock.now()
    async with svc.pool.acquire() as conn:
        offering = await offerings_sql.load_offering(conn, "off-r")
        assert offering is not None
        consent = ev.Consent(terms_version="2025-1", accepted_at=now, partners=offering.partners)
        waiting = []
        for n, learner in enumerate(("l-r1", "l-r2")):
            e = Enrolment.request(
                f"e-r{n}", learner_id=learner, offering=offering, consent=consent, requested_by=learner, at=now
            )
            e.waitlist(ticket=7, at=now)  # the same ticket twice: enrolments_unique_ticket
            waiting.append(e)
        async with conn.transaction():
            await persist(conn, store, waiting[:1], now=now)
        with pytest.raises(asyncpg.UniqueViolationError) as refused:  # not a ConcurrencyError to retry
            async with conn.transaction():
                await persist(conn, store, waiting[1:], now=now)
        assert refused.value.constraint_name == "enrolments_unique_ticket"
