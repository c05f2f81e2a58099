"""Projections against a real PostgreSQL: checkpoint in the same transaction, rebuild reproduces."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from tessera_shared.kernel.eventstore import EventStore, StoredEvent
from tessera_shared.kernel.projections import Projection, ProjectionRunner
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.integration


class Totals(Projection):
    name = "totals"
    tables = ("totals",)
    event_types = (ThingHappened.event_type,)

    async def apply(self, conn: asyncpg.Connection, event: StoredEvent) -> None:
        e = event.payload()
        await conn.execute(
            """INSERT INTO totals (thing_id, total, last_position) VALUES ($1, $2, $3)
               ON CONFLICT (thing_id) DO UPDATE SET total = totals.total + $2, last_position = $3""",
            e.thing_id,
            e.n,
            event.global_position,
        )


async def _snapshot(pool):
    async with pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch("SELECT * FROM totals ORDER BY thing_id")]


async def test_catch_up_is_checkpointed_and_rebuild_reproduces_the_read_model(pool, database_url):
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE totals (thing_id text PRIMARY KEY, total bigint, last_position bigint)")
    store = EventStore(pool, source="/t")
    runner = ProjectionRunner(store, [Totals()], dsn=database_url, batch_size=7)
    for i in range(40):
        async with pool.acquire() as conn:
            await store.append(conn, f"s{i % 4}", None, [ThingHappened(thing_id=f"x{i % 3}", n=i)])
    assert await runner.catch_up_all() == 40
    assert await runner.catch_up_all() == 0  # nothing applied twice
    before = await _snapshot(pool)
    assert {r[0]: r[1] for r in before} == {
        "x0": sum(range(0, 40, 3)),
        "x1": sum(range(1, 40, 3)),
        "x2": sum(range(2, 40, 3)),
    }
    async with pool.acquire() as conn:  # corrupt the read model; rebuild must repair it
        await conn.execute("UPDATE totals SET total = -1")
    assert await runner.rebuild(runner.by_name("totals")) == 40
    assert await _snapshot(pool) == before


async def _totals_table(pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE totals (thing_id text PRIMARY KEY, total bigint, last_position bigint)")


async def test_an_event_committed_late_below_the_checkpoint_is_never_skipped(pool, database_url):
    """``older`` takes its transaction id first, appends after ``younger`` took the lower position,
    and commits first: the runner waits at the lower position instead of passing it."""
    await _totals_table(pool)
    store = EventStore(pool, source="/t")
    runner = ProjectionRunner(store, [Totals()], dsn=database_url)
    async with pool.acquire() as older, pool.acquire() as younger:
        older_tx, younger_tx = older.transaction(), younger.transaction()
        await older_tx.start()
        await older.fetchval("SELECT pg_current_xact_id()")
        await younger_tx.start()
        await store.append(younger, "late", 0, [ThingHappened(thing_id="late", n=1)])
        await store.append(older, "early", 0, [ThingHappened(thing_id="early", n=2)])
        await older_tx.commit()
        assert await runner.catch_up_all() == 0
        await younger_tx.commit()
    assert await runner.catch_up_all() == 2
    totals = {r[0]: r[1] for r in await _snapshot(pool)}
    assert totals == {"late": 1, "early": 2}


async def test_the_runner_polls_a_held_position_and_passes_it_once_rolled_back(pool, database_url):
    """A rollback sends no NOTIFY: while it waits at a gap the runner polls every 50 ms (one-row
    reads), not after its minute-long poll, and passes the position once it is rolled back."""
    await _totals_table(pool)
    store = Interleaving(pool, source="/t")
    runner = ProjectionRunner(store, [Totals()], dsn=database_url)
    running = asyncio.create_task(runner.run(poll_seconds=60))
    try:
        async with pool.acquire() as doomed, pool.acquire() as other:
            tx = doomed.transaction()
            await tx.start()
            await store.append(doomed, "doomed", 0, [ThingHappened(thing_id="doomed", n=1)])
            await store.append(other, "kept", 0, [ThingHappened(thing_id="kept", n=5)])
            await asyncio.sleep(0.3)  # the runner has read and stopped at the doomed position
            before = store.reads
            await asyncio.sleep(1.0)
            reads, limits = store.reads - before, store.limits[before:]
            assert await _snapshot(pool) == []
            await tx.rollback()
        assert 5 <= reads <= 25  # ~20 at one read per 50 ms
        assert set(limits) == {1}
        async with asyncio.timeout(10):
            while not await _snapshot(pool):  # noqa: ASYNC110 - the read model is in another connection's table
                await asyncio.sleep(0.02)
        assert {r[0]: r[1] for r in await _snapshot(pool)} == {"kept": 5}
    finally:
        runner.stop()
        await running


class Counted(Totals):
    """Totals that counts the runner's rounds that reached it."""

    def __init__(self, name: str, every: float) -> None:
        self.name, self.catch_up_every, self.rounds = name, every, 0

    async def apply_batch(self, conn: asyncpg.Connection, events) -> None:
        self.rounds += 1
        for event in events:
            await self.apply(conn, event)


async def test_a_projection_with_catch_up_every_gets_fewer_rounds_and_every_event(pool, database_url):
    """Under a trickle of commits, a projection that asks for a round at most every 0.5 s gets
    a handful of rounds while one that follows every commit gets one per commit; both end current."""
    await _totals_table(pool)
    store = EventStore(pool, source="/t")
    eager, lazy = Counted("eager", 0.0), Counted("lazy", 0.5)
    runner = ProjectionRunner(store, [eager, lazy], dsn=database_url)
    running = asyncio.create_task(runner.run(poll_seconds=60))
    started = time.monotonic()
    try:
        for i in range(20):
            async with pool.acquire() as conn:
                await store.append(conn, f"s{i}", 0, [ThingHappened(thing_id="x", n=1)])
            await asyncio.sleep(0.05)
        checkpoint = "SELECT min(position) FROM projection_checkpoints"
        async with asyncio.timeout(10):
            while await pool.fetchval(checkpoint) < 20:  # noqa: ASYNC110 - the runner is another task's
                await asyncio.sleep(0.05)
        elapsed = time.monotonic() - started
    finally:
        runner.stop()
        await running
    assert lazy.rounds <= elapsed / 0.5 + 2
    assert eager.rounds >= 10 > lazy.rounds


class Interleaving(EventStore):
    """Runs ``between`` once, inside the runner's round, just before its read."""

    between: Callable[[], Awaitable[None]] | None = None
    reads = 0
    limits: list[int]

    async def read_all(self, after: int = 0, limit: int = 1000, *args: Any, **kwargs: Any) -> Any:
        self.reads += 1
        self.limits = [*getattr(self, "limits", []), limit]
        if self.between is not None:
            between, self.between = self.between, None
            await between()
        return await super().read_all(after, limit, *args, **kwargs)


async def test_a_holder_that_takes_its_id_after_the_round_began_is_waited_for(pool, database_url):
    """The holder takes its id and a position after the runner's round has begun (and locked the
    projection) but before its read; a later position commits. The round's own transaction id must
    not make the gap look settled (a row lock taken first would give the round an older id)."""
    await _totals_table(pool)
    store = Interleaving(pool, source="/t")
    runner = ProjectionRunner(store, [Totals()], dsn=database_url)
    await runner.catch_up_all()  # the checkpoint row exists
    async with pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()

        async def between() -> None:
            await store.append(holder, "late", 0, [ThingHappened(thing_id="late", n=1)])
            async with pool.acquire() as writer:
                await store.append(writer, "early", 0, [ThingHappened(thing_id="early", n=2)])

        store.between = between
        assert await runner.catch_up_all() == 0
        assert await runner.catch_up_all() == 0
        await tx.commit()
    assert await runner.catch_up_all() == 2
    assert {r[0]: r[1] for r in await _snapshot(pool)} == {"late": 1, "early": 2}


async def test_read_all_refuses_a_transaction_that_already_has_an_id(pool):
    store = EventStore(pool, source="/t")
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchval("SELECT pg_current_xact_id()")
        with pytest.raises(RuntimeError, match="no transaction id"):
            await store.read_all(0, conn=conn)
