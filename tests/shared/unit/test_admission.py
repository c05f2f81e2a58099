"""Admission control: at most N requests in flight; beyond the deadline a 503 with Retry-After,
before the request has done anything; operations endpoints are never refused."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tessera_shared.kernel.admission import REQUESTS_REFUSED, AdmissionMiddleware

pytestmark = pytest.mark.unit


def _app(max_in_flight: int, queue_seconds: float) -> tuple[AdmissionMiddleware, asyncio.Event, list[str]]:
    release = asyncio.Event()
    done: list[str] = []

    async def slow(request: Request) -> JSONResponse:
        await release.wait()
        done.append(request.path_params["name"])
        return JSONResponse({"ok": True})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    inner = Starlette(routes=[Route("/work/{name}", slow, methods=["POST"]), Route("/health/live", health)])
    return (
        AdmissionMiddleware(inner, service="test", max_in_flight=max_in_flight, queue_seconds=queue_seconds),
        release,
        done,
    )


async def test_a_request_that_cannot_start_in_time_is_refused_with_retry_after_and_nothing_done():
    app, release, done = _app(max_in_flight=2, queue_seconds=0.2)
    refused_before = REQUESTS_REFUSED.labels("test")._value.get()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        running = [asyncio.create_task(client.post(f"/work/{i}")) for i in range(2)]
        await asyncio.sleep(0.05)  # both hold a slot
        third = await client.post("/work/late")
        assert third.status_code == 503
        assert third.headers["retry-after"] == "1"
        assert third.headers["content-type"].startswith("application/problem+json")
        body = third.json()
        assert body["status"] == 503 and "retry after 1 s" in body["detail"]
        assert (await client.get("/health/live")).status_code == 200  # operators still get through
        release.set()
        assert [r.status_code for r in await asyncio.gather(*running)] == [200, 200]
        assert (await client.post("/work/after")).status_code == 200  # slots were given back
    assert sorted(done) == ["0", "1", "after"]  # the refused request never ran
    assert REQUESTS_REFUSED.labels("test")._value.get() == refused_before + 1


async def test_a_request_waits_for_a_slot_that_frees_within_its_deadline():
    app, release, _ = _app(max_in_flight=1, queue_seconds=5.0)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        first = asyncio.create_task(client.post("/work/first"))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(client.post("/work/second"))
        await asyncio.sleep(0.1)
        release.set()
        assert [r.status_code for r in await asyncio.gather(first, second)] == [200, 200]


async def test_zero_turns_admission_control_off():
    app, release, _ = _app(max_in_flight=0, queue_seconds=0.01)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        many = [asyncio.create_task(client.post(f"/work/{i}")) for i in range(20)]
        await asyncio.sleep(0.1)
        release.set()
        assert {r.status_code for r in await asyncio.gather(*many)} == {200}


def test_only_the_operations_paths_themselves_are_exempt():
    from tessera_shared.kernel.admission import _exempt

    assert _exempt("/health/live") and _exempt("/metrics") and _exempt("/admin/status") and _exempt("/health")
    assert not _exempt("/healthy") and not _exempt("/administrators") and not _exempt("/offerings/x/results")
