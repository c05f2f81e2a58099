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
from tests.shared.kernel_events import ThingHappened, ThingSeen

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
        self.fail_once: set[int] = set()  # fail at the first attempt only
        self.attempts: list[int] = []  # n of every handler call, committed or not
        self.prepared: list[object] = []  # Delivery.prepared of every handler call
        self.slow = 0.0
        self.active = self.max_active = 0

    async def handle(self, event, delivery):
        self.attempts.append(event.n)
        self.prepared.append(delivery.prepared)
        if event.n in self.fail_on:
            raise RuntimeError(f"cannot handle n={event.n}")
        if event.n in self.fail_once:
            self.fail_once.discard(event.n)
            raise RuntimeError(f"cannot handle n={event.n} yet")
        if self.slow:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            await asyncio.sleep(self.slow)
            self.active -= 1
        # deliberately not idempotent by itself: only the inbox keeps it exactly-once
        await delivery.conn.execute(
            """INSERT INTO things (thing_id, total, count) VALUES ($1, $2, 1)
               ON CONFLICT (thing_id) DO UPDATE SET total = things.total + $2, count = things.count + 1""",
            event.thing_id,
            event.n,
        )

    def consumer(self, max_deliver=3, **spec_options) -> Consumer:
        spec = ConsumerSpec(
            Subscription("tester", "kerneltest"),
            {ThingHappened: self.handle},
            ConsumerPolicy(max_deliver=max_deliver, ack_wait_seconds=5),
            **spec_options,
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


async def _harness(pool, nats_url, namespace):
    """The things table, a NATS connection and the kerneltest stream: (connection, harness)."""
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE things (thing_id text PRIMARY KEY, total bigint, count int)")
    nc = await connect(nats_url)
    js = nc.jetstream()
    await ensure_stream(js, stream_config("kerneltest", namespace))
    return nc, Harness(pool, js, namespace)


@pytest.fixture
async def harness(pool, servers, namespace):
    nc, harness = await _harness(pool, servers.nats_url, namespace)
    yield harness
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


# ------------------------------------------------------------------- fast mode, batch hook, partitions


class ModeSpy:
    """Counts the batches a consumer handled in the careful (savepoint per message) mode."""

    def __init__(self, monkeypatch):
        self.careful = 0
        original = Consumer._handle_careful

        async def careful(consumer, conn, items):
            self.careful += 1
            return await original(consumer, conn, items)

        monkeypatch.setattr(Consumer, "_handle_careful", careful)


async def _run_until_idle(consumer, check=None):
    task = asyncio.create_task(consumer.run())
    assert await _until(check or (lambda: consumer.lag_is_zero()))
    assert await _until(lambda: consumer.lag_is_zero())
    consumer.stop()
    await task


async def _inbox(pool):
    async with pool.acquire() as conn:
        return {r["event_id"] for r in await conn.fetch("SELECT event_id FROM inbox")}


async def test_a_batch_of_first_deliveries_is_handled_in_fast_mode_and_a_duplicate_inside_it_once(harness, monkeypatch):
    spy = ModeSpy(monkeypatch)
    envs = [envelope(f"t{i % 3}", i + 1) for i in range(30)]
    batch = envs + envs[:10]  # ten ids twice in the same fetched batch (no Msg-Id: JetStream keeps both)
    for e in batch:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer())
    expected = {}
    for e in envs:
        total, count = expected.get(e.data["thing_id"], (0, 0))
        expected[e.data["thing_id"]] = (total + e.data["n"], count + 1)
    assert await harness.state() == expected
    assert spy.careful == 0
    assert sorted(harness.attempts) == sorted(e.data["n"] for e in envs)  # the handler ran once per id
    assert await _inbox(harness.pool) == {e.id for e in envs}


class TransactionSpy:
    """Counts the transactions consumers' connections open (savepoints included)."""

    def __init__(self, monkeypatch):
        import asyncpg

        self.opened = 0
        original = asyncpg.connection.Connection.transaction

        def transaction(conn, *args, **kwargs):
            self.opened += 1
            return original(conn, *args, **kwargs)

        monkeypatch.setattr(asyncpg.connection.Connection, "transaction", transaction)


def seen(thing_id: str) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        source="/tessera/kerneltest",
        type=ThingSeen.event_type,
        subject=thing_id,
        time=datetime.now(UTC),
        data={"thing_id": thing_id},
    )


async def test_a_batch_the_consumer_only_acknowledges_is_one_statement_and_still_in_its_inbox(harness, monkeypatch):
    # events of a type the consumer has no handler for: their inbox rows, without a transaction
    only_seen = [seen(f"t{i}") for i in range(5)]
    for e in only_seen + only_seen[:2]:  # two of them twice: still one inbox row each
        await harness.publish(e.type, e.to_bytes())
    spy = TransactionSpy(monkeypatch)
    await _run_until_idle(harness.consumer())
    assert spy.opened == 0
    assert await _inbox(harness.pool) == {e.id for e in only_seen}
    assert harness.attempts == [] and await harness.state() == {}

    # a batch that also holds an event to handle is one transaction, as before
    mixed = [seen("t9"), envelope("t9", 7)]
    for e in mixed:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer())
    assert spy.opened == 1
    assert await harness.state() == {"t9": (7, 1)}
    assert await _inbox(harness.pool) == {e.id for e in only_seen + mixed}


async def test_a_failure_in_fast_mode_rolls_the_batch_back_and_the_careful_redo_has_todays_outcomes(
    harness, monkeypatch
):
    spy = ModeSpy(monkeypatch)
    harness.fail_on = {13}
    envs = [envelope(f"t{i % 3}", i + 1) for i in range(20)]
    for e in envs:
        await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer(max_deliver=2)
    await _run_until_idle(consumer, lambda: _dead_count(harness.pool, 1))
    # the handler is not idempotent: the fast attempt's effects were rolled back, not applied twice
    expected = {}
    for e in envs:
        if e.data["n"] != 13:
            total, count = expected.get(e.data["thing_id"], (0, 0))
            expected[e.data["thing_id"]] = (total + e.data["n"], count + 1)
    assert await harness.state() == expected
    assert spy.careful >= 2  # the fast attempt's redo, then the redelivery (careful at once)
    assert harness.attempts.count(13) == 3  # fast, its careful redo (nak), the redelivery (dead)
    [dead] = await list_dead_letters(harness.pool)
    assert dead["delivery_count"] == 2 and "cannot handle n=13" in dead["error"]
    assert await _inbox(harness.pool) == {e.id for e in envs if e.data["n"] != 13}


class Prepared:
    """A batch hook that records what it got (committed or not) and writes a row in the transaction."""

    def __init__(self, fail_on=()):
        self.calls: list[list[int]] = []
        self.fail_on = set(fail_on)

    async def __call__(self, conn, events):
        ns = [event.n for event, _ in events]
        self.calls.append(ns)
        await conn.execute("INSERT INTO prepared (ns) VALUES ($1)", ns)
        if self.fail_on & set(ns):
            raise RuntimeError(f"cannot prepare {sorted(self.fail_on & set(ns))}")
        return {"ns": set(ns)}

    @staticmethod
    async def committed(pool):
        async with pool.acquire() as conn:
            return [r["ns"] for r in await conn.fetch("SELECT ns FROM prepared ORDER BY id")]


@pytest.fixture
async def prepared_table(harness):
    async with harness.pool.acquire() as conn:
        await conn.execute("CREATE TABLE prepared (id serial PRIMARY KEY, ns int[])")


async def test_prepare_batch_gets_the_fresh_events_of_the_batch_in_its_transaction(
    harness, prepared_table, monkeypatch
):
    prepare = Prepared()
    old = [envelope("a", n) for n in (1, 2, 3)]
    for e in old:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(prepare_batch=prepare))
    assert prepare.calls == [[1, 2, 3]]

    # duplicates of handled events and an id twice in the batch: only the first occurrence of a new id
    prepare.calls.clear()
    harness.prepared.clear()
    new = [envelope("a", n) for n in (4, 5, 6)]
    for e in [*old, *new, new[0]]:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(prepare_batch=prepare))
    assert prepare.calls == [[4, 5, 6]]
    assert harness.prepared == [{"ns": {4, 5, 6}}] * 3  # what the hook returned reached each handler

    # a failure: the fast attempt (hook included) is rolled back; in the careful redo the hook runs
    # per message, inside its savepoint
    spy = ModeSpy(monkeypatch)
    prepare.calls.clear()
    harness.prepared.clear()
    harness.fail_once = {8}
    for e in [envelope("a", n) for n in (7, 8, 9)]:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(prepare_batch=prepare), lambda: _has_count(harness, "a", 9))
    assert spy.careful == 1
    assert prepare.calls == [[7, 8, 9], [7], [8], [9]]
    assert harness.prepared[-3:] == [{"ns": {7}}, {"ns": {8}}, {"ns": {9}}]
    assert await prepare.committed(harness.pool) == [[1, 2, 3], [4, 5, 6], [7], [8], [9]]
    assert await harness.state() == {"a": (45, 9)}


async def test_a_failing_message_leaves_nothing_of_the_batch_hook_behind(harness, prepared_table):
    # the handler of 2 fails, and the hook fails for 5: both dead-lettered, their hook rows gone
    harness.fail_on = {2}
    prepare = Prepared(fail_on={5})
    for e in [envelope("a", n) for n in (1, 2, 3, 4, 5, 6)]:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(max_deliver=2, prepare_batch=prepare), lambda: _dead_count(harness.pool, 2))
    assert await harness.state() == {"a": (14, 4)}
    assert sorted(n for ns in await prepare.committed(harness.pool) for n in ns) == [1, 3, 4, 6]
    errors = sorted(d["error"] for d in await list_dead_letters(harness.pool))
    assert errors == ["RuntimeError: cannot handle n=2", "RuntimeError: cannot prepare [5]"]


async def test_redrive_runs_the_batch_hook_for_its_message(harness, prepared_table):
    harness.fail_on = {7}
    prepare = Prepared()
    await harness.publish(ThingHappened.event_type, envelope("r", 7).to_bytes())
    consumer = harness.consumer(max_deliver=1, prepare_batch=prepare)
    await _run_until_idle(consumer, lambda: _dead_count(harness.pool, 1))
    harness.fail_on = set()
    harness.prepared.clear()
    assert await consumer.redrive() == {"redriven": 1, "failed": 0}
    assert harness.prepared == [{"ns": {7}}]
    assert (await harness.state())["r"] == (7, 1)
    assert await prepare.committed(harness.pool) == [[7]]


async def test_a_batch_below_the_partition_threshold_stays_one_transaction(harness):
    harness.slow = 0.01
    few = [envelope(f"t{i}", i + 1) for i in range(5)]  # five keys, fewer events than the threshold
    for e in few:
        await harness.publish(e.type, e.to_bytes())
    options = {"partition_key": lambda event: event.thing_id, "concurrency": 3, "partition_threshold": 10}
    await _run_until_idle(harness.consumer(**options))
    assert harness.max_active == 1  # handled one after the other, in one group
    assert await harness.state() == {e.data["thing_id"]: (e.data["n"], 1) for e in few}
    many = [envelope(f"t{i % 6}", i + 10) for i in range(30)]  # one fetch of 30 >= 10: partitioned
    for e in many:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(**options))
    assert harness.max_active > 1


async def test_partitioned_batches_run_concurrently_keep_each_keys_order_and_fail_per_group(harness):
    ordered: dict[str, list[int]] = {}
    original = harness.handle

    async def handle(event, delivery):
        await original(event, delivery)
        ordered.setdefault(event.thing_id, []).append(event.n)

    harness.handle = handle
    harness.slow = 0.01
    harness.fail_on = {17}
    envs = [envelope(f"t{i % 6}", i + 1) for i in range(60)]
    for e in envs:
        await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer(max_deliver=2, partition_key=lambda event: event.thing_id, concurrency=3)
    await _run_until_idle(consumer, lambda: _dead_count(harness.pool, 1))
    assert harness.max_active > 1  # groups of one batch ran at the same time
    expected: dict[str, tuple[int, int]] = {}
    for e in envs:
        if e.data["n"] != 17:
            total, count = expected.get(e.data["thing_id"], (0, 0))
            expected[e.data["thing_id"]] = (total + e.data["n"], count + 1)
    assert await harness.state() == expected
    # each key's events were handled in stream order (the failed 17 and its rolled-back neighbours aside)
    for thing_id, ns in ordered.items():
        committed = [n for n in ns if n != 17]
        assert sorted(set(committed)) == [
            e.data["n"] for e in envs if e.data["thing_id"] == thing_id and e.data["n"] != 17
        ]
        firsts = list(dict.fromkeys(committed))
        assert firsts == sorted(firsts), thing_id
    [dead] = await list_dead_letters(harness.pool)
    assert "n=17" in dead["error"]


async def _has_count(harness, thing_id, count):
    return (await harness.state()).get(thing_id, (0, 0))[1] >= count


# ------------------------------------------------------------------- finish hook


class Batch:
    """What the batch hook returns: the fresh events' ns, and the ns its handlers appended to it."""

    def __init__(self, ns):
        self.ns = ns
        self.handled: list[int] = []


class Finish:
    """A prepare_batch / finish_batch pair. The finish hook records what it got (committed or not),
    then writes a row in the transaction — the batch's ns, those its handlers had appended, and the
    things total it sees — and then fails if the batch holds an n of ``fail_on``."""

    def __init__(self):
        self.fail_on: set[int] = set()
        self.prepared: list[Batch] = []  # every prepare_batch result
        self.calls: list[tuple[Batch, list[int], object]] = []  # (prepared, its handled then, store)

    async def prepare(self, conn, events):
        batch = Batch([event.n for event, _ in events])
        self.prepared.append(batch)
        return batch

    async def finish(self, conn, store, batch):
        self.calls.append((batch, list(batch.handled) if isinstance(batch, Batch) else None, store))
        await conn.execute(
            "INSERT INTO finished (ns, handled, seen_total) SELECT $1, $2, coalesce(sum(total), 0) FROM things",
            batch.ns,
            batch.handled,
        )
        if bad := self.fail_on & set(batch.ns):
            raise RuntimeError(f"cannot finish {sorted(bad)}")

    def options(self):
        return {"prepare_batch": self.prepare, "finish_batch": self.finish}

    @staticmethod
    async def committed(pool):
        async with pool.acquire() as conn:
            return [
                (r["ns"], r["handled"], r["seen_total"])
                for r in await conn.fetch("SELECT ns, handled, seen_total FROM finished ORDER BY id")
            ]


@pytest.fixture
async def finish(harness):
    async with harness.pool.acquire() as conn:
        await conn.execute("CREATE TABLE finished (id serial PRIMARY KEY, ns int[], handled int[], seen_total bigint)")
    original = harness.handle

    async def handle(event, delivery):  # a handler that defers work to the finish hook
        await original(event, delivery)
        delivery.prepared.handled.append(event.n)

    harness.handle = handle
    return Finish()


async def test_finish_batch_runs_once_per_fast_batch_after_its_handlers_and_commits_with_them(
    harness, finish, monkeypatch
):
    spy = ModeSpy(monkeypatch)
    envs = [envelope("a", n) for n in range(1, 61)]  # more than one fetch of 50: at least two batches
    for e in envs:
        await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer(**finish.options())
    await _run_until_idle(consumer)
    assert spy.careful == 0
    assert len(finish.prepared) >= 2
    # once per batch, with the very object prepare_batch returned for it, after all of its handlers
    assert len(finish.calls) == len(finish.prepared)
    assert all(batch is prepared for (batch, _, _), prepared in zip(finish.calls, finish.prepared, strict=True))
    assert all(handled == batch.ns for batch, handled, _ in finish.calls)
    assert all(store is consumer.store for _, _, store in finish.calls)
    # what it wrote committed with its batch, and it saw its handlers' writes: same transaction
    rows = await finish.committed(harness.pool)
    assert [ns for ns, _, _ in rows] == [batch.ns for batch in finish.prepared]
    assert sorted(n for ns, _, _ in rows for n in ns) == list(range(1, 61))
    running = 0
    for ns, handled, seen_total in rows:
        running += sum(ns)
        assert handled == ns and seen_total == running
    assert await harness.state() == {"a": (1830, 60)}

    # a batch of duplicates only: no fresh event had a handler, so no finish
    finish.calls.clear()
    for e in envs[:5]:
        await harness.publish(e.type, e.to_bytes())
    await _run_until_idle(harness.consumer(**finish.options()))
    assert finish.calls == []
    assert spy.careful == 0
    assert len(await finish.committed(harness.pool)) == len(rows)
    assert await harness.state() == {"a": (1830, 60)}


async def test_a_failing_finish_batch_fails_only_its_message_in_the_careful_redo(harness, finish, monkeypatch):
    spy = ModeSpy(monkeypatch)
    finish.fail_on = {5}
    envs = [envelope("a", n) for n in (1, 2, 3, 4, 5, 6)]
    for e in envs:
        await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer(max_deliver=2, **finish.options())
    await _run_until_idle(consumer, lambda: _dead_count(harness.pool, 1))
    assert spy.careful >= 2  # the fast attempt's redo, then the redelivery of 5 (careful at once)
    # fast (whole batch, failed), careful redo (once per message, its own prepared), redelivery of 5
    assert [batch.ns for batch, _, _ in finish.calls] == [[1, 2, 3, 4, 5, 6], [1], [2], [3], [4], [5], [6], [5]]
    assert all(batch is prepared for (batch, _, _), prepared in zip(finish.calls, finish.prepared, strict=True))
    assert [handled for _, handled, _ in finish.calls] == [[1, 2, 3, 4, 5, 6], [1], [2], [3], [4], [5], [6], [5]]
    # the good messages and their finish commit; nothing of 5 (handler nor finish) nor of the fast attempt
    assert await finish.committed(harness.pool) == [
        ([1], [1], 1),
        ([2], [2], 3),
        ([3], [3], 6),
        ([4], [4], 10),
        ([6], [6], 16),
    ]
    assert await harness.state() == {"a": (16, 5)}
    assert harness.attempts.count(5) == 3  # its handler ran each time; its finish undid it
    [dead] = await list_dead_letters(harness.pool)
    assert dead["delivery_count"] == 2 and dead["error"] == "RuntimeError: cannot finish [5]"
    assert dead["event_id"] == envs[4].id
    assert await _inbox(harness.pool) == {e.id for e in envs if e.data["n"] != 5}


async def test_redrive_runs_finish_batch_for_its_message(harness, finish):
    finish.fail_on = {7}
    env = envelope("r", 7)
    await harness.publish(env.type, env.to_bytes())
    consumer = harness.consumer(max_deliver=1, **finish.options())
    await _run_until_idle(consumer, lambda: _dead_count(harness.pool, 1))
    assert await finish.committed(harness.pool) == []

    # still broken: the redrive fails in the finish hook, and leaves nothing of it behind
    finish.calls.clear()
    assert await consumer.redrive() == {"redriven": 0, "failed": 1}
    assert [batch.ns for batch, _, _ in finish.calls] == [[7]]
    assert await finish.committed(harness.pool) == []
    assert "r" not in await harness.state()
    [dead] = await list_dead_letters(harness.pool)
    async with harness.pool.acquire() as conn:
        assert await conn.fetchval("SELECT redrive_error FROM dead_letters WHERE id = $1", dead["id"]) == (
            "RuntimeError: cannot finish [7]"
        )

    # the fix ships: the redrive runs the finish hook once, after the handler, with its own prepared
    finish.fail_on = set()
    finish.calls.clear()
    finish.prepared.clear()
    assert await consumer.redrive() == {"redriven": 1, "failed": 0}
    [(batch, handled, store)] = finish.calls
    assert batch is finish.prepared[0] and batch.ns == [7] and handled == [7] and store is consumer.store
    assert await finish.committed(harness.pool) == [([7], [7], 7)]
    assert (await harness.state())["r"] == (7, 1)
    assert await list_dead_letters(harness.pool) == []


async def test_lag_is_not_known_to_be_zero_while_jetstream_cannot_answer(pool, restartable_nats, namespace):
    nc, harness = await _harness(pool, restartable_nats.url, namespace)
    e = envelope("x", 1)
    await harness.publish(e.type, e.to_bytes())
    consumer = harness.consumer()
    task = asyncio.create_task(consumer.run())
    assert await _until(lambda: consumer.lag_is_zero())
    restartable_nats.stop()  # the API request now goes unanswered: "not known", not an exception
    assert await consumer.lag_is_zero() is False
    restartable_nats.start()
    assert await _until(lambda: consumer.lag_is_zero())  # known again once the server is back
    consumer.stop()
    await task
    await nc.close()
