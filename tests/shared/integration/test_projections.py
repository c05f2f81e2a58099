"""Projections against a real PostgreSQL: checkpoint in the same transaction, rebuild reproduces."""

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
