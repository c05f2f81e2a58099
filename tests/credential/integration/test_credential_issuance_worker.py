"""The issuance worker's rounds on a real PostgreSQL: lanes of batches that start when a batch comes
back full and end when one comes back short (so a trickle of awards costs one claim per batch), and
the idle round's housekeeping, found out with one read."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tessera_credential.issuance import pipeline as pipeline_module
from tessera_credential.issuance.worker import IssuanceWorker
from tessera_shared.testing.apps import eventually
from tests.credential.integration.test_credential_issuance_award_ends_meanwhile import pause_first_signing
from tests.credential.integration.test_credential_issuance_world import (
    award,
    migrate,
    pipeline,
    seed_catalogue,
    seed_learner,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rows each claim of the queue returned, in order."""
    seen: list[int] = []
    original = pipeline_module.claim

    async def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        claimed = await original(*args, **kwargs)
        seen.append(len(claimed.rows))
        return claimed

    monkeypatch.setattr(pipeline_module, "claim", counting)
    return seen


async def awards_for(pool: asyncpg.Pool, learners: list[str]) -> list[str]:
    async with pool.acquire() as conn:
        for learner in learners:
            await seed_learner(conn, learner)
        return [await award(conn, learner) for learner in learners]


async def credentials(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT award_id::text, count(*) AS n FROM issued_credentials GROUP BY award_id")
    return {r["award_id"]: r["n"] for r in rows}


async def test_a_single_award_takes_one_claim_and_the_round_is_caught_up(pool, claims):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
    [award_id] = await awards_for(pool, ["ana"])
    drained = await pipeline(pool, batch_size=4, concurrency=2).drain_round(pool)
    assert (drained.claimed, drained.caught_up) == (1, True)
    assert claims == [1]  # no second lane, no claim that finds nothing after the batch
    assert await credentials(pool) == {award_id: 1}


async def test_full_batches_open_more_lanes_and_every_award_is_issued_once(pool, claims):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
    award_ids = await awards_for(pool, [f"learner-{i}" for i in range(7)])
    drained = await pipeline(pool, batch_size=2, concurrency=2).drain_round(pool)
    assert (drained.claimed, drained.caught_up) == (7, True)
    assert await credentials(pool) == {a: 1 for a in award_ids}
    assert sum(claims) == 7 and claims.count(2) == 3
    assert [n for n in claims if n < 2], "a lane ends on a batch short of full"


async def test_an_award_queued_while_a_batch_signs_is_issued_by_another_lane_meanwhile(pool, monkeypatch, claims):
    """Under a trickle of awards a round runs one lane; the NOTIFY of an award queued while its batch
    signs starts a second lane, which issues that award before the first batch commits."""
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
    await awards_for(pool, ["bo"])
    await pipeline(pool).drain(pool)  # the institutions' keys and the open status list exist, as in a service
    claims.clear()
    [first_award] = await awards_for(pool, ["ana"])
    signing, release = pause_first_signing(monkeypatch)
    queued = asyncio.Event()
    issuer = pipeline(pool, batch_size=4, concurrency=2)
    round_ = asyncio.create_task(issuer.drain_round(pool, queued=queued))
    try:
        await asyncio.wait_for(signing.wait(), 30)
        [second_award] = await awards_for(pool, ["bob"])
        queued.set()  # the worker's NOTIFY

        async def second_issued() -> bool:
            return second_award in await credentials(pool)

        assert await eventually(second_issued), "issued while the first batch still waits to sign"
        assert first_award not in await credentials(pool) and not round_.done()
    finally:
        release.set()
    drained = await asyncio.wait_for(round_, 30)
    assert (drained.claimed, drained.caught_up) == (2, True)
    assert claims == [1, 1] and not queued.is_set()  # taken by the lane it started
    issued = await credentials(pool)
    assert (issued[first_award], issued[second_award]) == (1, 1)


async def test_a_notify_while_every_lane_is_busy_is_left_for_the_next_round(pool, monkeypatch, claims):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
    await awards_for(pool, ["bo"])
    await pipeline(pool).drain(pool)
    claims.clear()
    [first_award] = await awards_for(pool, ["ana"])
    signing, release = pause_first_signing(monkeypatch)
    queued = asyncio.Event()
    round_ = asyncio.create_task(pipeline(pool, batch_size=4, concurrency=1).drain_round(pool, queued=queued))
    try:
        await asyncio.wait_for(signing.wait(), 30)
        [second_award] = await awards_for(pool, ["bob"])
        queued.set()
        await asyncio.sleep(0.3)
    finally:
        release.set()
    drained = await asyncio.wait_for(round_, 30)
    assert (drained.claimed, drained.caught_up) == (1, True) and claims == [1]
    assert queued.is_set(), "left set: the worker goes round again instead of sleeping"
    assert second_award not in await credentials(pool)
    assert (await pipeline(pool).drain_round(pool, queued=queued)).claimed == 1
    issued = await credentials(pool)
    assert (issued[first_award], issued[second_award]) == (1, 1)


async def test_a_round_that_ran_out_of_budget_is_not_caught_up(pool, claims):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
    await awards_for(pool, ["ana", "bob", "cem"])
    issuer = pipeline(pool, batch_size=2, concurrency=1)
    first = await issuer.drain_round(pool, max_batches=1)
    assert (first.claimed, first.caught_up) == (2, False)  # the worker goes round again at once
    second = await issuer.drain_round(pool)
    assert (second.claimed, second.caught_up) == (1, True)
    assert len(await credentials(pool)) == 3


async def test_housekeeping_reads_once_when_there_is_nothing_to_do_does_what_there_is_and_runs_once_per_poll(
    pool, monkeypatch
):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        for institution in ("tudelft.nl", "unibo.it"):  # registered by the catalogue, no key yet
            await conn.execute(
                "INSERT INTO award_institutions (institution_id, profile, at, event_id) VALUES ($1, '{}', now(), 'e')",
                institution,
            )
    issuer = pipeline(pool)
    worker = IssuanceWorker(pool, "postgresql://unused", issuer, poll_seconds=1.0)

    await worker.housekeeping()  # every registered institution gets its key before its first credential
    async with pool.acquire() as conn:
        keyed = await conn.fetch("SELECT institution_id FROM institution_keys WHERE retired_at IS NULL")
    assert sorted(r["institution_id"] for r in keyed) == ["tudelft.nl", "unibo.it"]

    await awards_for(pool, ["ana"])
    assert await issuer.drain(pool) == 1
    async with pool.acquire() as conn:  # a list whose bits changed but was not re-signed (e.g. a crash)
        list_id = await conn.fetchval("UPDATE status_lists SET version = version + 1 RETURNING list_id")
    await worker.housekeeping()
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT version, signed_version FROM status_lists WHERE list_id = $1", list_id)
    assert row["signed_version"] == row["version"]

    statements: list[str] = []
    original_execute = asyncpg.connection.Connection._execute
    original_plain = asyncpg.connection.Connection.execute

    async def _execute(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        statements.append(query)
        return await original_execute(self, query, *args, **kwargs)

    async def execute(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not args:  # with arguments it goes through _execute
            statements.append(query)
        return await original_plain(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "_execute", _execute)
    monkeypatch.setattr(asyncpg.connection.Connection, "execute", execute)
    await worker.housekeeping()
    assert len(statements) == 1, statements  # nothing to do: one read, no transaction

    # every batch of a trickle ends in an idle round: it housekeeps at most once per poll interval
    statements.clear()
    await worker.idle()
    await worker.idle()
    assert len(statements) == 1, statements
    worker._housekept_at -= worker.poll_seconds  # a poll interval later
    await worker.idle()
    assert len(statements) == 2, statements
