"""Idempotent durable pull consumers: inbox + state change in one transaction, ack after commit.

One fetched batch is handled in one database transaction (≈5x faster than one per message). Each
message runs in a savepoint: the inbox row ``(consumer, event_id)`` is inserted first and a
duplicate skips the handler, so redelivery and duplicates have no second effect. Outcomes:

* handled or duplicate → ack after commit;
* known type the consumer has no handler for → ack (it subscribes to a whole context's stream);
* malformed (not JSON, not a CloudEvent, unknown type, schema-invalid) → dead letter at once;
* handler raised → nak with a delay that doubles with each delivery, and at ``max_deliver``
  deliveries → dead letter. A dead letter is committed before its message is acked, so a failure
  is never acked silently. ``redrive`` runs dead letters through the same path again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
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
    """What a handler gets besides the event: its transaction and the message's envelope."""

    conn: Conn
    envelope: Envelope
    store: EventStore


Handler = Callable[[Event, Delivery], Awaitable[None]]


@dataclass
class ConsumerSpec:
    subscription: Subscription
    handlers: Mapping[type[Event], Handler]
    policy: ConsumerPolicy = field(default_factory=ConsumerPolicy)

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
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.js = js
        self.store = store
        self.namespace = namespace
        self.batch_size = batch_size
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
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

    async def _handle(self, items: list[_Item]) -> None:
        for it in items:
            try:
                it.envelope, it.event = decode(it.subject, it.body, self.namespace)
            except Malformed as exc:
                it.outcome, it.error = "dead", str(exc)
        async with self.pool.acquire() as conn, conn.transaction():
            for it in items:
                if it.outcome == "pending":
                    await self._handle_one(conn, it)
                if it.outcome == "dead":
                    await self._dead_letter(conn, it)

    async def _handle_one(self, conn: Conn, it: _Item) -> None:
        assert it.envelope is not None and it.event is not None
        handler = self._handlers.get(it.envelope.type)
        token = context.bind(
            context.MessageContext(
                correlation_id=it.envelope.correlationid or it.envelope.id,
                causation_id=it.envelope.id,
                traceparent=context.new_traceparent(it.envelope.traceparent),
            )
        )
        try:
            async with conn.transaction():  # savepoint: a failing handler undoes only itself
                fresh = await conn.fetchval(
                    "INSERT INTO inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                    self.name,
                    it.envelope.id,
                )
                if fresh and handler is not None:
                    await handler(it.event, Delivery(conn, it.envelope, self.store))
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
        finally:
            context.reset(token)

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
            try:
                it.envelope, it.event = decode(it.subject, it.body, self.namespace)
            except Malformed as exc:
                it.outcome, it.error = "dead", str(exc)
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
        return self.ready and await self.lag() == 0

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
