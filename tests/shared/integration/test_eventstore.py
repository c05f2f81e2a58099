"""Event store against a real PostgreSQL: optimistic concurrency and the gap-free global read."""

import asyncio
import random

import pytest

from tessera_shared.kernel.eventstore import (
    Append,
    ConcurrencyError,
    DuplicateEvent,
    EventStore,
    retry_on_conflict,
)
from tests.shared.kernel_events import ThingHappened, ThingNoted

pytestmark = pytest.mark.integration


async def test_append_and_load_round_trip(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn, conn.transaction():
        await store.append(conn, "thing-1", 0, [ThingHappened(thing_id="1", n=1), ThingNoted(thing_id="1")])
    events = await store.load(None, "thing-1")
    assert [e.stream_version for e in events] == [1, 2]
    assert isinstance(events[0].payload(), ThingHappened) and events[0].payload().n == 1
    # only the published event reaches the outbox, in the same transaction
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1


async def test_two_concurrent_appends_with_same_expected_version_exactly_one_wins(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        await store.append(conn, "s", 0, [ThingHappened(thing_id="s", n=0)])
    barrier = asyncio.Barrier(2)

    async def writer(n: int) -> str:
        async with pool.acquire() as conn, conn.transaction():
            await barrier.wait()
            try:
                await store.append(conn, "s", 1, [ThingHappened(thing_id="s", n=n)])
                await asyncio.sleep(0.05)  # both transactions are open at once
                return "won"
            except ConcurrencyError:
                return "lost"

    results = await asyncio.gather(writer(1), writer(2))
    assert sorted(results) == ["lost", "won"]
    assert [e.stream_version for e in await store.load(None, "s")] == [1, 2]


async def test_stale_expected_version_is_refused_and_retry_reloads(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        await store.append(conn, "r", 0, [ThingHappened(thing_id="r", n=0)])
        with pytest.raises(ConcurrencyError):
            await store.append(conn, "r", 0, [ThingHappened(thing_id="r", n=1)])
        with pytest.raises(ConcurrencyError):  # a version from the future is refused too
            await store.append(conn, "r", 5, [ThingHappened(thing_id="r", n=1)])
    attempts = []

    async def command() -> int:
        async with pool.acquire() as conn, conn.transaction():
            version = len(await store.load(conn, "r"))
            expected = version - 1 if not attempts else version  # first attempt uses a stale version
            attempts.append(expected)
            await store.append(conn, "r", expected, [ThingHappened(thing_id="r", n=9)])
            return version + 1

    assert await retry_on_conflict(command) == 2
    assert attempts == [0, 1]


async def test_duplicate_event_id_is_refused(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        await store.append_many(
            conn, [Append("d", 0, [ThingHappened(thing_id="d", n=1)], ["0b0e6a49-1111-4c3e-9d2a-000000000001"])]
        )
        with pytest.raises(DuplicateEvent):
            await store.append_many(
                conn, [Append("e", 0, [ThingHappened(thing_id="e", n=1)], ["0b0e6a49-1111-4c3e-9d2a-000000000001"])]
            )


async def test_reader_following_global_position_sees_every_event_once_with_50_concurrent_writers(pool):
    store = EventStore(pool, source="/tessera/test")
    writers, per_writer = 50, 20
    done = asyncio.Event()
    seen: list[str] = []

    async def writer(w: int) -> None:
        for i in range(per_writer):
            async with pool.acquire() as conn, conn.transaction():
                await store.append(conn, f"w{w}", i, [ThingHappened(thing_id=f"w{w}", n=i)])
                # hold some transactions open so positions commit out of order
                await asyncio.sleep(random.random() * 0.01)

    async def reader() -> None:
        position = 0
        while True:
            batch = await store.read_all(position, limit=37)
            for e in batch:
                assert e.global_position > position
                position = e.global_position
                seen.append(e.event_id)
            if not batch:
                if done.is_set():
                    final = await store.read_all(position, limit=10_000)
                    seen.extend(e.event_id for e in final)
                    if not final:
                        return
                await asyncio.sleep(0.001)

    read = asyncio.create_task(reader())
    await asyncio.gather(*(writer(w) for w in range(writers)))
    done.set()
    await read
    async with pool.acquire() as conn:
        all_ids = [str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM events")]
    assert len(all_ids) == writers * per_writer
    assert len(seen) == len(set(seen)), "an event was read twice"
    assert sorted(seen) == sorted(all_ids), "an event was skipped"
