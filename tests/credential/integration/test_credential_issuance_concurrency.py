"""Issuance with several batches in flight and documents signed in worker processes: still exactly
once per award, every status entry either used by a credential or given back; credential events
carry the context (correlation, trace) of the award event that caused them."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import pytest

from tessera_credential.issuance import pipeline as pipeline_module
from tessera_credential.issuance.processes import SignerSecret, SigningPool, build_and_sign
from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.proofs import verify_document
from tessera_shared.contract.credential import AwardSuperseded, CredentialAwarded
from tessera_shared.contract.envelope import Envelope
from tessera_shared.kernel import context
from tessera_shared.kernel.eventstore import Append, EventStore
from tessera_shared.kernel.own_loop import OwnLoop
from tests.credential.integration.test_credential_issuance_world import (
    DIDS,
    award,
    awards_with_redelivered_requests,
    credential_of,
    explanation,
    grade_summary,
    migrate,
    pipeline,
    seed_catalogue,
    seed_learner,
    supersede,
)

pytestmark = pytest.mark.integration
ISSUED = "tessera.credential.credential.issued.v1"


@pytest.fixture
async def signer():
    pool = SigningPool(2)
    assert await pool.ready()  # documents signed in the processes, not in a thread while they start
    yield pool
    await pool.close()


async def counts(conn: Any) -> dict[str, int]:
    return {
        "credentials": await conn.fetchval("SELECT count(*) FROM issued_credentials"),
        "entries": await conn.fetchval("SELECT count(*) FROM status_list_entries"),
        "issued_events": await conn.fetchval("SELECT count(*) FROM events WHERE event_type = $1", ISSUED),
        "pending": await conn.fetchval("SELECT count(*) FROM issuance_queue WHERE done_at IS NULL"),
        "unsigned_lists": await conn.fetchval("SELECT count(*) FROM status_lists WHERE version > signed_version"),
    }


async def test_concurrent_batches_signed_in_processes_issue_each_award_exactly_once(pool, signer):
    award_ids = await awards_with_redelivered_requests(pool, 30, again_every=3)
    # two "replicas", each with three batches in flight, sharing the two signing processes
    issuers = [pipeline(pool, batch_size=4, signer=signer, concurrency=3) for _ in range(2)]
    await asyncio.gather(*(p.drain(pool) for p in issuers))
    await asyncio.gather(*(p.drain(pool) for p in issuers))  # rows of a batch that lost a deadlock, if any
    async with pool.acquire() as conn:
        found = await counts(conn)
        per_award = await conn.fetch("SELECT award_id, count(*) AS n FROM issued_credentials GROUP BY award_id")
        documents = [r["document"] for r in await conn.fetch("SELECT document FROM issued_credentials")]
        keys = await ConsortiumKeys.load(conn, DIDS)
    assert sorted(r["award_id"] for r in per_award) == sorted(award_ids) and {r["n"] for r in per_award} == {1}
    # every reserved status entry is used by a credential, or was given back
    assert found == {"credentials": 30, "entries": 30, "issued_events": 30, "pending": 0, "unsigned_lists": 0}
    assert all(verify_document(d, keys.resolve_key).verified for d in documents)


async def test_entries_of_credentials_not_stored_are_given_back(pool, monkeypatch):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        for learner in ("ana", "ben", "bad"):
            await seed_learner(conn, learner)
            await award(conn, learner)

    def failing_for_bad(jobs, secrets, dids, at):  # one document cannot be made
        signed = build_and_sign(jobs, secrets, dids, at)
        return [
            type(s)(error="ValueError: cannot sign this one") if j.issuance.learner.family_name == "Bad" else s
            for j, s in zip(jobs, signed, strict=True)
        ]

    monkeypatch.setattr(pipeline_module, "build_and_sign", failing_for_bad)
    await pipeline(pool).drain(pool)
    async with pool.acquire() as conn:
        found = await counts(conn)
        error = await conn.fetchval(
            "SELECT q.last_error FROM issuance_queue q JOIN awards a ON a.award_id = q.award_id "
            "WHERE a.learner_id = 'bad'"
        )
    assert found["credentials"] == 2 and found["entries"] == 2  # bad's entry given back
    assert found["pending"] == 1 and error == "ValueError: cannot sign this one"

    def broken(jobs, secrets, dids, at):  # the whole batch fails: its transaction rolls back
        raise RuntimeError("signing is down")

    monkeypatch.setattr(pipeline_module, "build_and_sign", broken)
    async with pool.acquire() as conn:
        await seed_learner(conn, "cy")
        cy = await award(conn, "cy")
    await pipeline(pool).drain(pool, max_batches=1)  # the batch, then its row alone: both roll back
    async with pool.acquire() as conn:
        found = await counts(conn)
        error = await conn.fetchval("SELECT last_error FROM issuance_queue WHERE award_id = $1", uuid.UUID(cy))
        reserved = await conn.fetchval("SELECT allocated FROM status_lists")
    assert found["credentials"] == 2 and found["entries"] == 2  # nothing kept from the rolled-back batches
    assert found["pending"] == 2 and error == "RuntimeError: signing is down"
    assert reserved == 5  # 3 + 2 entries were reserved (and committed) before signing; 3 were given back


async def caused_by(conn: Any, store: EventStore, award_id: str, action: str, ctx: context.MessageContext) -> str:
    """Store the award event behind ``award_id``'s queue row of ``action`` (as the engine does,
    with ``ctx`` as its context) and point the row at it; returns the event id."""
    row = await conn.fetchrow("SELECT * FROM awards WHERE award_id = $1", uuid.UUID(award_id))
    common = {
        "award_id": award_id,
        "learner_id": row["learner_id"],
        "micro_credential_id": row["micro_credential_id"],
        "micro_credential_version": row["micro_credential_version"],
        "offering_id": row["offering_id"],
    }
    if action == "issue":
        event: Any = CredentialAwarded(
            **common, awarded_at=row["awarded_at"], explanation=explanation(), grade_summary=grade_summary()
        )
    else:
        event = AwardSuperseded(
            **common,
            superseded_by=str(row["superseded_by"]),
            superseded_at=datetime.now(UTC),
            reason="grade corrected",
        )
    [stored] = await store.append_many(conn, [Append(f"award-{award_id}-{action}", 0, [event], context=ctx)])
    await conn.execute(
        "UPDATE issuance_queue SET event_id = $3 WHERE award_id = $1 AND action = $2",
        uuid.UUID(award_id),
        action,
        uuid.UUID(stored.event_id),
    )
    return stored.event_id


def trace_and_span(traceparent: str | None) -> tuple[str, str]:
    assert traceparent is not None
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


async def test_credential_events_carry_the_context_of_the_award_event_that_caused_them(pool, signer):
    await migrate(pool)
    store = EventStore(pool, source="/tessera/credential", service="credential")
    first_trace = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    correction_trace = "00-" + "3" * 32 + "-" + "4" * 16 + "-01"
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana")
        first = await award(conn, "ana")
        awarded = await caused_by(conn, store, first, "issue", context.MessageContext("corr-result", "r1", first_trace))
    await pipeline(pool, signer=signer).drain(pool)
    async with pool.acquire() as conn:
        second = await supersede(conn, first, "ana")
        correction = context.MessageContext("corr-correction", "r2", correction_trace)
        superseded = await caused_by(conn, store, first, "supersede", correction)
        reawarded = await caused_by(conn, store, second, "issue", correction)
    await pipeline(pool, signer=signer).drain(pool)
    async with pool.acquire() as conn:
        events = {
            (r["event_type"].split(".")[3], r["data"]["award_id"]): r
            for r in await conn.fetch(
                "SELECT event_id::text, event_type, data, metadata FROM events "
                "WHERE event_type LIKE 'tessera.credential.credential.%'"
            )
        }
        outbox = {
            e.id: e
            for e in (Envelope.from_bytes(bytes(r["body"])) for r in await conn.fetch("SELECT body FROM outbox"))
        }
        assert (await credential_of(conn, first))["status"] == "superseded"

    for key, cause, correlation, traceparent in (
        (("issued", first), awarded, "corr-result", first_trace),
        (("superseded", first), superseded, "corr-correction", correction_trace),
        (("issued", second), reawarded, "corr-correction", correction_trace),
    ):
        meta = events[key]["metadata"]
        assert meta["correlationid"] == correlation and meta["causationid"] == cause, key
        trace_id, span_id = trace_and_span(meta["traceparent"])
        assert trace_id == trace_and_span(traceparent)[0] and span_id != trace_and_span(traceparent)[1], key
        published = outbox[events[key]["event_id"]]  # and so says the envelope JetStream will carry
        assert (published.correlationid, published.causationid, published.traceparent) == (
            correlation,
            cause,
            meta["traceparent"],
        )


async def test_a_signing_pool_replaces_a_dead_worker_and_never_shows_a_seed(signer):
    with pytest.raises(BrokenProcessPool):
        await signer.run(os._exit, 3)  # a worker dies (killed, out of memory): this call fails ...
    assert await signer.run(sum, [1, 2]) == 3  # ... and the next one gets a new pool
    secret = SignerSecret("ugent.be", 1, b"\x01" * 32)
    assert "01" * 8 not in repr(secret) and "\\x01" not in repr(secret)


async def test_batches_do_not_wait_for_starting_processes_and_a_closed_pool_shuts_them_down():
    pool = SigningPool(1)
    pool.start()
    assert await pool.run(os.getpid) == os.getpid()  # still starting: signed in a thread meanwhile
    assert await pool.ready()
    worker = await pool.run(os.getpid)
    assert worker != os.getpid()
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.run(os.getpid)
    for _ in range(50):  # the worker process is gone
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the signing process is still running after close()")


async def test_signing_in_a_thread_needs_no_processes():
    thread = SigningPool(0)
    thread.start()  # nothing to start
    assert await thread.run(sum, [1, 2]) == 3
    await thread.close()


async def test_signing_processes_closed_while_starting_on_a_loop_that_ends_are_not_left_behind():
    """The issuance worker's loop ends right after it closes its signing pool: workers still
    warming up must be stopped before it ends, not by a callback that loop would never run."""
    before = {p.pid for p in multiprocessing.active_children()}

    async def main() -> None:
        signer = SigningPool(2)
        signer.start()
        await asyncio.sleep(0.05)  # the workers are still starting
        await signer.close(wait_for_start=True)

    await OwnLoop("test:signing").run(main)
    # Workers left to a callback would come up seconds later (the fork server imports the signing
    # code) and stay; watch long enough for that, then none of this test's workers may be alive.
    await asyncio.sleep(6)
    assert [p for p in multiprocessing.active_children() if p.pid not in before] == []
