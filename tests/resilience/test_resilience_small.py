"""The small resilience suite (runs in ``make test``): the four services in one process on real NATS
JetStream and PostgreSQL, a cohort of 90 learners (270 results bulk-uploaded through the assessment
API), and on **every durable consumer of every service** at once:

* duplicated, held-back (redelivered after newer messages), shuffled and re-delivered-after-commit
  (lost ack) messages (``world.Chaos``) → no double effect: one award, one credential, one
  completion per qualifying learner, nothing for the others, one inbox row per event;
* poison: a handler bug for chosen events (the stand-alone offering's events on the three catalogue
  consumers; one learner's events on each of the other four) plus malformed messages (not JSON,
  unknown type, data not matching the schema) on every stream → dead-lettered, the rest flows;
* the bug fixed, ``redrive`` processes the dead letters: the poisoned learners get their awards,
  the stand-alone offering becomes usable; malformed messages stay dead letters with the reason.

The full version (kill -9, server restarts, 10,000 results) is ``test_chaos.py`` (``make chaos``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from bench import scenario
from tessera_shared.contract.base import Event
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import stream_name, subject_for
from tessera_shared.demo import data
from tessera_shared.demo.api import assessor, editor
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.servers import Servers
from tests.resilience.world import CONSUMERS, Chaos, Consortium, Poison, settle, start_consortium

pytestmark = pytest.mark.integration

N = 90  # 270 results; every 10th learner fails the law component
STANDALONE = data.STANDALONE_OFFERING
# one learner poisoned per learner-keyed consumer; each also enrols and passes every component
POISONED = {
    "credential--assessment": "poison-results",
    "credential--enrolment": "poison-admission",
    "assessment--enrolment": "poison-assessment",
    "enrolment--credential": "poison-completion",
}
MALFORMED = 3  # per stream: not JSON, unknown type, data not matching the schema


def poison_rule(consumer: str, event: Event) -> bool:
    if consumer.endswith("--catalogue"):
        return getattr(event, "offering_id", None) == STANDALONE
    return POISONED.get(consumer) is not None and getattr(event, "learner_id", None) == POISONED[consumer]


async def publish_malformed(servers: Servers, namespace: str) -> list[str]:
    """Three bad messages on each context's stream; returns their Nats-Msg-Ids."""
    nc = await connect(servers.nats_url)
    js = nc.jetstream()
    ids = []
    known = {
        "catalogue": "tessera.catalogue.offering.opened.v1",
        "enrolment": "tessera.enrolment.enrolment.admitted.v1",
        "assessment": "tessera.assessment.result.recorded.v1",
        "credential": "tessera.credential.award.awarded.v1",
    }
    try:
        for context, event_type in known.items():
            bad_schema = Envelope(
                id=str(uuid.uuid4()),
                source=f"/tessera/{context}",
                type=event_type,
                time=datetime.now(UTC),
                data={"nothing": "that this type has"},
            )
            unknown = Envelope(
                id=str(uuid.uuid4()),
                source=f"/tessera/{context}",
                type=f"tessera.{context}.bogus.thing.v1",
                time=datetime.now(UTC),
                data={},
            )
            for subject, body, msg_id in (
                (subject_for(event_type, namespace), b"{not json", str(uuid.uuid4())),
                (subject_for(unknown.type, namespace), unknown.to_bytes(), unknown.id),
                (subject_for(event_type, namespace), bad_schema.to_bytes(), bad_schema.id),
            ):
                await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id})
                ids.append(msg_id)
    finally:
        await nc.close()
    return ids


async def enrol_cohort(world: Consortium) -> scenario.Cohort:
    cohort = await scenario.enrol(world.api, N, prefix="res", fail_every=10, chunk=N)
    for learner_id in POISONED.values():
        body = {
            "learner_id": learner_id,
            "given_name": "Poison",
            "family_name": learner_id.title(),
            "email": f"{learner_id}@bench.tessera.example",
            "email_verified": True,
        }
        await world.api.request("enrolment", "POST", "/learners", json=body, expect=(201,))
    rows = [
        {
            "offering_id": scenario.OFFERING,
            "learner_id": x,
            "consent_accepted": True,
            "consent_terms_version": scenario.TERMS_VERSION,
        }
        for x in POISONED.values()
    ]
    r = await scenario._post(world.api, "enrolment", "/bulk-enrolments", scenario.REGISTRAR, {"rows": rows}, "poison")
    assert [row["outcome"] for row in r.json()["results"]] == ["admitted"] * len(rows)
    cohort.learner_ids += list(POISONED.values())
    return cohort


async def active_awards(world: Consortium) -> dict[str, int]:
    rows = await world.pool("credential").fetch(
        "SELECT learner_id, count(*) AS n FROM awards WHERE status = 'active' GROUP BY learner_id"
    )
    return {r["learner_id"]: r["n"] for r in rows}


async def issuance_wired(world: Consortium) -> bool:
    return bool(await world.pool("credential").fetchval("SELECT to_regclass('issued_credentials') IS NOT NULL"))


async def _quiet_once(world: Consortium) -> bool:
    # Upstream first (issuance queue → outboxes → consumers): work that moves on between two checks
    # is then seen downstream.
    if await issuance_wired(world):
        pending = await world.pool("credential").fetchval("SELECT count(*) FROM issuance_queue WHERE done_at IS NULL")
        if pending:
            return False
    for service in world.services:
        if await world.pool(service).fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            return False
    for name in CONSUMERS:
        if await world.consumer(name).lag():
            return False
    return True


async def quiet(world: Consortium) -> bool:
    """Nothing queued anywhere, twice in a row half a second apart (a consumer's handling can queue
    new work after its own check passed)."""
    if not await _quiet_once(world):
        return False
    await asyncio.sleep(0.5)
    return await _quiet_once(world)


@pytest.fixture(scope="module")
async def world(servers: Servers, tokens: Any) -> AsyncIterator[dict[str, Any]]:
    namespace = "r" + uuid.uuid4().hex[:10]
    chaos = Chaos()
    poison = Poison(poison_rule)
    with pytest.MonkeyPatch.context() as mp:
        chaos.install(mp)
        async with AsyncExitStack() as stack:
            w = await start_consortium(stack, servers, namespace, tokens)
            poison.install([w.consumer(name) for name in CONSUMERS])
            malformed = await publish_malformed(servers, namespace)
            await scenario.seed_consortium(w.api, capacity=N + 20, deadline=_deadline(120))
            body = {
                "offering_id": STANDALONE,
                "micro_credential_id": data.STANDALONE,
                "version": 1,
                "terms": data.offering_terms(scenario.seed.consortium_today(), capacity=20),
            }
            await w.api.request("catalogue", "POST", "/offerings", who=editor(data.GENT), json=body, expect=(201,))
            await w.api.request("catalogue", "POST", f"/offerings/{STANDALONE}/open", who=editor(data.GENT))
            cohort = await enrol_cohort(w)
            known = [x for x in cohort.learner_ids if x != POISONED["assessment--enrolment"]]
            await scenario.wait_assessment_knows(w.pool("assessment"), known, _deadline(120))
            uploads = [await scenario.upload_component(w.api, cohort, c, key=f"res-{c}") for c in scenario.COMPONENTS]
            expected = {x for x in cohort.qualifying} - {
                POISONED[c] for c in ("credential--assessment", "credential--enrolment", "assessment--enrolment")
            }

            async def flowed() -> bool:
                return expected <= set(await active_awards(w)) and await quiet(w)

            assert await settle(flowed, seconds=240), "the rest did not flow around the poison"
            yield {
                "consortium": w,
                "cohort": cohort,
                "chaos": chaos,
                "poison": poison,
                "malformed": malformed,
                "uploads": uploads,
                "expected": expected,
                "namespace": namespace,
                "servers": servers,
            }


def _deadline(seconds: float) -> float:
    import time

    return time.monotonic() + seconds


async def test_every_consumer_of_every_service_got_every_fault(world):
    injected = world["chaos"].injected
    for name in CONSUMERS:
        for kind in ("held_back", "duplicated", "shuffled_batches", "ack_lost"):
            assert injected[name][kind] > 0, f"{name}: no {kind}"
    for name in CONSUMERS:
        assert world["poison"].failed[name], f"{name}: no poison event reached the handler"


async def test_duplicates_and_reordering_have_no_double_effect(world):
    w: Consortium = world["consortium"]
    cohort: scenario.Cohort = world["cohort"]
    expected: set[str] = world["expected"]
    cred = w.pool("credential")
    # one award per qualifying learner, never revoked or superseded by a replayed fact, none for the others
    rows = await cred.fetch("SELECT learner_id, status FROM awards")
    assert sorted(r["learner_id"] for r in rows) == sorted(expected)
    assert {r["status"] for r in rows} == {"active"}
    assert not set(r["learner_id"] for r in rows) & cohort.failing
    announced = await cred.fetch(
        "SELECT data->>'learner_id' AS learner_id, count(*) AS n FROM events WHERE event_type = $1 GROUP BY 1",
        scenario.AWARDED,
    )
    assert {r["learner_id"]: r["n"] for r in announced} == dict.fromkeys(expected, 1)
    if await issuance_wired(w):
        issued = await cred.fetch("SELECT learner_id, status FROM issued_credentials")
        assert sorted(r["learner_id"] for r in issued) == sorted(expected)
        assert {r["status"] for r in issued} == {"active"}
        events = await cred.fetchval("SELECT count(*) FROM events WHERE event_type = $1", scenario.CREDENTIAL_ISSUED)
        assert events == len(expected)
    # the enrolment service completed each awarded enrolment once; seats counted once
    enr = w.pool("enrolment")
    completed = await enr.fetch(
        "SELECT data->>'learner_id' AS learner_id, count(*) AS n FROM events "
        "WHERE event_type = 'tessera.enrolment.enrolment.completed.v1' GROUP BY 1"
    )
    assert {r["learner_id"]: r["n"] for r in completed} == dict.fromkeys(
        expected - {POISONED["enrolment--credential"]}, 1
    )
    taken = await enr.fetchval("SELECT taken FROM offering_seats WHERE offering_id = $1", scenario.OFFERING)
    assert taken == len(cohort.learner_ids)
    statuses = dict(
        await enr.fetch("SELECT learner_id, status FROM enrolments WHERE offering_id = $1", scenario.OFFERING)
    )
    for learner_id in cohort.failing:
        assert statuses[learner_id] == "admitted"
    # the assessment service recorded each accepted result once, and knows each admission once
    ass = w.pool("assessment")
    accepted = sum(u.accepted for u in world["uploads"])
    assert accepted == 3 * (len(cohort.learner_ids) - 1)  # the learner whose admission is poison: refused
    assert await ass.fetchval("SELECT count(*) FROM results") == accepted
    assert (
        await ass.fetchval(
            "SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id HAVING count(*) > 1) s"
        )
        == 0
    )
    assert (
        await ass.fetchval("SELECT count(*) FROM (SELECT learner_id FROM enrolments GROUP BY 1 HAVING count(*) > 1) s")
        == 0
    )


async def test_every_event_was_handled_once_or_dead_lettered(world):
    """inbox rows + dead-lettered event ids = the messages on the source stream, per consumer."""
    w: Consortium = world["consortium"]
    nc = await connect(world["servers"].nats_url)
    try:
        js = nc.jetstream()
        for name in CONSUMERS:
            service, source = name.split("--")
            on_stream = (await js.stream_info(stream_name(source, world["namespace"]))).state.messages
            pool = w.pool(service)
            inbox = await pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", name)
            dead = await pool.fetchval("SELECT count(DISTINCT event_id) FROM dead_letters WHERE consumer = $1", name)
            assert inbox + dead == on_stream, name
            handled_and_dead = await pool.fetchval(
                "SELECT count(*) FROM dead_letters d JOIN inbox i ON i.consumer = d.consumer AND i.event_id = d.event_id "
                "WHERE d.consumer = $1",
                name,
            )
            assert handled_and_dead == 0, name
    finally:
        await nc.close()


async def test_a_message_delivered_again_is_dead_lettered_once(world):
    w: Consortium = world["consortium"]
    twice = []
    for name in CONSUMERS:
        rows = await w.pool(name.split("--")[0]).fetch(
            "SELECT event_id, count(*) AS n FROM dead_letters WHERE consumer = $1 GROUP BY event_id HAVING count(*) > 1",
            name,
        )
        twice += [(name, r["event_id"], r["n"]) for r in rows]
    assert twice == []


async def test_poison_is_dead_lettered_and_the_rest_flows(world):
    w: Consortium = world["consortium"]
    failed = world["poison"].failed
    for name in CONSUMERS:
        service = name.split("--")[0]
        rows = await w.pool(service).fetch(
            "SELECT event_id, min(error) AS error, min(delivery_count) AS delivery_count FROM dead_letters "
            "WHERE consumer = $1 AND redriven_at IS NULL GROUP BY event_id",
            name,
        )
        by_id = {r["event_id"]: r for r in rows}
        source = name.split("--")[1]
        malformed = set(world["malformed"][MALFORMED * _CONTEXTS.index(source) :][:MALFORMED])
        assert set(by_id) == failed[name] | malformed, name
        for event_id in failed[name]:
            assert "injected bug" in by_id[event_id]["error"]
            assert by_id[event_id]["delivery_count"] == 5  # CONSUMER_MAX_DELIVER (the first of its dead letters)
        for event_id in malformed:
            # malformed: dead at the first delivery the kernel sees (Chaos may have held back the first)
            assert by_id[event_id]["delivery_count"] <= 2
    awards = await active_awards(w)
    for name in ("credential--assessment", "credential--enrolment", "assessment--enrolment"):
        assert POISONED[name] not in awards
    enrolments = await w.api.get_json("enrolment", "/enrolments", learner_id=POISONED["enrolment--credential"])
    assert [e["status"] for e in enrolments["items"]] == ["admitted"]
    r = await w.api.request("enrolment", "GET", f"/offerings/{STANDALONE}", allow=(404,))
    assert r.status_code == 404


_CONTEXTS = ["catalogue", "enrolment", "assessment", "credential"]


async def test_redrive_after_the_fix_processes_the_dead_letters(world):
    w: Consortium = world["consortium"]
    world["poison"].fix()
    for name in CONSUMERS:
        source = name.split("--")[1]
        malformed = world["malformed"][MALFORMED * _CONTEXTS.index(source) :][:MALFORMED]
        rows = await w.pool(name.split("--")[0]).fetch(
            "SELECT event_id = ANY($2::text[]) AS malformed, count(*) AS n FROM dead_letters "
            "WHERE consumer = $1 AND redriven_at IS NULL GROUP BY 1",
            name,
            malformed,
        )
        counts = {r["malformed"]: r["n"] for r in rows}
        outcome = await w.consumer(name).redrive()
        # rows, not events: one open dead letter per consumer and event (kernel migration 0002)
        assert outcome == {"redriven": counts.get(False, 0), "failed": counts.get(True, 0)}, name
        assert counts.get(False, 0) >= len(world["poison"].failed[name]) > 0, name
    # the stand-alone offering is known everywhere now: enrol two learners and pass them
    r = await w.api.request("enrolment", "GET", f"/offerings/{STANDALONE}")
    assert r.json()["status"] == "open"
    # the learner whose admission the assessment service had missed: results accepted now
    late = scenario.Cohort([POISONED["assessment--enrolment"]])
    for c in scenario.COMPONENTS:
        u = await scenario.upload_component(w.api, late, c, key=f"late-{c}")
        assert (u.accepted, u.rejected) == (1, 0), u.errors
    rows = [
        {
            "offering_id": STANDALONE,
            "email": f"dv-{i}@bench.tessera.example",
            "given_name": "Data",
            "family_name": f"Vis {i}",
            "consent_accepted": True,
            "consent_terms_version": scenario.TERMS_VERSION,
        }
        for i in range(2)
    ]
    r = await scenario._post(w.api, "enrolment", "/bulk-enrolments", scenario.REGISTRAR, {"rows": rows}, "dv")
    assert [row["outcome"] for row in r.json()["results"]] == ["admitted", "admitted"]
    dv_learners = [row["learner_id"] for row in r.json()["results"]]
    await scenario.wait_assessment_knows(w.pool("assessment"), dv_learners, _deadline(60), offering=STANDALONE)
    on = scenario.result_rows(scenario.Cohort(dv_learners), "RAI-ETH")[0]["assessed_on"]
    results = [
        {"learner_id": x, "component_code": "DV1", "attempt": 1, "grade": "14", "assessed_on": on} for x in dv_learners
    ]
    r = await scenario._post(
        w.api,
        "assessment",
        f"/offerings/{STANDALONE}/results/uploads",
        assessor(data.GENT),
        {"results": results},
        "dv-results",
    )
    assert r.json()["accepted"] == 2, r.json()["errors"]

    wanted = {POISONED[c] for c in ("credential--assessment", "credential--enrolment", "assessment--enrolment")}
    wanted |= set(dv_learners)

    async def all_awarded() -> bool:
        return wanted <= set(await active_awards(w)) and await quiet(w)

    assert await settle(all_awarded, seconds=120)
    awards = await active_awards(w)
    assert sorted(awards) == sorted(world["expected"] | wanted)
    assert set(awards.values()) == {1}
    enrolments = await w.api.get_json("enrolment", "/enrolments", learner_id=POISONED["enrolment--credential"])
    assert [e["status"] for e in enrolments["items"]] == ["completed"]
    # what is left in the dead letters is explained: the malformed messages, with why redrive failed
    for name in CONSUMERS:
        service = name.split("--")[0]
        left = await w.pool(service).fetch(
            "SELECT event_id, error, redrive_error FROM dead_letters WHERE consumer = $1 AND redriven_at IS NULL", name
        )
        source = name.split("--")[1]
        assert {r["event_id"] for r in left} == set(
            world["malformed"][MALFORMED * _CONTEXTS.index(source) :][:MALFORMED]
        ), name
        assert all(r["redrive_error"] for r in left), name
