"""Idempotent durable pull consumers: inbox + state change in one transaction, ack after commit.

One fetched batch is handled in one database transaction (≈5x faster than one per message), in one
of two modes with the same outcomes:

* **fast** (a batch of first deliveries): one statement inserts the inbox rows ``(consumer,
  event_id)`` of the whole batch; the handlers of the fresh events (the first occurrence of an id
  the inbox did not have) run one after the other without savepoints. If any handler raises, the
  whole transaction is rolled back and the batch is redone in the careful mode.
* **careful** (after a fast attempt failed, or when the batch holds a redelivered message): each
  message runs in a savepoint that inserts its inbox row first, and a duplicate skips the handler;
  a failing message undoes only itself. :meth:`Consumer.redrive` uses the same path.

Either way redelivery and duplicates have no second effect. ``ConsumerSpec.prepare_batch`` runs in
the transaction before the handlers: in the fast mode once, with the batch's fresh events (e.g. to
take every lock of the batch at once, in a fixed order, or to apply them in one statement); in the
careful mode and a redrive once per fresh message, with that event, inside the message's savepoint,
so that a failing message leaves nothing behind, its share of the hook included. What it returns
reaches the handlers of the same transaction as ``Delivery.prepared``. ``ConsumerSpec.finish_batch``
runs after the handlers with that same value, in the same scope (once per fast batch, once per
message inside its savepoint otherwise): work the handlers deferred — e.g. re-evaluating each
touched aggregate once per batch, set-based, instead of once per event — commits with them or not
at all, and a failure in it counts as the batch's (or, careful, that message's) failure.
With ``ConsumerSpec.partition_key`` and ``concurrency`` > 1 a fetched batch is split by key into
up to ``concurrency`` groups (one key → one group, order kept; a batch of fewer than
``partition_threshold`` events stays whole) handled concurrently, each in its own
transaction on its own pooled connection and acknowledged after its own commit. Outcomes:

* handled or duplicate → ack after commit;
* known type the consumer has no handler for → inbox row, ack (it subscribes to a whole context's
  stream); a batch of nothing else is one statement (the inbox rows), not a transaction;
* malformed (not JSON, not a CloudEvent, unknown type, schema-invalid) → dead letter at once;
* handler (or its share of the hook) raised → nak with a delay that doubles with each delivery, and at ``max_deliver``
  deliveries → dead letter. A dead letter is committed before its message is acked, so a failure
  is never acked silently. ``redrive`` runs dead letters through the same path again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats.errors
import orjson
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import FetchTimeoutError
from pydantic import ValidationError

from tessera_shared.contract.base import Event, UnknownEventType, is_known, parse_data
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import Subscription, stream_name, type_from_subject
from tessera_shared.kernel import context
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.metrics import CONSUMER_LAG, DEAD_LETTERS, EVENTS_CONSUMED
from tessera_shared.kernel.nats import ConsumerPolicy, provision_subscription

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What a handler gets besides the event: its transaction and the message's envelope.

    ``prepared`` is what the spec's ``prepare_batch`` returned for this event in this same
    transaction (for the whole batch, or for this event alone in the careful mode), or None without
    a hook — e.g. a handler called directly — when the handler must do the hook's work itself.
    """

    conn: Conn
    envelope: Envelope
    store: EventStore
    prepared: object = None


Handler = Callable[[Event, Delivery], Awaitable[None]]
# Called in the transaction before the handlers, with fresh events that have a handler: the whole
# batch's in the fast mode, one event's (inside its savepoint) in the careful mode and a redrive.
BatchHook = Callable[[Conn, Sequence[tuple[Event, Envelope]]], Awaitable[object]]
# Called after the handlers, in the same transaction (or savepoint), with what the BatchHook returned.
FinishHook = Callable[[Conn, EventStore, object], Awaitable[None]]
# Events of one key are handled in one transaction, in order; None → the first group.
PartitionKey = Callable[[Event], str | None]


@dataclass
class ConsumerSpec:
    subscription: Subscription
    handlers: Mapping[type[Event], Handler]
    policy: ConsumerPolicy = field(default_factory=ConsumerPolicy)
    prepare_batch: BatchHook | None = None
    finish_batch: FinishHook | None = None  # runs where prepare_batch would (fresh events with a handler)
    partition_key: PartitionKey | None = None
    concurrency: int = 1  # transactions per fetched batch (needs partition_key); each holds a connection
    # A fetched batch of fewer events is handled in one transaction: partitions overlap the round
    # trips of big batches, but for a trickle of events their fixed cost each (inbox, locks, loads)
    # would dominate.
    partition_threshold: int = 0

    @property
    def name(self) -> str:
        return f"{self.subscription.consumer}--{self.subscription.source}"


class Malformed(Exception):
    """The message cannot be interpreted: retrying will not help."""


@dataclass
class _Item:
    subject: str
    body: bytes
    headers: dict[str, str]
    deliveries: int
    stream_seq: int | None
    msg: Msg | None = None
    envelope: Envelope | None = None
    event: Event | None = None
    error: str | None = None
    outcome: str = "pending"  # ack | nak | dead


def decode(subject: str, body: bytes, namespace: str) -> tuple[Envelope, Event]:
    try:
        envelope = Envelope.from_bytes(body)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"not JSON: {exc}") from exc
    except ValidationError as exc:
        raise Malformed(f"not a Tessera CloudEvent: {exc.errors(include_url=False)}") from exc
    expected = type_from_subject(subject, namespace)
    if envelope.type != expected:
        raise Malformed(f"type {envelope.type!r} does not match subject {expected!r}")
    if not is_known(envelope.type):
        raise Malformed(f"unknown event type {envelope.type!r}")
    try:
        return envelope, parse_data(envelope.type, envelope.data)
    except (ValidationError, UnknownEventType) as exc:
        raise Malformed(f"data does not match {envelope.type}: {exc}") from exc


class Consumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        store: EventStore,
        namespace: str = "",
        batch_size: int = 200,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 30.0,
        concurrency: int | None = None,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.js = js
        self.store = store
        self.namespace = namespace
        self.batch_size = batch_size
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.concurrency = max(1, spec.concurrency if concurrency is None else concurrency)
        self.ready = False
        self._stopping = asyncio.Event()
        self._handlers: dict[str, Handler] = {t.event_type: h for t, h in spec.handlers.items()}

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def durable(self) -> str:
        return self.spec.subscription.durable(self.namespace)

    @property
    def stream(self) -> str:
        return stream_name(self.spec.subscription.source, self.namespace)

    def nak_delay(self, deliveries: int) -> float:
        return float(min(self.backoff_seconds * 2 ** max(deliveries - 1, 0), self.backoff_max_seconds))

    async def provision(self) -> bool:
        """Create/update the durable; a missing source stream is waited for until :meth:`stop`."""
        return await provision_subscription(
            self.js,
            self.spec.subscription,
            self.namespace,
            self.spec.policy,
            wait_seconds=None,
            stopping=self._stopping,
        )

    async def run(self) -> None:
        if not await self.provision():
            return
        psub = await self.js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self.ready = True
        log.info("consumer started", consumer=self.name, durable=self.durable)
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await psub.fetch(self.batch_size, timeout=1.0)
                except (FetchTimeoutError, TimeoutError):
                    continue
                except Exception as exc:  # NATS reconnecting: keep trying
                    log.warning("fetch failed", consumer=self.name, error=repr(exc))
                    await asyncio.sleep(0.5)
                    continue
                await self.process(msgs)
        finally:
            self.ready = False
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    def stop(self) -> None:
        self._stopping.set()

    async def process(self, msgs: list[Msg]) -> None:
        items = []
        for m in msgs:
            md = m.metadata
            items.append(_Item(m.subject, m.data, dict(m.headers or {}), md.num_delivered, md.sequence.stream, m))
        for it in items:
            self._decode(it)
        groups = self._partition(items)
        if len(groups) == 1:
            await self._process_group(groups[0])
            return
        current = asyncio.current_task()
        task_name = current.get_name() if current is not None else self.name
        # named after the consumer's task, so that logs and profiles attribute their work to it
        await asyncio.gather(
            *(asyncio.create_task(self._process_group(g), name=f"{task_name}#{i}") for i, g in enumerate(groups))
        )

    async def _process_group(self, items: list[_Item]) -> None:
        try:
            await self._handle(items)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The transaction did not commit: nothing happened, so every message goes back.
            log.warning("batch transaction failed", consumer=self.name, error=repr(exc))
            for it in items:
                it.outcome = "nak"
        for it in items:
            assert it.msg is not None
            with contextlib.suppress(Exception):  # an ack lost here means a harmless redelivery
                if it.outcome == "nak":
                    await it.msg.nak(delay=self.nak_delay(it.deliveries))
                else:
                    await it.msg.ack()
            EVENTS_CONSUMED.labels(self.name, it.outcome).inc()

    def _decode(self, it: _Item) -> None:
        try:
            it.envelope, it.event = decode(it.subject, it.body, self.namespace)
        except Malformed as exc:
            it.outcome, it.error = "dead", str(exc)

    def _partition(self, items: list[_Item]) -> list[list[_Item]]:
        """Up to ``concurrency`` groups: one key's events in one group, in their order; keys are
        dealt round-robin in order of first appearance; no key (or malformed) → the first group."""
        key_of = self.spec.partition_key
        if self.concurrency <= 1 or key_of is None or len(items) <= 1 or len(items) < self.spec.partition_threshold:
            return [items]
        groups: list[list[_Item]] = [[] for _ in range(self.concurrency)]
        slot: dict[str, int] = {}
        for it in items:
            key: str | None = None
            if it.event is not None:
                try:
                    key = key_of(it.event)
                except Exception:  # a key function bug must not lose the message: it goes unpartitioned
                    log.exception("partition key failed", consumer=self.name)
            index = 0 if key is None else slot.setdefault(key, len(slot) % self.concurrency)
            groups[index].append(it)
        return [g for g in groups if g]

    async def _handle(self, items: list[_Item]) -> None:
        pending = [it for it in items if it.outcome == "pending"]
        async with self.pool.acquire() as conn:
            first_deliveries = all(it.deliveries <= 1 for it in pending)
            if first_deliveries and all(it.outcome == "pending" and self._handler_of(it) is None for it in items):
                # Nothing to handle (types this consumer only acknowledges): the inbox rows are the
                # batch's one statement, committed on their own, not a transaction of three.
                await self._handle_fast(conn, items, pending)
                return
            # A redelivered message failed before (or its batch crashed): likely to fail again.
            if first_deliveries:
                try:
                    async with conn.transaction():
                        await self._handle_fast(conn, items, pending)
                    return
                except Exception as exc:
                    for it in pending:
                        it.outcome, it.error = "pending", None
                    if conn.is_closed():
                        raise
                    log.warning(
                        "batch failed in fast mode; redoing it message by message",
                        consumer=self.name,
                        error=f"{type(exc).__name__}: {exc}",
                    )
            async with conn.transaction():
                await self._handle_careful(conn, items)

    async def _handle_fast(self, conn: Conn, items: list[_Item], pending: list[_Item]) -> None:
        fresh: list[_Item] = []
        if pending:
            ids = list(dict.fromkeys(self._event_id(it) for it in pending))
            inserted = {
                r["event_id"]
                for r in await conn.fetch(
                    """INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])
                       ON CONFLICT DO NOTHING RETURNING event_id""",
                    self.name,
                    ids,
                )
            }
            for it in pending:
                event_id = self._event_id(it)
                if event_id in inserted:  # the first occurrence in the batch of an id new to the inbox
                    inserted.discard(event_id)
                    fresh.append(it)
                else:
                    it.outcome = "ack"  # duplicate
        handled = [it for it in fresh if self._handler_of(it) is not None]
        prepared = await self._prepare(conn, handled)
        for it in fresh:
            handler = self._handler_of(it)
            if handler is not None:
                await self._call(handler, conn, it, prepared)
            it.outcome = "ack"
        if handled:
            await self._finish(conn, prepared)
        for it in items:
            if it.outcome == "dead":
                await self._dead_letter(conn, it)

    async def _handle_careful(self, conn: Conn, items: list[_Item]) -> None:
        for it in items:
            if it.outcome == "pending":
                await self._handle_one(conn, it)
            if it.outcome == "dead":
                await self._dead_letter(conn, it)

    async def _prepare(self, conn: Conn, items: list[_Item]) -> object:
        hook = self.spec.prepare_batch
        if hook is None or not items:
            return None
        events = []
        for it in items:
            assert it.event is not None and it.envelope is not None
            events.append((it.event, it.envelope))
        return await hook(conn, events)

    async def _finish(self, conn: Conn, prepared: object) -> None:
        hook = self.spec.finish_batch
        if hook is not None:
            await hook(conn, self.store, prepared)

    @staticmethod
    def _event_id(it: _Item) -> str:
        assert it.envelope is not None
        return it.envelope.id

    def _handler_of(self, it: _Item) -> Handler | None:
        assert it.envelope is not None
        return self._handlers.get(it.envelope.type)

    async def _call(self, handler: Handler, conn: Conn, it: _Item, prepared: object) -> None:
        assert it.envelope is not None and it.event is not None
        token = context.bind(
            context.MessageContext(
                correlation_id=it.envelope.correlationid or it.envelope.id,
                causation_id=it.envelope.id,
                traceparent=context.new_traceparent(it.envelope.traceparent),
            )
        )
        try:
            await handler(it.event, Delivery(conn, it.envelope, self.store, prepared))
        finally:
            context.reset(token)

    async def _handle_one(self, conn: Conn, it: _Item) -> None:
        assert it.envelope is not None and it.event is not None
        handler = self._handlers.get(it.envelope.type)
        try:
            # savepoint: a failing message undoes only itself, its share of the batch hook included
            async with conn.transaction():
                fresh = await conn.fetchval(
                    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                    self.name,
                    it.envelope.id,
                )
                if fresh and handler is not None:
                    prepared = await self._prepare(conn, [it])
                    await self._call(handler, conn, it, prepared)
                    await self._finish(conn, prepared)
            it.outcome = "ack"
        except Exception as exc:
            it.error = f"{type(exc).__name__}: {exc}"
            if it.deliveries >= self.spec.policy.max_deliver:
                it.outcome = "dead"
            else:
                it.outcome = "nak"
                log.warning(
                    "handler failed; will retry",
                    consumer=self.name,
                    event_id=it.envelope.id,
                    deliveries=it.deliveries,
                    error=it.error,
                )

    async def _dead_letter(self, conn: Conn, it: _Item) -> None:
        await conn.execute(
            """INSERT INTO dead_letters (consumer, subject, event_id, event_type, payload, headers, error,
                                         delivery_count, stream_sequence)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (consumer, event_id) WHERE redriven_at IS NULL AND event_id IS NOT NULL DO NOTHING""",
            self.name,
            it.subject,
            it.envelope.id if it.envelope else it.headers.get("Nats-Msg-Id"),
            it.envelope.type if it.envelope else None,
            it.body,
            it.headers,
            it.error or "unknown",
            it.deliveries,
            it.stream_seq,
        )
        DEAD_LETTERS.labels(self.name).inc()
        log.error("dead-lettered", consumer=self.name, subject=it.subject, error=it.error)

    async def redrive(self, ids: list[int] | None = None) -> dict[str, int]:
        """Run open dead letters (all of this consumer's, or ``ids``) through the handler again.

        A dead letter that now succeeds is marked redriven; one that fails again keeps its record
        with the new error, so nothing is lost either way.
        """
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT id, subject, payload, headers, delivery_count, stream_sequence FROM dead_letters
                   WHERE consumer = $1 AND redriven_at IS NULL AND ($2::bigint[] IS NULL OR id = ANY($2))
                   ORDER BY id""",
                self.name,
                ids,
            )
        result = {"redriven": 0, "failed": 0}
        for r in rows:
            it = _Item(r["subject"], bytes(r["payload"]), r["headers"], 0, r["stream_sequence"])
            self._decode(it)
            async with self.pool.acquire() as conn, conn.transaction():
                if it.outcome == "pending":
                    await self._handle_one(conn, it)
                if it.outcome == "ack":
                    await conn.execute(
                        "UPDATE dead_letters SET redriven_at = clock_timestamp(), redrive_error = NULL WHERE id = $1",
                        r["id"],
                    )
                    result["redriven"] += 1
                else:
                    await conn.execute("UPDATE dead_letters SET redrive_error = $2 WHERE id = $1", r["id"], it.error)
                    result["failed"] += 1
        return result

    async def lag_is_zero(self) -> bool:
        """Whether the consumer is known to be caught up. While JetStream cannot answer (a cluster
        electing a new leader after a node failure, a server restarting) that is not known: False,
        so a caller waiting for it keeps waiting instead of failing."""
        if not self.ready:
            return False
        try:
            return await self.lag() == 0
        except (nats.errors.Error, TimeoutError):
            return False

    async def lag(self) -> int:
        info = await self.js.consumer_info(self.stream, self.durable)
        pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        CONSUMER_LAG.labels(self.name).set(pending)
        return pending


async def list_dead_letters(pool: asyncpg.Pool, *, include_redriven: bool = False) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id, consumer, subject, event_id, event_type, error, delivery_count, created_at,
                      redriven_at, redrive_error
               FROM dead_letters WHERE $1 OR redriven_at IS NULL ORDER BY id""",
            include_redriven,
        )
    return [dict(r) for r in rows]
