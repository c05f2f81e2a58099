"""Exactly once under several consumer instances and under replay into an empty read model."""

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest

from tessera_credential.application.handlers import (
    on_enrolment,
    on_offering_scheduled,
    on_pathway_published,
    on_result,
)
from tessera_shared.contract.base import parse_data
from tessera_shared.contract.envelope import Envelope
from tessera_shared.kernel.consumer import Delivery
from tests.credential.integration.credential_award_support import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    Assessment,
    awards_of,
    credential_events,
    credential_service,
    delete_durables,
    enrolment_event,
    offering_scheduled,
    pathway_published,
    publish,
    publish_envelopes,
    rows,
    wait_settled,
)

pytestmark = pytest.mark.integration

LEARNERS = [f"learner-{i:02d}" for i in range(12)]


async def test_two_consumer_instances_on_one_database_award_each_learner_once(servers, namespace, tokens):
    # small batches so that both instances take turns on every durable consumer, including the
    # results of one learner's different components at the same moment
    small = {"consumer_batch_size": 2}
    async with credential_service(servers, namespace, tokens, **small) as one:
        async with credential_service(servers, namespace, tokens, drop_database=False, **small) as two:
            await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
            a = Assessment()
            results = [e for learner in LEARNERS for e in a.passes(learner, "off-1")]
            admissions = [enrolment_event("admitted", learner, "off-1") for learner in LEARNERS]
            await asyncio.gather(
                publish_envelopes(servers.nats_url, namespace, results),
                publish_envelopes(servers.nats_url, namespace, results[::-1], redelivery=True),
                publish(servers, namespace, admissions),
            )
            await wait_settled(one, seconds=60)
            await wait_settled(two, seconds=60)

            per_learner = await rows(
                one,
                "SELECT learner_id, count(*) AS n, count(*) FILTER (WHERE status = 'active') AS active "
                "FROM awards GROUP BY learner_id ORDER BY learner_id",
            )
            assert per_learner == [{"learner_id": lr, "n": 1, "active": 1} for lr in LEARNERS]
            assert await rows(one, "SELECT id FROM dead_letters") == []
            events = await credential_events(servers.nats_url, namespace)
            awarded = [e.data["learner_id"] for e in events if e.type == "tessera.credential.award.awarded.v1"]
            assert sorted(awarded) == LEARNERS


def _envelope(event, subject):
    return Envelope(
        id=str(uuid4()),
        source="/tessera/test",
        type=event.event_type,
        subject=subject,
        time=datetime.now(UTC),
        data=event.model_dump(mode="json"),
    )


async def _handle(runtime, handler, event, envelope=None):
    """What the consumer does for one message: the handler inside a transaction (no NATS here)."""
    envelope = envelope or _envelope(event, "test")
    async with runtime.pool.acquire() as conn, conn.transaction():
        await handler(event, Delivery(conn, envelope, runtime.store))


async def _race(runtime, first, second):
    """Handle the ``first`` (handler, envelope) pairs in one transaction left open, start the
    ``second`` pair meanwhile, then commit. Returns whether ``second`` had to wait for the commit."""
    conn = await runtime.pool.acquire()
    try:
        tx = conn.transaction()
        await tx.start()
        for handler, envelope in first:
            await handler(parse_data(envelope.type, envelope.data), Delivery(conn, envelope, runtime.store))
        handler, envelope = second
        racing = asyncio.create_task(_handle(runtime, handler, parse_data(envelope.type, envelope.data), envelope))
        await asyncio.sleep(0.5)
        waited = not racing.done()
        await tx.commit()
    finally:
        await runtime.pool.release(conn)
    await asyncio.wait_for(racing, 10)
    return waited


async def test_the_learner_lock_serialises_transactions_completing_criteria_of_one_learner(servers, namespace, tokens):
    """Two consumer transactions each bring a missing fact of the same learner. Without the lock,
    each sees only its own uncommitted fact and neither decides (the missed update); with it, the
    second waits for the first and sees both."""
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        runtime = svc.runtime
        one_component = {"rule": {"kind": "component_passed", "component": "K1"}}
        for mc, inst in (("mc-a", GENT), ("mc-b", AMSTERDAM)):
            offering = offering_scheduled(
                f"off-{mc}", mc, components=[("K1", "5", inst)], criteria=one_component, coordinator=inst
            )
            await _handle(runtime, on_offering_scheduled, offering)
            admission, _ = enrolment_event("admitted", "nina", f"off-{mc}", mc)
            await _handle(runtime, on_enrolment, admission)
        pathway = pathway_published("pw-ab", [("mc-a", "5"), ("mc-b", "5")], [GENT, AMSTERDAM])
        await _handle(runtime, on_pathway_published, pathway)
        await _handle(runtime, on_offering_scheduled, offering_scheduled("off-1"))
        await _handle(runtime, on_enrolment, enrolment_event("admitted", "nina", "off-1")[0])

        # the last two results of two different micro-credentials of a pathway
        pass_a = Assessment("mc-a").record("nina", "off-mc-a", "K1", 0.8)
        pass_b = Assessment("mc-b").record("nina", "off-mc-b", "K1", 0.7, AMSTERDAM)
        assert await _race(runtime, [(on_result, pass_a)], (on_result, pass_b))
        pathway_awards = await rows(svc, "SELECT status FROM pathway_awards WHERE learner_id = 'nina'")
        assert pathway_awards == [{"status": "active"}]

        # the last two components of one offering
        a = Assessment()
        c1, c2, c3 = a.passes("nina", "off-1")
        await _handle(runtime, on_result, parse_data(c1.type, c1.data), c1)
        assert await _race(runtime, [(on_result, c2)], (on_result, c3))
        [award] = [x for x in await awards_of(svc, "nina") if x["offering_id"] == "off-1"]
        assert award["status"] == "active"
        assert set(award["explanation"]["contributing_event_ids"]) == {c1.id, c2.id, c3.id}


async def test_a_definition_and_a_learners_first_facts_committing_at_once_meet(servers, namespace, tokens):
    """The catalogue handler of an offering (or pathway) looks for the learners it concerns while a
    learner's first facts are uncommitted, and that learner's evaluation cannot see the uncommitted
    definition: without the definitions lock neither would evaluate them together."""
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        runtime = svc.runtime
        # an offering scheduled while the learner's admission and results are being committed
        admission, stream = enrolment_event("admitted", "olaf", "off-1")
        learner_tx = [(on_enrolment, _envelope(admission, stream))]
        learner_tx += [(on_result, env) for env in Assessment().passes("olaf", "off-1")]
        offering = offering_scheduled("off-1")
        assert await _race(runtime, learner_tx, (on_offering_scheduled, _envelope(offering, "off-1")))
        assert [x["status"] for x in await awards_of(svc, "olaf")] == ["active"]

        # a pathway published while the award that completes it is being committed
        one = {"rule": {"kind": "component_passed", "component": "K1"}}
        solo = offering_scheduled("off-a", "mc-a", components=[("K1", "5", GENT)], criteria=one)
        await _handle(runtime, on_offering_scheduled, solo)
        await _handle(runtime, on_enrolment, enrolment_event("admitted", "olaf", "off-a", "mc-a")[0])
        completing = Assessment("mc-a").record("olaf", "off-a", "K1", 0.9)
        pathway = pathway_published("pw-solo", [("mc-data", "10"), ("mc-a", "5")], [GENT, AMSTERDAM])
        assert await _race(runtime, [(on_result, completing)], (on_pathway_published, _envelope(pathway, "pw")))
        assert await rows(svc, "SELECT status FROM pathway_awards WHERE learner_id = 'olaf'") == [{"status": "active"}]


async def test_the_database_refuses_a_second_active_award(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        insert = """INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
                                        status, awarded_at, explanation, grade_summary, awarded_event_id, caused_by)
                    VALUES (gen_random_uuid(), 'olga', 'mc-data', 1, $1, 'active', now(), '{}', '{}',
                            gen_random_uuid(), 'test')"""
        await svc.runtime.pool.execute(insert, "off-1")
        with pytest.raises(asyncpg.UniqueViolationError):
            await svc.runtime.pool.execute(insert, "off-2")  # another offering of the same version


async def test_replay_into_an_empty_read_model_gives_the_same_awards(servers, namespace, tokens):
    a = Assessment()
    law = Assessment("mc-law")
    scenario_catalogue = [
        (offering_scheduled("off-1"), "off-1"),
        (
            offering_scheduled(
                "off-law",
                "mc-law",
                components=[("K1", "5", AMSTERDAM)],
                criteria={"rule": {"kind": "component_passed", "component": "K1"}},
                coordinator=AMSTERDAM,
            ),
            "off-law",
        ),
        (pathway_published("pw-1", [("mc-data", "10"), ("mc-law", "5")], [GENT, AMSTERDAM, HEIDELBERG]), "pw-1"),
    ]
    learners = ("pia", "quin", "rosa", "sam")
    scenario_enrolment = [enrolment_event("admitted", lr, "off-1") for lr in learners]
    scenario_enrolment += [enrolment_event("admitted", "pia", "off-law", "mc-law")]
    scenario_enrolment += [enrolment_event("withdrawn", "sam", "off-1")]
    law_criteria_met = [law.record("pia", "off-law", "K1", 0.8, AMSTERDAM)]
    results = [
        *a.passes("pia", "off-1"),
        *a.passes("quin", "off-1"),
        *a.passes("rosa", "off-1"),
        *a.passes("sam", "off-1"),
    ]
    later = [
        a.correct("quin", "off-1", "C1", 0.95),  # supersedes
        a.correct("rosa", "off-1", "C2", 0.2),  # revokes
        a.record("rosa", "off-1", "C2", 0.7, AMSTERDAM),  # resit: awarded again
    ]

    async def snapshot(svc):
        awards = await rows(
            svc,
            """SELECT award_id::text, learner_id, micro_credential_id, offering_id, grade_summary, awarded_at,
                      explanation -> 'met' AS met
               FROM awards WHERE status = 'active' ORDER BY award_id""",
        )
        pathways = await rows(
            svc,
            """SELECT award_id::text, learner_id, pathway_id, constituent_award_ids::text[] AS constituents, awarded_at
               FROM pathway_awards WHERE status = 'active' ORDER BY award_id""",
        )
        return awards, pathways

    async def lineage(svc):
        found = await rows(
            svc, "SELECT award_id::text, supersedes::text, awarded_event_id::text FROM awards WHERE status = 'active'"
        )
        return {r["award_id"]: (r["supersedes"], r["awarded_event_id"]) for r in found}

    async with credential_service(servers, namespace, tokens, "credential_live") as live:
        await publish(servers, namespace, scenario_catalogue)
        await publish(servers, namespace, scenario_enrolment)
        await wait_settled(live)  # live, sam's withdrawal is known before his results
        await publish_envelopes(servers.nats_url, namespace, [*results, *law_criteria_met])
        await wait_settled(live)
        await publish_envelopes(servers.nats_url, namespace, later)
        await wait_settled(live)
        before = await snapshot(live)
        live_lineage = await lineage(live)
        history = await rows(live, "SELECT status, count(*) AS n FROM awards GROUP BY status ORDER BY status")
    active_awards, active_pathways = before
    assert sorted(x["learner_id"] for x in active_awards) == ["pia", "pia", "quin", "rosa"]
    assert [x["learner_id"] for x in active_pathways] == ["pia"]
    # quin's award is superseded. rosa's correction and resit are re-evaluated once per batch: in
    # one batch the engine sees only the resit (a supersession), in two the failed correction first
    # (a revocation, then a new award); either way two awards ended and four are active.
    counts = {r["status"]: r["n"] for r in history}
    assert counts["active"] == 4 and counts.get("superseded", 0) >= 1
    assert counts.get("revoked", 0) + counts["superseded"] == 2 and set(counts) <= {"active", "revoked", "superseded"}

    await delete_durables(servers.nats_url, namespace)
    async with credential_service(servers, namespace, tokens, "credential_replay") as replay:
        await wait_settled(replay, seconds=60)
        # the same active awards: ids, grade summaries, dates (from the facts), pathway awards
        assert await snapshot(replay) == before
        # sam (withdrawn) holds nothing. The three source streams are re-consumed independently, so
        # in a replay sam's results can be handled before the withdrawal (here the withdrawal may
        # also lose a deadlock and be retried): an award then lives until the withdrawal arrives
        # and revokes it (docs/awarding.md, "Replay").
        assert [x for x in await awards_of(replay, "sam") if x["status"] == "active"] == []
        # an award reached along the same path is announced under the same event id, so consumers'
        # inboxes (and JetStream's duplicate window) drop the re-announcement
        for award_id, (supersedes, event_id) in (await lineage(replay)).items():
            if supersedes == live_lineage[award_id][0]:
                assert event_id == live_lineage[award_id][1]


async def test_the_one_statement_award_write_refuses_as_its_parts_did(servers, namespace, tokens):
    # engine._Writes.flush writes a round's new awards, requests, events and evaluations in one
    # statement (awards.record_awards): a second active award of a version is the database's
    # UniqueViolationError, a taken award event the event store's DuplicateEvent; nothing stays
    from tessera_credential.adapters.awards import Request, record_awards
    from tessera_credential.application.engine import _awarded_event, award_stream
    from tessera_credential.domain.decision import NewAward
    from tessera_shared.contract.credential import GradeSummary
    from tessera_shared.contract.criteria import Explanation
    from tessera_shared.kernel.eventstore import Append, DuplicateEvent

    def award(offering_id: str) -> tuple[NewAward, str, str]:
        new = NewAward(
            str(uuid4()), "olga", "mc-data", 1, offering_id, None, datetime(2026, 1, 5, tzinfo=UTC),
            Explanation(criterion="all_of", path="", met=True, summary="met"), GradeSummary(ects_earned="10"),
        )  # fmt: skip
        return new, str(uuid4()), "cause-1"

    def parts(*rows: tuple[NewAward, str, str]) -> tuple[list, list, list]:
        requests = [Request("micro_credential", "issue", a.award_id, e) for a, e, _ in rows]
        appends = [Append(award_stream(a.award_id), 0, [_awarded_event(a)], [e]) for a, e, _ in rows]
        return list(rows), requests, appends

    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        pool, store = svc.runtime.pool, svc.runtime.store
        first = award("off-1")
        async with pool.acquire() as conn, conn.transaction():
            await record_awards(conn, store, *parts(first), [])
        for refused, error in (
            (award("off-2"), asyncpg.UniqueViolationError),  # another offering of the same version
            ((award("off-1")[0], first[1], "cause-2"), DuplicateEvent),  # the first award's event id
        ):
            with pytest.raises(error):
                async with pool.acquire() as conn, conn.transaction():
                    await record_awards(conn, store, *parts(refused), [])
        assert [r["offering_id"] for r in await rows(svc, "SELECT offering_id FROM awards")] == ["off-1"]
        assert len(await rows(svc, "SELECT 1 FROM issuance_queue")) == 1
        assert len(await rows(svc, "SELECT 1 FROM events")) == len(await rows(svc, "SELECT 1 FROM outbox")) == 1
