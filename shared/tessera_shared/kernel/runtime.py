"""The running parts of one service: pool, event store, NATS, relay, consumers, projections.

Built by :func:`tessera_shared.kernel.app.create_app` from a :class:`ServiceDefinition`; the
service's ``bootstrap.py`` (its composition root) supplies the definition.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter
from faststream.nats import NatsBroker
from faststream.nats.security import NatsUserPassword
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from tessera_shared.contract.topology import stream_name, subscriptions_of
from tessera_shared.kernel import db, heap, migrations, own_loop
from tessera_shared.kernel.consumer import Consumer, ConsumerSpec
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.nats import ConsumerPolicy, ensure_stream, stream_config
from tessera_shared.kernel.outbox import OutboxRelay
from tessera_shared.kernel.projections import Projection, ProjectionRunner
from tessera_shared.kernel.settings import ServiceSettings

log = structlog.get_logger(__name__)


@dataclass
class ServiceDefinition:
    """Everything that makes a service itself; the kernel supplies the rest."""

    name: str  # the bounded context it owns: catalogue | enrolment | assessment | credential
    title: str
    settings: ServiceSettings
    migrations: Path | None = None
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    projections: Sequence[Projection] = ()
    on_start: Sequence[Callable[[Runtime], Awaitable[None]]] = ()
    services: dict[str, Any] = field(default_factory=dict)  # service-specific objects for routes


class Runtime:
    def __init__(self, definition: ServiceDefinition) -> None:
        self.definition = definition
        self.settings = definition.settings
        self.name = definition.name
        self.pool: asyncpg.Pool | None = None
        self.store: EventStore | None = None
        self.broker: NatsBroker | None = None
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.relay: OutboxRelay | None = None
        self.consumers: list[Consumer] = []
        self.projections: ProjectionRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stoppers: list[Callable[[], None]] = []

    @property
    def source(self) -> str:
        return f"/tessera/{self.name}"

    def migration_list(self) -> list[migrations.Migration]:
        return migrations.for_service(self.name, self.definition.migrations)

    async def migrate(self) -> list[str]:
        await db.ensure_database(self.settings.database_url)
        conn = await asyncpg.connect(self.settings.database_url)
        try:
            return await migrations.apply(conn, self.migration_list())
        finally:
            await conn.close()

    async def connect_nats(self) -> None:
        s = self.settings
        security = NatsUserPassword(s.nats_user, s.nats_password or "") if s.nats_user else None
        self.broker = NatsBroker(
            servers=s.nats_url.split(","),
            security=security,
            name=f"tessera-{self.name}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
        )
        await self.broker.start()
        self.nc = self.broker.connection
        self.js = self.nc.jetstream(publish_async_max_pending=4000)

    async def provision(self) -> None:
        assert self.js is not None
        await ensure_stream(
            self.js, stream_config(self.name, self.settings.nats_namespace, self.settings.stream_replicas)
        )

    async def start(self) -> None:
        s = self.settings
        applied = await self.migrate()
        if applied:
            log.info("migrations applied", service=self.name, applied=applied)
        self.pool = await db.create_pool(s.database_url, size=s.database_pool_size)
        self.store = EventStore(self.pool, source=self.source, service=self.name)
        await self.connect_nats()
        await self.provision()
        assert self.js is not None
        self.relay = OutboxRelay(
            self.pool,
            self.js,
            dsn=s.database_url,
            service=self.name,
            namespace=s.nats_namespace,
            batch_size=s.relay_batch_size,
            poll_seconds=s.relay_poll_seconds,
        )
        policy = ConsumerPolicy(max_deliver=s.consumer_max_deliver, ack_wait_seconds=s.consumer_ack_wait_seconds)
        declared = {c.subscription for c in self.definition.consumers}
        missing = [sub for sub in subscriptions_of(self.name) if sub not in declared]
        if missing:
            log.warning("topology lists subscriptions this service does not handle", missing=missing)
        for spec in self.definition.consumers:
            spec.policy = policy
            self.consumers.append(
                Consumer(
                    spec,
                    pool=self.pool,
                    js=self.js,
                    store=self.store,
                    namespace=s.nats_namespace,
                    batch_size=s.consumer_batch_size,
                    backoff_seconds=s.consumer_backoff_seconds,
                    backoff_max_seconds=s.consumer_backoff_max_seconds,
                )
            )
        self.projections = ProjectionRunner(self.store, self.definition.projections, dsn=s.database_url)
        for hook in self.definition.on_start:
            await hook(self)
        if s.run_background:
            self._spawn("relay", self.relay.run)
            for c in self.consumers:
                self._spawn(c.name, c.run)
            if self.definition.projections:
                self._spawn("projections", self.projections.run)
        heap.settle(s.gc_young_threshold)  # start-up's objects live as long as the process
        own_loop.set_switch_interval(s.switch_interval_ms)  # its threads (e.g. an OwnLoop) wait less

    def spawn(self, name: str, run: Callable[[], Awaitable[None]], stop: Callable[[], None] | None = None) -> None:
        """Run a background loop for the service's lifetime (restarted if it crashes).

        ``stop`` asks the loop to finish; it is called on shutdown before waiting for the task.
        Services add their own loops (e.g. a clock, an issuance worker) from an ``on_start`` hook.
        """
        if stop is not None:
            self._stoppers.append(stop)
        self._spawn(name, run)

    def _spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            while True:  # a crashed background loop is logged and restarted, never silently gone
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("background task crashed; restarting", task=name)
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(guarded(), name=f"{self.name}:{name}"))

    async def stop(self) -> None:
        if self.relay:
            self.relay.stop()
        for c in self.consumers:
            c.stop()
        if self.projections:
            self.projections.stop()
        for stop in self._stoppers:
            stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for t in pending:
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await self.broker.stop()
        if self.pool is not None:
            await self.pool.close()

    async def status(self) -> dict[str, Any]:
        """What an operator watches: relay lag, consumer lag, dead letters, the last event."""
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            last = await conn.fetchrow(
                "SELECT global_position, event_type, recorded_at FROM events ORDER BY global_position DESC LIMIT 1"
            )
            dead = await conn.fetch(
                "SELECT consumer, count(*) AS n FROM dead_letters WHERE redriven_at IS NULL GROUP BY consumer"
            )
        relay_lag, relay_age = await self.relay.lag() if self.relay else (0, 0.0)
        consumers: dict[str, Any] = {}
        for c in self.consumers:
            try:
                consumers[c.name] = {"lag": await c.lag(), "ready": c.ready}
            except Exception as exc:
                consumers[c.name] = {"error": type(exc).__name__, "ready": c.ready}
        return {
            "service": self.name,
            "relay": {
                "active": bool(self.relay and self.relay.active),
                "unpublished": relay_lag,
                "oldest_unpublished_seconds": round(relay_age, 3),
            },
            "consumers": consumers,
            "dead_letters": {r["consumer"]: r["n"] for r in dead},
            "last_event": dict(last) if last else None,
        }

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            assert self.pool is not None
            async with self.pool.acquire() as conn:
                todo = await migrations.pending(conn, self.migration_list())
            checks["database"] = "ok"
            checks["migrations"] = "ok" if not todo else f"pending: {', '.join(todo)}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["nats"] = "ok" if self.nc is not None and self.nc.is_connected else "disconnected"
        streams = [stream_name(self.name, self.settings.nats_namespace)] + [c.stream for c in self.consumers]
        if checks["nats"] == "ok" and self.js is not None:
            for st in streams:
                try:
                    await self.js.stream_info(st)
                    checks[f"stream:{st}"] = "ok"
                except NotFoundError:
                    checks[f"stream:{st}"] = "missing"
                except Exception as exc:
                    checks[f"stream:{st}"] = f"error: {type(exc).__name__}"
        if self.settings.run_background:
            for c in self.consumers:
                checks[f"consumer:{c.name}"] = "ok" if c.ready else "starting"
        return checks
