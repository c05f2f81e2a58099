"""Seats under concurrency: capacity is never exceeded, the waitlist is first come first served, and
freed seats are promoted automatically."""

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def _register_many(svc, prefix: str, n: int) -> list[str]:
    ids = [f"{prefix}-{i:03d}" for i in range(n)]
    await asyncio.gather(*(svc.register(i) for i in ids))
    return ids


async def _seats(svc, offering_id: str) -> dict:
    r = await svc.client.get(f"/offerings/{offering_id}", headers=svc.operator())
    return r.json()["seats"]


async def _arrival_order(svc, offering_id: str) -> list[str]:
    """Enrolment ids in the order their requests were decided (global position of 'requested')."""
    events = await svc.events("tessera.enrolment.enrolment.requested.v1")
    return [e["data"]["enrolment_id"] for e in events if e["data"]["offering_id"] == offering_id]


async def test_200_concurrent_requests_for_50_seats(svc):
    await svc.open("off-cap", capacity=50)
    learners = await _register_many(svc, "cap", 200)

    responses = await asyncio.gather(*(svc.enrol(learner, "off-cap") for learner in learners))

    assert all(r.status_code == 201 for r in responses), {r.status_code for r in responses}
    by_id = {r.json()["enrolment_id"]: r.json() for r in responses}
    statuses = [e["status"] for e in by_id.values()]
    assert statuses.count("admitted") == 50
    assert statuses.count("waitlisted") == 150
    order = await _arrival_order(svc, "off-cap")
    assert len(order) == 200
    # the first 50 to arrive have the seats; the other 150 wait in arrival order, tickets 1..150
    assert {by_id[i]["status"] for i in order[:50]} == {"admitted"}
    assert [by_id[i]["waitlist_position"] for i in order[50:]] == list(range(1, 151))
    assert all(by_id[i]["fee_eur"] == "288.75" for i in order[:50])
    assert await _seats(svc, "off-cap") == {"capacity": 50, "taken": 50, "available": 0, "waitlisted": 150}

    # one cancellation frees one seat: the first on the waitlist is promoted and admitted
    admitted, waiting = order[:50], order[50:]
    first = by_id[admitted[0]]
    r = await svc.client.post(f"/enrolments/{first['enrolment_id']}/cancel", headers=svc.learner(first["learner_id"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    promoted = await svc.client.get(f"/enrolments/{waiting[0]}", headers=svc.operator())
    assert promoted.json()["status"] == "admitted" and promoted.json()["route"] == "waitlist"
    assert promoted.json()["fee_eur"] == "288.75"
    nxt = await svc.client.get(f"/enrolments/{waiting[1]}", headers=svc.operator())
    assert nxt.json()["status"] == "waitlisted" and nxt.json()["waitlist_place"] == 1

    # five concurrent cancellations: exactly five promotions, in ticket order, never above capacity
    cancelling = [by_id[i] for i in admitted[1:6]]
    results = await asyncio.gather(
        *(
            svc.client.post(f"/enrolments/{e['enrolment_id']}/cancel", headers=svc.learner(e["learner_id"]))
            for e in cancelling
        )
    )
    assert [r.status_code for r in results] == [200] * 5
    after = {
        i: (await svc.client.get(f"/enrolments/{i}", headers=svc.operator())).json()["status"] for i in waiting[:8]
    }
    assert [after[i] for i in waiting[:8]] == ["admitted"] * 6 + ["waitlisted"] * 2
    assert await _seats(svc, "off-cap") == {"capacity": 50, "taken": 50, "available": 0, "waitlisted": 144}
    promotions = await svc.events("tessera.enrolment.enrolment.promoted.v1")
    assert [p["data"]["position"] for p in promotions] == [1, 2, 3, 4, 5, 6]
    async with svc.pool.acquire() as conn:
        admitted_rows = await conn.fetchval(
            "SELECT count(*) FROM enrolments WHERE offering_id = 'off-cap' AND status = 'admitted'"
        )
    assert admitted_rows == 50


async def test_full_offering_without_waitlist_is_409_and_writes_nothing(svc):
    await svc.open("off-small", capacity=2, waitlist=False)
    learners = await _register_many(svc, "small", 3)
    first = [await svc.enrol(learner, "off-small") for learner in learners[:2]]
    assert [r.json()["status"] for r in first] == ["admitted", "admitted"]
    before = len(await svc.events())

    r = await svc.enrol(learners[2], "off-small")

    assert r.status_code == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "full" in r.json()["detail"]
    assert len(await svc.events()) == before
    mine = await svc.client.get("/enrolments", headers=svc.learner(learners[2]))
    assert mine.json()["total"] == 0


async def test_the_database_refuses_more_seats_than_the_capacity(svc):
    """The seats row's CHECK holds even against a write that bypasses the application."""
    import asyncpg

    await svc.open("off-check", capacity=1)
    async with svc.pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute("UPDATE offering_seats SET taken = 2 WHERE offering_id = 'off-check'")


async def test_the_database_refuses_a_second_active_enrolment(svc):
    """One active enrolment per learner and offering is a unique index, not only a check in Python."""
    import asyncpg

    await svc.open("off-uniq")
    await svc.register("uniq-1")
    first = (await svc.enrol("uniq-1", "off-uniq")).json()
    async with svc.pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                """INSERT INTO enrolments (enrolment_id, learner_id, offering_id, micro_credential_id,
                       micro_credential_version, status, requested_at, requested_by, consent, version, updated_at)
                   SELECT 'twin', learner_id, offering_id, micro_credential_id, micro_credential_version,
                          'waitlisted', requested_at, requested_by, consent, 1, updated_at
                   FROM enrolments WHERE enrolment_id = $1""",
                first["enrolment_id"],
            )
