"""Event store against a real PostgreSQL: optimistic concurrency and the gap-free global read."""

import asyncio
import contextlib
import random
import uuid

import pytest

from tessera_shared.kernel import db, migrations
from tessera_shared.kernel.eventstore import (
    Append,
    ConcurrencyError,
    DuplicateEvent,
    EventStore,
    Gap,
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


async def test_versions_the_caller_read_skip_the_stores_read_and_the_index_still_refuses_a_taken_one(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        await store.append(conn, "k", 0, [ThingHappened(thing_id="k", n=0)])
        outbox_before = await conn.fetchval("SELECT count(*) FROM outbox")
        # the caller read version 0 before another writer appended: the unique version refuses it
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                await store.append_many(conn, [Append("k", 0, [ThingHappened(thing_id="k", n=1)])], versions={"k": 0})
        assert await conn.fetchval("SELECT count(*) FROM outbox") == outbox_before  # nothing half-written
        with pytest.raises(ConcurrencyError):  # expected new (0), not read: refused by the index all the same
            await store.append_many(conn, [Append("k", 0, [ThingHappened(thing_id="k", n=1)])])
        # the version it read is current: appended at the next version, with its outbox row, in one statement
        async with conn.transaction():
            stored = await store.append_many(
                conn,
                [Append("k", 1, [ThingHappened(thing_id="k", n=2)]), Append("new", 0, [ThingNoted(thing_id="n")])],
                versions={"k": 1},
            )
        assert [(e.stream_id, e.stream_version) for e in stored] == [("k", 2), ("new", 1)]
        assert await conn.fetchval("SELECT count(*) FROM outbox") == outbox_before + 1  # ThingNoted is not published
        # a version the caller states wrongly is refused before anything is written
        with pytest.raises(ConcurrencyError):
            await store.append_many(conn, [Append("k", 1, [ThingHappened(thing_id="k", n=3)])], versions={"k": 2})
    assert [e.stream_version for e in await store.load(None, "k")] == [1, 2]


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
                if random.random() < 0.5:
                    # take the transaction id before appending (as a consumer's inbox insert does), so
                    # transaction-id order differs from position order
                    await conn.fetchval("SELECT pg_current_xact_id()")
                    await asyncio.sleep(random.random() * 0.005)
                await store.append(conn, f"w{w}", i, [ThingHappened(thing_id=f"w{w}", n=i)])
                # hold some transactions open so positions commit out of order
                await asyncio.sleep(random.random() * 0.01)
            if random.random() < 0.1:  # and leave some positions rolled back for good
                with contextlib.suppress(RuntimeError):
                    async with pool.acquire() as conn, conn.transaction():
                        await store.append(conn, f"rolled-back-{w}-{i}", 0, [ThingHappened(thing_id="r", n=i)])
                        await asyncio.sleep(random.random() * 0.005)
                        raise RuntimeError("roll back")

    async def reader() -> None:
        position, gap = 0, None
        while True:
            page = await store.read_all(position, limit=37, gap=gap)
            for e in page.events:
                assert e.global_position > position
                position = e.global_position
                seen.append(e.event_id)
            gap = page.gap
            if not page.events:
                if done.is_set() and not page.waiting:
                    final = await store.read_all(position, limit=10_000, gap=gap)
                    seen.extend(e.event_id for e in final.events)
                    if not final.events and not final.waiting:
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


async def _append_one(store: EventStore, conn, stream: str) -> str:
    [event] = await store.append(conn, stream, 0, [ThingHappened(thing_id=stream, n=1)])
    return event.event_id


async def test_read_all_waits_at_a_position_committed_late_by_a_younger_transaction(pool):
    """The interleaving a transaction-id filter alone gets wrong: ``older`` takes its id first but
    appends after ``younger`` has taken the lower position, and commits first."""
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as older, pool.acquire() as younger:
        older_tx, younger_tx = older.transaction(), younger.transaction()
        await older_tx.start()
        await older.fetchval("SELECT pg_current_xact_id()")
        await younger_tx.start()
        late = await _append_one(store, younger, "late")
        early = await _append_one(store, older, "early")
        await older_tx.commit()

        page = await store.read_all(0)
        assert page.events == [] and page.waiting and page.position == 0
        again = await store.read_all(0, gap=page.gap)  # not settled while its holder runs
        assert again.events == [] and again.waiting and again.gap == page.gap

        await younger_tx.commit()
    page = await store.read_all(0, gap=page.gap)
    assert [e.event_id for e in page.events] == [late, early]
    assert not page.waiting and page.gap is None


async def test_read_all_passes_a_rolled_back_position_once_nothing_older_runs(pool):
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as a, pool.acquire() as b:
        b_tx = b.transaction()
        await b_tx.start()
        await _append_one(store, b, "rolled-back")
        committed = await _append_one(store, a, "committed")
        page = await store.read_all(0)
        assert page.events == [] and page.waiting
        await b_tx.rollback()
    gap: Gap | None = page.gap
    for _ in range(3):  # settles once the transactions older than the gap's reader have ended
        page = await store.read_all(0, gap=gap)
        gap = page.gap
        if page.events:
            break
    assert [e.event_id for e in page.events] == [committed]
    assert not page.waiting and page.position == page.events[0].global_position


async def test_a_position_is_handed_out_only_to_a_transaction_with_an_id(pool):
    """Evaluates the position column's own default in a fresh transaction: the transaction has its
    id afterwards (an identity column's nextval does not assign one, except every 32nd value)."""
    async with pool.acquire() as conn:
        default = await conn.fetchval(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
            "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
            "WHERE d.adrelid = 'events'::regclass AND a.attname = 'global_position'"
        )
        assert default is not None, "global_position has no default expression"
        for _ in range(40):
            async with conn.transaction():
                assert await conn.fetchval("SELECT pg_current_xact_id_if_assigned()") is None
                await conn.fetchval(f"SELECT {default}")
                assert await conn.fetchval("SELECT pg_current_xact_id_if_assigned()") is not None


async def test_positions_go_on_after_the_migration_from_an_identity_column(servers):
    """A store with events from before kernel migration 0003 goes on counting where its identity stopped."""
    url = db.with_database(servers.database_url, "t_" + uuid.uuid4().hex[:12])
    await db.ensure_database(url)
    pool = await db.create_pool(url, size=2)
    try:
        kernel = migrations.for_service("test", None)
        store = EventStore(pool, source="/t")
        async with pool.acquire() as conn:
            await migrations.apply(conn, [m for m in kernel if m.name < "kernel/0003"])
            for n in range(5):
                await store.append(conn, f"old-{n}", 0, [ThingHappened(thing_id="o", n=n)])
            await conn.execute("DELETE FROM events WHERE stream_id = 'old-4'")  # as if rolled back at 5
            assert await migrations.apply(conn, kernel) == ["kernel/0003_positions_after_transaction_id.sql"]
            await store.append(conn, "new", 0, [ThingHappened(thing_id="n", n=1)])
            positions = [r[0] for r in await conn.fetch("SELECT global_position FROM events ORDER BY 1")]
        assert positions == [1, 2, 3, 4, 6]  # 5 was handed out once: never again
    finally:
        await pool.close()
        await db.drop_database(url)
