"""The catalogue's API as the integration tests use it: tokens per role and institution, the
builders' example data as JSON, waiting for the read models, reading what reached JetStream."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
from nats.js.errors import NotFoundError

from tessera_catalogue.adapters.projections import projections
from tessera_shared.contract.terms import seed_refund_policy
from tessera_shared.contract.topology import stream_name
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.apps import RunningService, Tokens, eventually
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, HEIDELBERG, LEUVEN, draft_data, profile

__all__ = ["AMSTERDAM", "GENT", "HEIDELBERG", "LEUVEN", "CatalogueApi", "academic_year_of", "draft_data", "terms_data"]


def academic_year_of(day: date) -> str:
    """The academic year (1 August - 31 July) a day falls in."""
    year = day.year if day.month >= 8 else day.year - 1
    return f"{year}-{year + 1}"


def terms_data(**changes: Any) -> dict[str, Any]:
    """The seed offering: 2025-2026, full year, EUR 37.50 per ECTS, the seed's dated refund rules."""
    data: dict[str, Any] = {
        "academic_year": "2025-2026",
        "period": "full_year",
        "starts_on": "2025-09-22",
        "ends_on": "2026-06-30",
        "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-09-15"},
        "capacity": 50,
        "schedule": {"en": "Tuesday evenings 18:00-21:00, online", "nl": "Dinsdagavond 18:00-21:00, online"},
        "attendance": {"compulsory": True, "description": {"en": "Both lab weekends are compulsory."}},
        "tariff": {"kind": "per_ects", "rate": "37.50"},
        "refund_policy": seed_refund_policy("2025-2026").model_dump(mode="json"),
    }
    data.update(changes)
    return data


class CatalogueApi:
    def __init__(self, service: RunningService, tokens: Tokens, nats_url: str, namespace: str) -> None:
        self.service = service
        self.client: httpx.AsyncClient = service.client
        self.tokens = tokens
        self.nats_url = nats_url
        self.namespace = namespace

    # --- who calls ------------------------------------------------------------------------------

    def operator(self) -> dict[str, str]:
        return self.tokens.headers("op-1", ["operator"])

    def editor(self, institution: str) -> dict[str, str]:
        return self.tokens.headers(f"editor@{institution}", ["catalogue-editor"], institution)

    # --- commands -------------------------------------------------------------------------------

    async def register(self, *institutions: str) -> None:
        for institution in institutions:
            r = await self.client.post(
                "/institutions", json=profile(institution).model_dump(mode="json"), headers=self.operator()
            )
            assert r.status_code == 201, r.text

    async def post(
        self, path: str, as_: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST as a catalogue editor of ``as_``."""
        return await self.client.post(path, json=body, headers={**self.editor(as_), **(headers or {})})

    async def publish_micro_credential(
        self,
        mc_id: str,
        coordinator: str = GENT,
        approvers: tuple[str, ...] = (GENT, AMSTERDAM, HEIDELBERG),
        **changes: Any,
    ) -> dict[str, Any]:
        """Draft, propose, every partner approves, publish: version 1 (or the next)."""
        r = await self.post(
            "/micro-credentials", coordinator, {"micro_credential_id": mc_id, "content": draft_data(**changes)}
        )
        assert r.status_code == 201, r.text
        r = await self.post(f"/micro-credentials/{mc_id}/propose", coordinator)
        assert r.status_code == 200, r.text
        for partner in approvers:
            r = await self.post(f"/micro-credentials/{mc_id}/approve", partner)
            assert r.status_code == 200, r.text
        r = await self.post(f"/micro-credentials/{mc_id}/publish", coordinator)
        assert r.status_code == 200, r.text
        return r.json()

    async def schedule(
        self, offering_id: str, mc_id: str, version: int = 1, as_: str = GENT, **terms: Any
    ) -> dict[str, Any]:
        body = {
            "offering_id": offering_id,
            "micro_credential_id": mc_id,
            "version": version,
            "terms": terms_data(**terms),
        }
        r = await self.post("/offerings", as_, body)
        assert r.status_code == 201, r.text
        return r.json()

    # --- reads ----------------------------------------------------------------------------------

    async def caught_up(self) -> None:
        """Wait until every projection has applied every event committed so far."""
        runtime = self.service.runtime

        async def done() -> bool:
            async with runtime.pool.acquire() as conn:
                last = await conn.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
                rows = await conn.fetch("SELECT projection, position FROM projection_checkpoints")
            positions = {r["projection"]: r["position"] for r in rows}
            return all(positions.get(p.name, -1) >= last for p in projections())

        assert await eventually(done, seconds=20), "projections did not catch up"

    async def public(self, path: str, **params: Any) -> httpx.Response:
        headers = params.pop("headers", {})
        return await self.client.get(path, params=params, headers=headers)

    async def stream(self, minimum: int = 0) -> list[dict[str, Any]]:
        """Every CloudEvent in the catalogue's JetStream stream, in order (waiting for ``minimum``)."""
        name = stream_name("catalogue", self.namespace)

        async def read() -> list[dict[str, Any]]:
            nc = await connect(self.nats_url)
            try:
                js = nc.jetstream()
                try:
                    info = await js.stream_info(name)
                except NotFoundError:
                    return []
                messages = []
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    if info.state.messages == 0:
                        break
                    msg = await js.get_msg(name, seq)
                    messages.append({**json.loads(msg.data or b"{}"), "_subject": msg.subject})
                return messages
            finally:
                await nc.close()

        async def enough() -> list[dict[str, Any]] | None:
            found = await read()
            return found if len(found) >= minimum else None

        return (await eventually(enough, seconds=20)) or await read()
