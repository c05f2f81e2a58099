"""Outbox relay against real PostgreSQL and a real nats-server that is stopped and restarted."""

import asyncio

import orjson
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from tessera_shared.contract.topology import stream_name, stream_subjects
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.nats import connect, ensure_stream, stream_config
from tessera_shared.kernel.outbox import OutboxRelay, RelayError
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.integration


async def _published(js, namespace):
    """Every message in the kerneltest stream, in stream order, as (event id, stream id, version)."""
    sub = await js.pull_subscribe(
        stream_subjects("kerneltest", namespace),
        stream=stream_name("kerneltest", namespace),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    out = []
    while True:
        try:
            msgs = await sub.fetch(500, timeout=1)
        except TimeoutError:
            break
        for m in msgs:
            body = orjson.loads(m.data)
            out.append((body["id"], body["subject"], body["streamversion"], m.headers["Nats-Msg-Id"]))
            await m.ack()
    await sub.unsubscribe()
    return out


async def _jetstream(url, namespace):
    """A NATS connection and its JetStream context, with the kerneltest stream in place."""
    nc = await connect(url)
    js = nc.jetstream()
    await ensure_stream(js, stream_config("kerneltest", namespace))
    return nc, js


async def test_relay_with_nats_down_publishes_everything_once_in_stream_order_after_restart(
    pool, database_url, restartable_nats, namespace
):
    nc, js = await _jetstream(restartable_nats.url, namespace)
    store = EventStore(pool, source="/tessera/test")
    relay = OutboxRelay(
        pool,
        js,
        dsn=database_url,
        service="test",
        namespace=namespace,
        batch_size=7,
        poll_seconds=0.2,
        publish_timeout=1.0,
    )
    async with pool.acquire() as conn:  # a first event goes through while NATS is up
        await store.append(conn, "a", 0, [ThingHappened(thing_id="a", n=0)])
    assert await relay.drain() == 1

    restartable_nats.stop()
    for i in range(1, 21):
        async with pool.acquire() as conn:
            await store.append(conn, "a" if i % 2 else "b", None, [ThingHappened(thing_id="x", n=i)])
    with pytest.raises(RelayError):
        await relay.publish_pending()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 20

    running = asyncio.create_task(relay.run())  # retries with backoff until NATS is back
    await asyncio.sleep(1.0)
    restartable_nats.start()
    for _ in range(200):
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0:
                break
        await asyncio.sleep(0.1)
    relay.stop()
    await running

    published = await _published(js, namespace)
    async with pool.acquire() as conn:
        stored = [
            (str(r["event_id"]), r["stream_id"], r["stream_version"])
            for r in await conn.fetch("SELECT event_id, stream_id, stream_version FROM events ORDER BY global_position")
        ]
    assert sorted(p[0] for p in published) == sorted(s[0] for s in stored)  # every event, exactly once
    assert all(p[0] == p[3] for p in published)  # Nats-Msg-Id is the event id
    for stream_id in ("a", "b"):  # per-stream order kept
        versions = [p[2] for p in published if p[1] == stream_id]
        assert versions == sorted(versions)
    await nc.close()


async def test_only_one_relay_is_active_per_database(pool, database_url, servers, namespace):
    nc, js = await _jetstream(servers.nats_url, namespace)
    relays = [
        OutboxRelay(pool, js, dsn=database_url, service="test", namespace=namespace, poll_seconds=0.1) for _ in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    await asyncio.sleep(0.8)
    assert sorted(r.active for r in relays) == [False, True]
    active = next(r for r in relays if r.active)
    active.stop()  # the stand-by takes over when the active one goes
    await asyncio.sleep(0.8)
    other = next(r for r in relays if r is not active)
    assert other.active
    other.stop()
    await asyncio.gather(*tasks)
    await nc.close()


class _CountingRelay(OutboxRelay):
    """An outbox relay that counts its reads of the pending rows."""

    reads = 0

    async def publish_pending(self) -> int:
        self.reads += 1
        return await super().publish_pending()


async def test_a_partial_batch_ends_the_round_and_a_later_commit_wakes_the_relay(
    pool, database_url, servers, namespace
):
    nc, js = await _jetstream(servers.nats_url, namespace)
    store = EventStore(pool, source="/tessera/test")
    # the poll interval is far longer than the test: only NOTIFY can wake the relay in time
    relay = _CountingRelay(
        pool, js, dsn=database_url, service="test", namespace=namespace, batch_size=5, poll_seconds=60
    )

    async def pending() -> int:
        return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    async def until_published() -> None:
        for _ in range(200):
            if await pending() == 0:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the relay did not publish within 10 s")

    async with pool.acquire() as conn:  # 12 events before the relay starts: batches of 5, 5 and 2
        for i in range(12):
            await store.append(conn, f"p{i}", 0, [ThingHappened(thing_id=f"p{i}", n=i)])
    task = asyncio.create_task(relay.run())
    await until_published()
    await asyncio.sleep(0.3)
    # the partial third batch ended the round; the one read after it (MARK_DELAY later, as nothing
    # new came) only marked that batch published: no empty read to find out there was nothing left
    assert relay.reads == 4
    async with pool.acquire() as conn:
        await store.append(conn, "late", 0, [ThingHappened(thing_id="late", n=99)])
    await until_published()  # woken by the outbox's NOTIFY, not the 60 s poll
    await asyncio.sleep(0.3)
    assert relay.reads == 6
    relay.stop()
    await task
    assert len({m[0] for m in await _published(js, namespace)}) == 13
    await nc.close()


async def test_under_a_trickle_each_event_costs_one_statement_and_is_marked_when_acked(
    pool, database_url, servers, namespace
):
    nc, js = await _jetstream(servers.nats_url, namespace)
    store = EventStore(pool, source="/tessera/test")
    relay = _CountingRelay(pool, js, dsn=database_url, service="test", namespace=namespace, poll_seconds=60)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.3)
    started = relay.reads  # its first, empty read
    for i in range(10):  # one event at a time, each woken by NOTIFY, closer together than MARK_DELAY
        async with pool.acquire() as conn:
            await store.append(conn, f"t{i}", 0, [ThingHappened(thing_id=f"t{i}", n=i)])
        for _ in range(100):
            if relay.reads - started > i:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.01)
    for _ in range(100):
        if not await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            break
        await asyncio.sleep(0.05)
    relay.stop()
    await task
    # each read marked the event before it: ten events, eleven statements (not twenty)
    assert relay.reads - started == 11
    rows = await pool.fetch("SELECT created_at, published_at FROM outbox")
    assert len(rows) == 10 and all(r["created_at"] <= r["published_at"] for r in rows)
    assert len(await _published(js, namespace)) == 10
    await nc.close()


async def test_a_relay_that_stops_marks_what_was_acked(pool, database_url, servers, namespace):
    nc, js = await _jetstream(servers.nats_url, namespace)
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        await store.append(conn, "s", 0, [ThingHappened(thing_id="s", n=1)])
    relay = OutboxRelay(pool, js, dsn=database_url, service="test", namespace=namespace, poll_seconds=60)
    task = asyncio.create_task(relay.run())
    for _ in range(100):
        if relay._unmarked:
            break
        await asyncio.sleep(0.005)
    relay.stop()  # before MARK_DELAY has passed
    await task
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    await nc.close()


async def test_acked_rows_a_dead_relay_did_not_mark_are_published_again_and_dropped_as_duplicates(
    pool, database_url, servers, namespace
):
    nc, js = await _jetstream(servers.nats_url, namespace)
    store = EventStore(pool, source="/tessera/test")
    async with pool.acquire() as conn:
        for i in range(3):
            await store.append(conn, f"d{i}", 0, [ThingHappened(thing_id=f"d{i}", n=i)])
    dead = OutboxRelay(pool, js, dsn=database_url, service="test", namespace=namespace)
    assert await dead.publish_pending() == 3  # acked, not marked: the process dies here
    assert await dead.lag() == (0, 0.0)  # acked rows are not lag, marked or not
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 3
    successor = OutboxRelay(pool, js, dsn=database_url, service="test", namespace=namespace)
    assert await successor.drain() == 3  # published again ...
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    assert len(await _published(js, namespace)) == 3  # ... and dropped by the stream's duplicate window
    await nc.close()
