"""Helpers for the enrolment service's integration tests: tokens, catalogue/credential events in,
waiting for the consumers, reading the event store."""

from __future__ import annotations

from typing import Any

import httpx

from tessera_enrolment.application.deps import Deps
from tessera_enrolment.domain.clock import Clock
from tessera_shared.contract.base import Event
from tessera_shared.testing.apps import RunningService, Tokens, eventually, publish_events
from tessera_shared.testing.servers import Servers
from tests.enrolment.enrolment_builders import COORDINATOR, consent, open_offering


class Enrolment:
    def __init__(self, running: RunningService, servers: Servers, namespace: str, tokens: Tokens) -> None:
        self.running = running
        self.servers = servers
        self.namespace = namespace
        self.tokens = tokens
        self.client: httpx.AsyncClient = running.client

    @property
    def deps(self) -> Deps:
        deps: Deps = self.running.app.state.services["deps"]
        return deps

    @property
    def clock(self) -> Clock:
        return self.deps.clock

    @property
    def pool(self) -> Any:
        return self.running.runtime.pool

    # ------------------------------------------------------------------------------ tokens

    def learner(self, learner_id: str, institution: str | None = None) -> dict[str, str]:
        return self.tokens.headers(learner_id, ["learner"], institution)

    def registrar(self, institution: str = COORDINATOR, subject: str | None = None) -> dict[str, str]:
        return self.tokens.headers(subject or f"registrar@{institution}", ["registrar"], institution)

    def operator(self) -> dict[str, str]:
        return self.tokens.headers("operator-1", ["operator"])

    # ------------------------------------------------------------------------- events in

    async def publish(self, events: list[tuple[Event, str]]) -> list[str]:
        return await publish_events(self.servers.nats_url, self.namespace, events)

    async def offering_status(self, offering_id: str) -> str | None:
        r = await self.client.get(f"/offerings/{offering_id}", headers=self.operator())
        return r.json()["status"] if r.status_code == 200 else None

    async def wait_status(self, offering_id: str, status: str) -> None:
        async def check() -> bool:
            return await self.offering_status(offering_id) == status

        assert await eventually(check), f"offering {offering_id} never became {status}"

    async def open(self, offering_id: str, mc_id: str | None = None, **kw: Any) -> None:
        await self.publish(open_offering(offering_id, mc_id or f"mc-{offering_id}", **kw))
        await self.wait_status(offering_id, "open")

        async def version_known() -> bool:
            r = await self.client.get(f"/offerings/{offering_id}", headers=self.operator())
            return r.json().get("prerequisites") is not None

        assert await eventually(version_known)

    async def wait_consumed(self, seconds: float = 20.0) -> None:
        """Until both consumers have nothing pending."""

        async def idle() -> bool:
            return all([await c.lag_is_zero() for c in self.running.runtime.consumers])

        assert await eventually(idle, seconds=seconds)

    # --------------------------------------------------------------------------- commands

    async def register(self, learner_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "given_name": fields.pop("given_name", "Ada"),
            "family_name": fields.pop("family_name", "Lovelace"),
            "email": fields.pop("email", f"{learner_id}@example.org"),
            **fields,
        }
        r = await self.client.post("/learners", json=body, headers=self.learner(learner_id))
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def enrol(self, learner_id: str, offering_id: str, **extra: Any) -> httpx.Response:
        body = {"offering_id": offering_id, "consent": consent(), **extra}
        return await self.client.post("/enrolments", json=body, headers=self.learner(learner_id))

    # ------------------------------------------------------------------------ event store

    async def events(self, *types: str) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT global_position, stream_id, event_type, data FROM events "
                "WHERE cardinality($1::text[]) = 0 OR event_type = ANY($1) ORDER BY global_position",
                list(types),
            )
        return [dict(r) for r in rows]
