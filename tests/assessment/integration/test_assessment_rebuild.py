"""The read models written by commands equal what the projection rebuilds from the event store."""

from __future__ import annotations

import pytest

from tessera_shared.testing.apps import eventually
from tests.assessment.integration.assessment_world import AMSTERDAM, GENT, OFFERING, result_body, running_world

pytestmark = pytest.mark.integration


async def test_rebuilding_the_records_projection_reproduces_the_read_models(servers, tokens) -> None:
    learners = [f"p-{n}" for n in range(30)]
    async with running_world(servers, tokens, learners=learners) as world:
        gent, url = world.assessor(GENT), f"/offerings/{OFFERING}/results"
        ids = []
        for n, learner in enumerate(learners[:6]):
            r = await world.client.post(url, json=result_body(learner, "DATA101", str(8 + n)), headers=gent)
            ids.append(r.json()["result_id"])
        await world.client.post(url, json=result_body("p-0", "DATA101", "14", attempt=2), headers=gent)
        await world.client.post(
            f"/results/{ids[1]}/corrections",
            json={"reason": "r", "grade": "A", "scheme_id": "ects-letter"},
            headers=gent,
        )
        await world.client.post(f"/results/{ids[2]}/withdrawal", json={"reason": "w"}, headers=gent)
        await world.client.post(
            f"/offerings/{OFFERING}/attendance",
            json={
                "learner_id": "p-3",
                "component_code": "STAT201",
                "percentage": 75,
                "period_start": "2025-10-01",
                "period_end": "2025-12-01",
            },
            headers=world.assessor(AMSTERDAM),
        )
        body = "learner_id,component_code,attempt,grade,assessed_on\n" + "".join(
            f"{learner},DATA102,1,{n % 21},2026-01-22\n" for n, learner in enumerate(learners)
        )
        r = await world.client.post(
            f"{url}/uploads", content=body, headers={**gent, "Content-Type": "text/csv", "Idempotency-Key": "k"}
        )
        assert r.status_code == 201 and r.json()["accepted"] == 30

        runtime = world.service.runtime
        assert runtime.projections is not None
        projection = runtime.projections.by_name("assessment-records")

        async def caught_up() -> bool:
            lag = await world.fetchval(
                """SELECT (SELECT max(global_position) FROM events)
                          - (SELECT position FROM projection_checkpoints WHERE projection = 'assessment-records')"""
            )
            return lag == 0

        assert await eventually(caught_up)
        written = await world.snapshot("records", "results")
        assert len(written["results"]) == 6 + 1 + 30 and len(written["records"]) == 6 + 1 + 30
        replayed = await runtime.projections.rebuild(projection)
        assert replayed == await world.fetchval("SELECT count(*) FROM events")
        assert await world.snapshot("records", "results") == written
