"""An award that ends while its credential is being signed: the engine's correction waits for the
issuing batch, so the batch that handles the correction sees the credential and ends it.

Without that wait, a second lane could handle the correction first (the credential not yet
committed, so nothing to end), and the first batch would then commit an active credential for an
award that no longer stands — two active credentials in one lineage, for good."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tessera_credential.issuance.pipeline import IssuancePipeline
from tests.credential.integration.test_credential_issuance_world import (
    award,
    migrate,
    pipeline,
    revoke,
    seed_catalogue,
    seed_learner,
    supersede,
)

pytestmark = pytest.mark.integration


def pause_first_signing(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The first batch that signs stops before signing until ``release`` is set; ``signing`` says it got there."""
    signing, release = asyncio.Event(), asyncio.Event()
    original = IssuancePipeline._sign

    async def paused(self: IssuancePipeline, *args: Any) -> None:
        if not signing.is_set():
            signing.set()
            await release.wait()
        await original(self, *args)

    monkeypatch.setattr(IssuancePipeline, "_sign", paused)
    return signing, release


async def credentials(pool: Any, learner_id: str) -> dict[str, str]:
    rows = await pool.fetch("SELECT award_id, status FROM issued_credentials WHERE learner_id = $1", learner_id)
    return {r["award_id"]: r["status"] for r in rows}


@pytest.mark.parametrize("ending", ["supersede", "revoke"])
async def test_an_award_ended_while_its_credential_is_signed_has_its_credential_ended(pool, monkeypatch, ending):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "bo")
        await award(conn, "bo")
    await pipeline(pool).drain(pool)  # the institutions' keys and the open status list exist, as in a service
    async with pool.acquire() as conn:
        await seed_learner(conn, "ana")
        award_id = await award(conn, "ana")
    signing, release = pause_first_signing(monkeypatch)
    first = asyncio.create_task(pipeline(pool).drain(pool))
    await asyncio.wait_for(signing.wait(), 30)

    async def end_award() -> str | None:  # the awarding engine's correction, in its own transaction
        async with pool.acquire() as conn, conn.transaction():
            if ending == "supersede":
                return await supersede(conn, award_id, "ana")
            await revoke(conn, award_id)
            return None

    correction = asyncio.create_task(end_award())
    await asyncio.sleep(0.5)
    waited = not correction.done()
    await pipeline(pool).drain(pool)  # another lane, meanwhile: whatever it can claim now
    release.set()
    await first
    new_award_id = await correction
    await pipeline(pool).drain(pool)
    assert waited, "the correction waits for the batch issuing the award's credential"
    found = await credentials(pool, "ana")
    if new_award_id is None:
        assert found == {award_id: "revoked"}
    else:
        assert found == {award_id: "superseded", new_award_id: "active"}


async def test_the_head_a_lineage_walk_found_waits_too(pool, monkeypatch):
    """The batch claims only the older award's row (``supersede``); the award it issues, the head,
    is found by the lineage walk, which locks it as well: its own supersession waits."""
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana")
        first_award = await award(conn, "ana")
    await pipeline(pool).drain(pool)  # the first award's credential, the keys and the list exist
    async with pool.acquire() as conn, conn.transaction():
        head = await supersede(conn, first_award, "ana")
    signing, release = pause_first_signing(monkeypatch)
    walking = asyncio.create_task(pipeline(pool, batch_size=1).run_once(pool))  # claims the oldest row only
    await asyncio.wait_for(signing.wait(), 30)

    async def supersede_head() -> str:
        async with pool.acquire() as conn, conn.transaction():
            return await supersede(conn, head, "ana", score=0.95)

    correction = asyncio.create_task(supersede_head())
    await asyncio.sleep(0.5)
    waited = not correction.done()
    # another lane, meanwhile: the head's own row is claimable, but its share lock queues behind the
    # waiting correction, so it goes on once the walking batch commits
    other = asyncio.create_task(pipeline(pool).drain(pool))
    await asyncio.sleep(0.5)
    release.set()
    await walking
    await other
    newest = await correction
    await pipeline(pool).drain(pool)
    assert waited, "the head's supersession waits for the batch issuing its credential"
    assert await credentials(pool, "ana") == {first_award: "superseded", head: "superseded", newest: "active"}
