"""The app factory end to end: HTTP → event store + outbox → JetStream → another service's consumer.

Also checks health, metrics, problem+json, correlation ids flowing into events, and JWT auth.
"""

import asyncio
import time

import httpx
import pytest
from fastapi import APIRouter, Depends

from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel import db
from tessera_shared.kernel import runtime as runtime_module
from tessera_shared.kernel.app import create_app
from tessera_shared.kernel.auth import (
    Principal,
    ensure_same_institution,
    generate_keypair,
    mint_token,
    require,
)
from tessera_shared.kernel.consumer import ConsumerSpec
from tessera_shared.kernel.runtime import ServiceDefinition
from tessera_shared.kernel.settings import ServiceSettings
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.integration
PRIVATE, PUBLIC = generate_keypair()


def settings(servers, namespace, name, database):
    return ServiceSettings(
        service_name=name,
        database_url=db.with_database(servers.database_url, database),
        nats_url=servers.nats_url,
        nats_namespace=namespace,
        token_public_key=PUBLIC.decode(),
        relay_poll_seconds=0.2,
        consumer_backoff_seconds=0.05,
        log_format="console",
    )


def producer(s: ServiceSettings) -> ServiceDefinition:
    router = APIRouter()

    @router.post("/institutions/{institution}/things/{thing_id}", status_code=201)
    async def record(
        institution: str, thing_id: str, n: int, principal: Principal = Depends(require("assessor"))
    ) -> dict:
        ensure_same_institution(principal, institution)
        runtime = app_state["app"].state.runtime
        async with runtime.pool.acquire() as conn, conn.transaction():
            stored = await runtime.store.append(conn, thing_id, None, [ThingHappened(thing_id=thing_id, n=n)])
        return {"event_id": stored[0].event_id}

    app_state: dict = {}
    definition = ServiceDefinition(name="kerneltest", title="producer", settings=s, routers=[router])
    definition.services["state"] = app_state
    return definition


def consumer(s: ServiceDefinition) -> ServiceDefinition:
    async def handle(event: ThingHappened, delivery) -> None:
        await delivery.conn.execute(
            "CREATE TABLE IF NOT EXISTS seen (event_id text PRIMARY KEY, correlation text, n int)"
        )
        await delivery.conn.execute(
            "INSERT INTO seen VALUES ($1, $2, $3)", delivery.envelope.id, delivery.envelope.correlationid, event.n
        )

    return ServiceDefinition(
        name="tester",
        title="consumer",
        settings=s,
        consumers=[ConsumerSpec(Subscription("tester", "kerneltest"), {ThingHappened: handle})],
    )


async def test_event_crosses_services_with_its_correlation_id(servers, namespace, monkeypatch):
    settled: list[int] = []  # each started service settles its heap with its setting (kernel/heap.py)
    monkeypatch.setattr(runtime_module.heap, "settle", settled.append)
    switch_intervals: list[float] = []  # and shortens the interpreter's switch interval (kernel/own_loop.py)
    monkeypatch.setattr(runtime_module.own_loop, "set_switch_interval", switch_intervals.append)
    names = {"p": f"{namespace}_p", "c": f"{namespace}_c"}
    pdef = producer(settings(servers, namespace, "kerneltest", names["p"]))
    papp = create_app(pdef)
    pdef.services["state"]["app"] = papp
    capp = create_app(consumer(settings(servers, namespace, "tester", names["c"])))
    token = mint_token(PRIVATE, subject="a1", roles=["assessor"], institution="ugent.be")
    try:
        async with papp.router.lifespan_context(papp), capp.router.lifespan_context(capp):
            async with (
                httpx.AsyncClient(transport=httpx.ASGITransport(app=papp), base_url="http://p") as p,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=capp), base_url="http://c") as c,
            ):
                assert (await p.get("/health/live")).status_code == 200
                assert settled == [10_000, 10_000] and switch_intervals == [1.0, 1.0]
                ready = await _until_ready(c)
                assert ready["status"] == "ok", ready
                r = await p.post(
                    "/institutions/ugent.be/things/t1?n=7",
                    headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": "corr-42"},
                )
                assert r.status_code == 201, r.text
                assert r.headers["X-Correlation-ID"] == "corr-42"
                event_id = r.json()["event_id"]
                runtime = capp.state.runtime
                row = None
                for _ in range(200):
                    async with runtime.pool.acquire() as conn:
                        if await conn.fetchval("SELECT to_regclass('seen') IS NOT NULL"):
                            row = await conn.fetchrow("SELECT * FROM seen WHERE event_id = $1", event_id)
                    if row:
                        break
                    await asyncio.sleep(0.05)
                assert row is not None and row["n"] == 7 and row["correlation"] == "corr-42"
                operator = mint_token(PRIVATE, subject="op", roles=["operator"])
                status = await c.get("/admin/status", headers={"Authorization": f"Bearer {operator}"})
                assert status.status_code == 200, status.text
                body = status.json()
                assert body["consumers"]["tester--kerneltest"]["ready"] is True
                assert body["dead_letters"] == {} and body["last_event"] is None  # the consumer stores no events
                assert (await c.get("/admin/status", headers={"Authorization": f"Bearer {token}"})).status_code == 403
                metrics = (await p.get("/metrics")).text
                assert 'tessera_events_published_total{service="kerneltest"}' in metrics
                problem = await p.post(
                    "/institutions/ugent.be/things/t1?n=notanumber", headers={"Authorization": f"Bearer {token}"}
                )
                assert problem.status_code == 422
                assert problem.headers["content-type"] == "application/problem+json"
                assert problem.json()["errors"][0]["field"] == "n"
    finally:
        for name in names.values():
            await db.drop_database(db.with_database(servers.database_url, name))


async def _until_ready(client):
    for _ in range(100):
        r = await client.get("/health/ready")
        if r.status_code == 200:
            return r.json()
        await asyncio.sleep(0.1)
    return r.json()


@pytest.mark.parametrize(
    ("token_kind", "status"),
    [
        ("none", 401),
        ("garbage", 401),
        ("wrong_signature", 401),
        ("expired", 401),
        ("wrong_role", 403),
        ("other_institution", 403),
        ("learner", 403),
        ("ok", 201),
        ("operator_elsewhere", 403),
    ],
)
async def test_jwt_checks(servers, namespace, token_kind, status):
    other_private, _ = generate_keypair()
    now = time.time()
    tokens = {
        "none": None,
        "garbage": "not.a.jwt",
        "wrong_signature": mint_token(other_private, subject="a", roles=["assessor"], institution="ugent.be"),
        "expired": mint_token(PRIVATE, subject="a", roles=["assessor"], institution="ugent.be", now=now - 7200),
        "wrong_role": mint_token(PRIVATE, subject="a", roles=["registrar"], institution="ugent.be"),
        "other_institution": mint_token(PRIVATE, subject="a", roles=["assessor"], institution="uva.nl"),
        "learner": mint_token(PRIVATE, subject="l-1", roles=["learner"]),
        "ok": mint_token(PRIVATE, subject="a", roles=["assessor"], institution="ugent.be"),
        "operator_elsewhere": mint_token(PRIVATE, subject="op", roles=["operator"], institution="consortium"),
    }
    database = f"{namespace}_auth"
    definition = producer(settings(servers, namespace, "kerneltest", database))
    app = create_app(definition)
    definition.services["state"]["app"] = app
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as client:
                headers = {"Authorization": f"Bearer {tokens[token_kind]}"} if tokens[token_kind] else {}
                r = await client.post("/institutions/ugent.be/things/x?n=1", headers=headers)
                assert r.status_code == status, r.text
                if status >= 400:
                    assert r.headers["content-type"] == "application/problem+json"
    finally:
        await db.drop_database(db.with_database(servers.database_url, database))
