"""Set-based re-evaluation: a consumer batch's learner-offerings are decided together at its end.

Each test runs one batch of assessment events exactly as the kernel's fast mode does — the spec's
``prepare_batch`` (locks, learner-offerings recorded), the handlers, then ``finish_batch``
(``engine.reevaluate_many``) in one transaction — against the real database of a running service,
so the batch's contents are fixed rather than left to how JetStream happens to split them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tessera_credential.application.handlers import LearnerBatch, consumer_specs
from tessera_shared.contract.base import parse_data
from tessera_shared.contract.credential import CredentialAwarded
from tessera_shared.contract.envelope import Envelope
from tessera_shared.kernel.consumer import Delivery
from tessera_shared.testing.apps import RunningService
from tests.credential.integration.credential_award_support import (
    Assessment,
    awards_of,
    credential_service,
    enrolment_event,
    evaluation_of,
    offering_scheduled,
    publish,
    publish_envelopes,
    rows,
    wait_settled,
)

pytestmark = pytest.mark.integration


async def run_batch(svc: RunningService, envelopes: list[Envelope]) -> LearnerBatch:
    """One fast-mode batch of the credential service's assessment consumer, in one transaction."""
    [spec] = [s for s in consumer_specs() if s.subscription.source == "assessment"]
    assert spec.prepare_batch is not None and spec.finish_batch is not None
    runtime = svc.runtime
    assert runtime.pool is not None and runtime.store is not None
    events = [(parse_data(env.type, env.data), env) for env in envelopes]
    async with runtime.pool.acquire() as conn, conn.transaction():
        prepared = await spec.prepare_batch(conn, events)
        assert isinstance(prepared, LearnerBatch)
        for event, env in events:
            await spec.handlers[type(event)](event, Delivery(conn, env, runtime.store, prepared))
        await spec.finish_batch(conn, runtime.store, prepared)
    return prepared


async def two_editions(servers: Any, namespace: str, svc: RunningService, learners: list[str]) -> None:
    """Two offerings of the same micro-credential version; every learner admitted to both."""
    await publish(servers, namespace, [(offering_scheduled(o), o) for o in ("off-a", "off-b")])
    await publish(
        servers, namespace, [enrolment_event("admitted", lr, o) for lr in learners for o in ("off-a", "off-b")]
    )
    await wait_settled(svc)


async def test_a_batch_defers_evaluation_to_its_end_and_decides_each_learner_offering_once(servers, namespace, tokens):
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["ann", "bo"])
        ann, bo = a.passes("ann", "off-a"), a.passes("bo", "off-a")
        prepared = await run_batch(svc, [*ann, *bo])
        # three events per learner, one evaluation each, caused by the learner's last event
        assert prepared.touched.keys() == {("ann", "off-a"), ("bo", "off-a")}
        assert prepared.touched[("ann", "off-a")].event_id == ann[-1].id
        for learner, last in (("ann", ann[-1]), ("bo", bo[-1])):
            [award] = await awards_of(svc, learner)
            assert award["status"] == "active" and award["offering_id"] == "off-a"
            [evaluated] = await rows(
                svc,
                """SELECT outcome, award_id::text, evaluated_by, met, (explanation->>'met')::bool AS explained_met
                   FROM award_learner_offerings WHERE learner_id = $1 AND offering_id = 'off-a'""",
                learner,
            )
            assert evaluated == {
                "outcome": "awarded",
                "award_id": award["award_id"],
                "evaluated_by": last.id,
                "met": True,
                "explained_met": True,
            }
            [caused_by] = await rows(svc, "SELECT caused_by FROM awards WHERE learner_id = $1", learner)
            assert caused_by["caused_by"] == last.id
        # one CredentialAwarded event per award, in the outbox with the award, one request queued each
        assert await rows(
            svc, "SELECT event_type, count(*) AS n FROM events WHERE stream_id LIKE 'award-%' GROUP BY event_type"
        ) == [{"event_type": CredentialAwarded.event_type, "n": 2}]
        assert await rows(svc, "SELECT action, count(*) AS n FROM issuance_queue GROUP BY action") == [
            {"action": "issue", "n": 2}
        ]


async def test_two_editions_completed_in_one_batch_give_one_award_and_the_other_is_held_via_it(
    servers, namespace, tokens
):
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["cy"])
        # Both would award the same version: decided in one round, they would both insert an active
        # award and the unique index would fail the batch. A round holds one offering per learner.
        await run_batch(svc, [*a.passes("cy", "off-a"), *a.passes("cy", "off-b")])
        [award] = await awards_of(svc, "cy")
        assert award["status"] == "active" and award["offering_id"] == "off-a"
        held = await evaluation_of(svc, "cy", "off-b")
        assert held is not None and held["outcome"] == "held_via_other_offering"


async def test_a_revocation_in_a_batch_lets_an_edition_already_evaluated_in_it_award(servers, namespace, tokens):
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["dee"])
        await publish_envelopes(servers.nats_url, namespace, a.passes("dee", "off-a"))
        await wait_settled(svc)
        [held] = await awards_of(svc, "dee")
        assert held["offering_id"] == "off-a"
        # off-b completes first in the batch (evaluated while off-a still holds the award), then
        # off-a loses a result: off-a's award is revoked, and off-b, evaluated again, awards.
        await run_batch(svc, [*a.passes("dee", "off-b"), a.withdraw("dee", "off-a", "C1")])
        awards = {x["offering_id"]: x for x in await awards_of(svc, "dee")}
        assert awards["off-a"]["status"] == "revoked"
        assert awards["off-b"]["status"] == "active"
        evaluated = await evaluation_of(svc, "dee", "off-b")
        assert evaluated is not None and evaluated["outcome"] == "awarded"


async def test_a_failing_evaluation_rolls_back_the_batchs_facts_with_it(servers, namespace, tokens, monkeypatch):
    from tessera_credential.adapters import awards as awards_sql

    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["eve"])

        async def broken(conn, *writes):
            raise RuntimeError("evaluation store down")

        # the evaluations' write, alone or (a round that awards) with the awards in one statement
        monkeypatch.setattr(awards_sql, "save_evaluations", broken)
        monkeypatch.setattr(awards_sql, "record_awards", broken)
        with pytest.raises(RuntimeError, match="evaluation store down"):
            await run_batch(svc, a.passes("eve", "off-a"))
        # nothing of the batch remains: neither the facts nor an award (the kernel then redoes it)
        assert await rows(svc, "SELECT 1 FROM award_results WHERE learner_id = 'eve'") == []
        assert await awards_of(svc, "eve") == []


async def test_of_two_editions_completed_in_one_batch_the_one_completed_first_awards(servers, namespace, tokens):
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["fay"])
        a_results = a.passes("fay", "off-a")
        b_results = a.passes("fay", "off-b")
        # off-a is touched first but completed last: one by one, off-b (completed first) would award
        await run_batch(svc, [a_results[0], *b_results, *a_results[1:]])
        [award] = [x for x in await awards_of(svc, "fay") if x["status"] == "active"]
        assert award["offering_id"] == "off-b"
        held = await evaluation_of(svc, "fay", "off-a")
        assert held is not None and held["outcome"] == "held_via_other_offering"


async def test_a_stale_event_neither_becomes_the_cause_nor_reorders(servers, namespace, tokens):
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["gus"])
        first = a.record("gus", "off-a", "C1", 0.9)
        newer = a.correct("gus", "off-a", "C1", 0.8)
        rest = a.passes("gus", "off-a")[1:]
        # the older C1 event comes last: the ordering guard ignores it, and the cause stays the
        # last event that changed a fact
        prepared = await run_batch(svc, [newer, *rest, first])
        assert prepared.touched[("gus", "off-a")].event_id == rest[-1].id
        [award] = await awards_of(svc, "gus")
        [caused_by] = await rows(svc, "SELECT caused_by FROM awards WHERE award_id = $1::uuid", award["award_id"])
        assert caused_by["caused_by"] == rest[-1].id


async def test_learners_in_different_offerings_of_one_batch_are_each_decided_on_their_own_facts(
    servers, namespace, tokens
):
    """A batch's facts are read for its learners x its offerings at once; the pairs it did not touch
    (ann in off-b, bo in off-a: enrolled, and ann with a result there) neither leak into the
    decisions nor get evaluated."""
    a = Assessment()
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["ann", "bo"])
        earlier = a.record("ann", "off-b", "C1", 0.9)
        await run_batch(svc, [earlier])
        before = await rows(svc, _EVALUATED, "ann", "off-b")
        ann, bo = a.passes("ann", "off-a"), a.passes("bo", "off-b")
        prepared = await run_batch(svc, [*ann, *bo])
        assert prepared.touched.keys() == {("ann", "off-a"), ("bo", "off-b")}
        for learner, offering, events in (("ann", "off-a", ann), ("bo", "off-b", bo)):
            [award] = await awards_of(svc, learner)
            assert award["status"] == "active" and award["offering_id"] == offering
            evaluation = await evaluation_of(svc, learner, offering)
            assert evaluation is not None and evaluation["met"] is True
            evidence = set(evaluation["explanation"]["contributing_event_ids"])
            assert evidence == {e.id for e in events}  # this offering's results only
        assert before[0]["evaluated_by"] == earlier.id
        assert await rows(svc, _EVALUATED, "ann", "off-b") == before  # untouched by the batch
        [untouched] = await rows(svc, _EVALUATED, "bo", "off-a")
        assert untouched["evaluated_by"] not in {e.id for e in [*ann, *bo]}


_EVALUATED = "SELECT evaluated_by, outcome FROM award_learner_offerings WHERE learner_id = $1 AND offering_id = $2"


async def test_a_batch_logs_its_results_at_once_and_decides_each_as_one_by_one(servers, namespace, tokens):
    """The hook logs the batch's result events in one statement and stores each component's first
    result; each handler decides against what the batch's earlier events left. The same events one
    per batch (each logged alone) leave the same results: which event applied, its grade, and when
    the stated grade was established (a correction to the same grade keeps the time)."""
    a = Assessment()
    histories: dict[str, list[Envelope]] = {}
    for learner in ("ivy", "jo"):
        recorded = a.record(learner, "off-a", "C1", 0.9)
        same = a.correct(learner, "off-a", "C1", assessed_on=date(2026, 1, 16))  # the same grade: fact_at kept
        other = a.record(learner, "off-a", "C2", 0.7)
        lower = a.correct(learner, "off-a", "C2", 0.55)
        withdrawn = a.record(learner, "off-a", "C3", 0.8)
        gone = a.withdraw(learner, "off-a", "C3")
        # arrival order: C2's newer event before its older one (the older is stale)
        histories[learner] = [recorded, same, lower, other, withdrawn, gone]
    async with credential_service(servers, namespace, tokens) as svc:
        await two_editions(servers, namespace, svc, ["ivy", "jo"])
        prepared = await run_batch(svc, histories["ivy"])
        assert prepared.results.logged == {e.id for e in histories["ivy"]}
        assert prepared.results.first == {histories["ivy"][i].id for i in (0, 2, 4)}  # each component's first
        for envelope in histories["jo"]:
            await run_batch(svc, [envelope])
        stood = {}
        for learner, events in histories.items():
            index = {e.id: i for i, e in enumerate(events)}
            times = {e.id: e.time for e in events}
            found = await rows(
                svc,
                """SELECT component_code, effective, fact_at, event_id FROM award_results
                   WHERE learner_id = $1 ORDER BY component_code""",
                learner,
            )
            stood[learner] = [
                (
                    r["component_code"],
                    r["effective"] and r["effective"]["grade"],
                    index[r["event_id"]],
                    next(index[i] for i, t in times.items() if t == r["fact_at"]),
                )
                for r in found
            ]
            logged = await rows(svc, "SELECT count(*) AS n FROM award_result_events WHERE learner_id = $1", learner)
            assert logged == [{"n": 6}]
        assert [(c, i, t) for c, _, i, t in stood["ivy"]] == [("C1", 1, 0), ("C2", 2, 2), ("C3", 5, 5)]
        assert stood["ivy"][2][1] is None and stood["ivy"][1][1] != stood["ivy"][0][1]
        assert [(c, g, i, t) for c, g, i, t in stood["ivy"]] == [(c, g, i, t) for c, g, i, t in stood["jo"]]
