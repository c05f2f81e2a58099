"""The whole consortium in one process (four services, real NATS JetStream and PostgreSQL) and the
faults the small resilience suite injects into every durable consumer of every service.

* :class:`Chaos` sits in front of :meth:`Consumer.process` (the kernel's batch entry point) and
  changes what JetStream delivered before the kernel sees it: fresh messages are **held back**
  (nak'ed with a short delay, so JetStream redelivers them after newer ones), **duplicated** within
  the batch, the batch is **shuffled**, and some acks are **lost** (the message is handled and
  committed, but a nak goes back instead of the ack, so JetStream delivers it again). Every
  consumer gets at least one of each.
* :class:`Poison` makes chosen events fail in their handler (a bug), so they are retried and then
  dead-lettered, while the rest flows; :meth:`Poison.fix` puts the real handlers back.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg

from tessera_assessment.bootstrap import create_app as assessment_app
from tessera_assessment.config import AssessmentSettings
from tessera_catalogue.bootstrap import create_app as catalogue_app
from tessera_catalogue.config import CatalogueSettings
from tessera_credential.bootstrap import create_app as credential_app
from tessera_credential.config import CredentialSettings
from tessera_enrolment.bootstrap import create_app as enrolment_app
from tessera_enrolment.config import EnrolmentSettings
from tessera_shared.contract.base import Event
from tessera_shared.demo.api import Api, Endpoints
from tessera_shared.kernel.consumer import Consumer, Delivery, Handler
from tessera_shared.testing.apps import RunningService, Tokens, running_service, test_settings
from tessera_shared.testing.servers import Servers

APPS = {
    "catalogue": (catalogue_app, CatalogueSettings),
    "enrolment": (enrolment_app, EnrolmentSettings),
    "assessment": (assessment_app, AssessmentSettings),
    "credential": (credential_app, CredentialSettings),
}
CONSUMERS = (
    "enrolment--catalogue",
    "enrolment--credential",
    "assessment--catalogue",
    "assessment--enrolment",
    "credential--catalogue",
    "credential--enrolment",
    "credential--assessment",
)


@dataclass
class Consortium:
    services: dict[str, RunningService]
    api: Api

    def consumer(self, name: str) -> Consumer:
        service = name.split("--")[0]
        return next(c for c in self.services[service].runtime.consumers if c.name == name)

    def pool(self, service: str) -> Any:
        pool = self.services[service].runtime.pool
        assert pool is not None
        return pool


async def start_consortium(stack: AsyncExitStack, servers: Servers, namespace: str, tokens: Tokens) -> Consortium:
    services: dict[str, RunningService] = {}
    for name, (create, settings_cls) in APPS.items():
        settings = test_settings(settings_cls, servers, namespace, name[:3], tokens, database_pool_size=6)
        services[name] = await stack.enter_async_context(running_service(create, settings))
    endpoints = Endpoints(**{n: s.settings.public_base_url for n, s in services.items()})
    api = await stack.enter_async_context(
        Api(endpoints, tokens.private_pem, {n: s.client for n, s in services.items()}, request_timeout=120)
    )
    return Consortium(services, api)


@dataclass
class Chaos:
    """Duplicates, redeliveries after newer messages, shuffled batches and lost acks."""

    seed: int = 7
    rate: float = 0.2
    injected: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _pick(self, consumer: str, kind: str) -> bool:
        return self.injected[consumer][kind] == 0 or self.rng.random() < self.rate

    async def process(self, consumer: Consumer, msgs: list[Msg], original: Callable[..., Any]) -> None:
        name = consumer.name
        fresh = [m for m in msgs if m.metadata.num_delivered == 1]
        held = []
        for m in fresh:
            if len(fresh) > 1 and self._pick(name, "held_back") and len(held) < len(fresh) - 1:
                held.append(m)
                self.injected[name]["held_back"] += 1
        for m in held:  # redelivered by JetStream after the newer messages of this batch
            await m.nak(delay=self.rng.uniform(0.05, 0.3))
        rest = [m for m in msgs if m not in held]
        batch = list(rest)
        for m in rest:
            if m.metadata.num_delivered == 1 and self._pick(name, "duplicated"):
                batch.append(m)
                self.injected[name]["duplicated"] += 1
        self.rng.shuffle(batch)
        if len(batch) > 1:
            self.injected[name]["shuffled_batches"] += 1
        for m in rest:
            if m.metadata.num_delivered == 1 and self._pick(name, "ack_lost"):
                self._lose_ack(m)
                self.injected[name]["ack_lost"] += 1
        await original(consumer, batch)

    def _lose_ack(self, m: Msg) -> None:
        delay = self.rng.uniform(0.05, 0.3)

        async def nak_instead() -> None:
            await Msg.nak(m, delay=delay)

        m.ack = nak_instead  # type: ignore[method-assign]

    def install(self, monkeypatch: Any) -> None:
        original = Consumer.process

        async def process(consumer: Consumer, msgs: list[Msg]) -> None:
            await self.process(consumer, msgs, original)

        monkeypatch.setattr(Consumer, "process", process)


@dataclass
class Poison:
    """Handlers that fail (a bug) for the events ``rule(consumer, event)`` selects."""

    rule: Callable[[str, Event], bool]
    failed: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    _originals: list[tuple[Consumer, dict[str, Handler]]] = field(default_factory=list)

    def install(self, consumers: list[Consumer]) -> None:
        for consumer in consumers:
            self._originals.append((consumer, dict(consumer._handlers)))
            for event_type, handler in list(consumer._handlers.items()):
                consumer._handlers[event_type] = self._wrap(consumer.name, handler)

    def _wrap(self, name: str, handler: Handler) -> Handler:
        async def buggy(event: Event, delivery: Delivery) -> None:
            if self.rule(name, event):
                self.failed[name].add(delivery.envelope.id)
                raise RuntimeError(f"injected bug: {name} cannot handle {delivery.envelope.type}")
            await handler(event, delivery)

        return buggy

    def fix(self) -> None:
        for consumer, handlers in self._originals:
            consumer._handlers.clear()
            consumer._handlers.update(handlers)


async def settle(check: Callable[[], Any], seconds: float = 120.0, interval: float = 0.25) -> Any:
    """Poll ``check`` until truthy (bounded); returns the last value."""
    deadline = asyncio.get_running_loop().time() + seconds
    value = await check()
    while not value and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(interval)
        value = await check()
    return value
