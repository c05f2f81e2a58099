"""Run a whole service in-process against the real test servers, and mint tokens for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from tessera_shared.contract.base import Event
from tessera_shared.contract.envelope import Envelope, dataschema_for
from tessera_shared.contract.topology import subject_for
from tessera_shared.kernel import auth, db
from tessera_shared.kernel.nats import connect, ensure_stream, stream_config
from tessera_shared.kernel.runtime import Runtime
from tessera_shared.kernel.settings import ServiceSettings
from tessera_shared.testing.servers import Servers


@dataclass
class Tokens:
    """The operator's test key pair; ``mint`` signs bearer tokens, ``headers`` wraps one."""

    private_pem: bytes
    public_pem: bytes

    @classmethod
    def generate(cls) -> Tokens:
        return cls(*auth.generate_keypair())

    def mint(self, subject: str, roles: Iterable[str], institution: str | None = None, **kw: Any) -> str:
        return auth.mint_token(self.private_pem, subject=subject, roles=roles, institution=institution, **kw)

    def headers(self, subject: str, roles: Iterable[str], institution: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(subject, roles, institution)}"}


@dataclass
class RunningService:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ServiceSettings

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


def test_settings(
    settings_cls: type[ServiceSettings], servers: Servers, namespace: str, name: str, tokens: Tokens, **overrides: Any
) -> ServiceSettings:
    values: dict[str, Any] = {
        "database_url": db.with_database(servers.database_url, f"{namespace}_{name}"),
        "nats_url": servers.nats_url,
        "nats_namespace": namespace,
        "token_public_key": tokens.public_pem.decode(),
        "relay_poll_seconds": 0.1,
        "consumer_backoff_seconds": 0.05,
        "consumer_backoff_max_seconds": 0.5,
        "log_format": "console",
        "log_level": "WARNING",
    }
    values.update(overrides)
    return settings_cls(**values)


@asynccontextmanager
async def running_service(
    create_app: Callable[[Any], FastAPI], settings: ServiceSettings, *, drop_database: bool = True
) -> AsyncIterator[RunningService]:
    """Start the service's lifespan (migrations, NATS, relay, consumers) and give an HTTP client."""
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=settings.public_base_url) as client:
                yield RunningService(app, client, settings)
    finally:
        if drop_database:
            await db.drop_database(settings.database_url)


async def eventually(check: Callable[[], Awaitable[Any]], *, seconds: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; returns it, or the last value on timeout.

    For waiting on asynchronous delivery with a bound, never as a timing assertion.
    """
    deadline = asyncio.get_running_loop().time() + seconds
    value = await check()
    while not value and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(interval)
        value = await check()
    return value


async def publish_events(
    nats_url: str, namespace: str, events: Iterable[tuple[Event, str]], *, source: str | None = None
) -> list[str]:
    """Publish contract events as their producing service would (envelope, stream, Msg-Id).

    ``events`` are ``(event, subject)`` pairs, subject being the aggregate id. The producing
    context's stream is created if missing. Returns the event ids. For tests of one service that
    consume another context's events without running the other service.
    """
    nc = await connect(nats_url)
    js = nc.jetstream()
    ids: list[str] = []
    ensured: set[str] = set()
    try:
        for event, subject in events:
            context_name = event.event_type.split(".")[1]
            if context_name not in ensured:
                await ensure_stream(js, stream_config(context_name, namespace))
                ensured.add(context_name)
            event_id = str(uuid.uuid4())
            envelope = Envelope(
                id=event_id,
                source=source or f"/tessera/{context_name}",
                type=event.event_type,
                subject=subject,
                time=datetime.now(UTC),
                dataschema=dataschema_for(event.event_type),
                correlationid=event_id,
                data=event.model_dump(mode="json"),
            )
            await js.publish(
                subject_for(event.event_type, namespace), envelope.to_bytes(), headers={"Nats-Msg-Id": event_id}
            )
            ids.append(event_id)
    finally:
        await nc.close()
    return ids
