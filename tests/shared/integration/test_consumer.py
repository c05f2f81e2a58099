"""Idempotent consumer against real JetStream and PostgreSQL: duplicates, reordering, poison, redrive."""

import asyncio
import random
import uuid
from datetime import UTC, datetime

import pytest

from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import Subscription, subject_for
from tessera_shared.kernel.consumer import Consumer, ConsumerSpec, list_dead_letters
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.nats import ConsumerPolicy, connect, ensure_stream, stream_config
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.integration


def envelope(thing_id: str, n: int, event_id: str | None = None) -> Envelope:
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source="/tessera/kerneltest",
        type=ThingHappened.event_type,
        subject=thing_id,
        time=datetime.now(UTC),
        data={"thing_id": thing_id, "n": n},
    )


class Harness:
    def __init__(self, pool, js, namespace):
        self.pool, self.js, self.namespace = pool, js, namespace
        self.fail_on: set[int] = set()

    async def handle(self, event, delivery):
        if event.n in self.fail_on:
            raise RuntimeError(f"cannot handle n={event.n}")
        # deliberately not idempotent by itself: only the inbox keeps it exactly-once
        await delivery.conn.execute(
            """INSERT INTO things (thing_id, total, count) VALUES ($1, $2, 1)
               ON CONFLICT (thing_id) DO UPDATE SET total = things.total + $2, count = things.count + 1""",
            event.thing_id,
            event.n,
        )

    def consumer(self, max_deliver=3) -> Consumer:
        spec = ConsumerSpec(
            Subscription("tester", "kerneltest"),
            {ThingHappened: self.handle},
            ConsumerPolicy(max_deliver=max_deliver, ack_wait_seconds=5),
        )
        return Consumer(
            spec,
            pool=self.pool,
            js=self.js,
            store=EventStore(self.pool, source="/t"),
            namespace=self.namespace,
            batch_size=50,
            backoff_seconds=0.05,
            backoff_max_seconds=0.2,
        )

    async def publish(self, subject_type: str, body: bytes, msg_id: str | None = None):
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        await self.js.publish(subject_for(subject_type, self.namespace), body, headers=headers)

    async def state(self):
        async with self.pool.acquire() as conn:
            return {r["thing_id"]: (r["total"], r["count"]) for r in await conn.fetch("SELECT * FROM things")}


@pytest.fixture
async def harness(pool, servers, namespace):
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE things (thing_id text PRIMARY KEY, total bigint, count int)")
    nc = await connect(servers.nats_url)
    js = nc.jetstream()
    await ensure_stream(js, stream_config("kerneltest", namespace))
    yield Harness(pool, js, namespace)
    await nc.close()


async def _until(predicate, seconds=20.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_duplicated_and_reordered_deliveries_apply_once(harness):
    envs = [envelope(f"t{i % 5}", i + 1) for i in range(100)]
    deliveries = envs + envs  # every message twice, beyond the de-dup window's reach (no Msg-Id)
    random.Random(7).shuffle(deliveries)
    for e in deliveries:
        await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer()
    task = asyncio.create_task(consumer.run())
    expected = {}
    for e in envs:
        total, count = expected.get(e.data["thing_id"], (0, 0))
        expected[e.data["thing_id"]] = (total + e.data["n"], count + 1)
    assert await _until(lambda: consumer.lag_is_zero())
    consumer.stop()
    await task
    assert await harness.state() == expected


async def test_poison_message_is_dead_lettered_after_max_deliver_and_later_messages_flow(harness):
    harness.fail_on = {666}
    await harness.publish(ThingHappened.event_type, envelope("p", 666).to_bytes())
    for _ in range(10):
        await harness.publish(ThingHappened.event_type, envelope("ok", 1).to_bytes())
    consumer = harness.consumer(max_deliver=3)
    task = asyncio.create_task(consumer.run())
    assert await _until(lambda: _dead_count(harness.pool, 1))
    assert (await harness.state())["ok"] == (10, 10)
    dead = await list_dead_letters(harness.pool)
    assert dead[0]["delivery_count"] == 3 and "cannot handle n=666" in dead[0]["error"]
    assert "p" not in await harness.state()

    # the fix ships; redrive processes the dead letter through the same inbox path, once
    harness.fail_on = set()
    assert await consumer.redrive() == {"redriven": 1, "failed": 0}
    assert await consumer.redrive() == {"redriven": 0, "failed": 0}
    assert (await harness.state())["p"] == (666, 1)
    assert await list_dead_letters(harness.pool) == []
    consumer.stop()
    await task


async def test_malformed_messages_are_dead_lettered_at_once_with_their_reason(harness):
    t = ThingHappened.event_type
    await harness.publish(t, b"{not json")
    await harness.publish(t, b'{"specversion": "1.0"}')
    await harness.publish(
        "tessera.kerneltest.thing.vanished.v1",
        envelope("u", 1).model_copy(update={"type": "tessera.kerneltest.thing.vanished.v1"}).to_bytes(),
    )
    await harness.publish(
        t, envelope("bad", 1).model_copy(update={"data": {"thing_id": "bad", "n": "many"}}).to_bytes()
    )
    await harness.publish(t, envelope("fine", 5).to_bytes())
    consumer = harness.consumer()
    task = asyncio.create_task(consumer.run())
    assert await _until(lambda: _dead_count(harness.pool, 4))
    assert await _until(lambda: _has(harness, "fine"))
    reasons = sorted(d["error"].split(":")[0] for d in await list_dead_letters(harness.pool))
    assert reasons == [
        "data does not match tessera.kerneltest.thing.happened.v1",
        "not JSON",
        "not a Tessera CloudEvent",
        "unknown event type 'tessera.kerneltest.thing.vanished.v1'",
    ]
    assert all(d["delivery_count"] == 1 for d in await list_dead_letters(harness.pool))
    consumer.stop()
    await task


async def _dead_count(pool, n):
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM dead_letters WHERE redriven_at IS NULL") >= n


async def _has(harness, thing_id):
    return thing_id in await harness.state()
