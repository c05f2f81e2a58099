"""Who sees which results: learners their own, assessors their institution's components, the
coordinator the whole offering; keyset paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.assessment.integration.assessment_world import (
    AMSTERDAM,
    GENT,
    MUNICH,
    OFFERING,
    World,
    result_body,
    running_world,
)

pytestmark = pytest.mark.integration

LEARNERS = ["r-1", "r-2", "r-3", "r-4", "r-5"]
URL = f"/offerings/{OFFERING}/results"


@pytest.fixture(scope="module")
async def world(servers, tokens) -> AsyncIterator[World]:
    async with running_world(servers, tokens, learners=LEARNERS) as w:
        plan = [(GENT, "DATA101", "12", learner) for learner in LEARNERS]
        plan += [(AMSTERDAM, "STAT201", "6.5", learner) for learner in LEARNERS[:3]]
        plan += [(MUNICH, "ML301", "2.0", "r-1")]
        for institution, component, grade, learner in plan:
            r = await w.client.post(URL, json=result_body(learner, component, grade), headers=w.assessor(institution))
            assert r.status_code == 201, r.text
        yield w


async def keys(world: World, headers: dict[str, str], url: str = URL) -> list[tuple[str, str]]:
    r = await world.client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    return [(i["learner_id"], i["component_code"]) for i in r.json()["items"]]


async def a_result(world: World, learner: str, component: str) -> dict[str, Any]:
    r = await world.client.get(
        f"{URL}?learner_id={learner}&component_code={component}", headers=world.staff("registrar", GENT)
    )
    [item] = r.json()["items"]
    return item


async def test_learners_see_their_own_results_only(world: World) -> None:
    me = world.learner("r-1")
    assert await keys(world, me, "/me/results") == [("r-1", "DATA101"), ("r-1", "ML301"), ("r-1", "STAT201")]
    assert await keys(world, me) == [("r-1", "DATA101"), ("r-1", "ML301"), ("r-1", "STAT201")]
    assert await keys(world, world.learner("r-5"), "/me/results") == [("r-5", "DATA101")]
    assert await keys(world, world.learner("r-unknown"), "/me/results") == []
    other = await world.client.get(f"{URL}?learner_id=r-2", headers=me)
    assert other.status_code == 403 and other.json()["errors"][0]["field"] == "learner_id"
    theirs = await a_result(world, "r-2", "DATA101")
    assert (await world.client.get(f"/results/{theirs['result_id']}", headers=me)).status_code == 403
    mine = await a_result(world, "r-1", "STAT201")
    r = await world.client.get(f"/results/{mine['result_id']}", headers=me)
    assert r.status_code == 200 and r.json()["grade"] == "6.5"
    assert (await world.client.get("/me/results", headers=world.assessor(GENT))).status_code == 403


async def test_assessors_see_the_components_their_institution_teaches(world: World) -> None:
    uva = world.assessor(AMSTERDAM)
    assert await keys(world, uva) == [("r-1", "STAT201"), ("r-2", "STAT201"), ("r-3", "STAT201")]
    assert await keys(world, uva, f"{URL}?component_code=DATA101") == []
    gent_result = await a_result(world, "r-1", "DATA101")
    r = await world.client.get(f"/results/{gent_result['result_id']}", headers=uva)
    assert r.status_code == 403
    assert {c for _, c in await keys(world, world.assessor(GENT))} == {"DATA101"}
    assert len(await keys(world, world.assessor(GENT))) == 5
    # a partner registrar is scoped like its assessors; an outsider sees nothing
    assert {c for _, c in await keys(world, world.staff("registrar", AMSTERDAM))} == {"STAT201"}
    outsider = await world.client.get(URL, headers=world.assessor("uni-other.eu"))
    assert outsider.status_code == 403
    assert (await world.client.get(URL)).status_code == 401


async def test_the_coordinator_and_operators_see_the_whole_offering(world: World) -> None:
    everything = [(learner, "DATA101") for learner in LEARNERS]
    everything += [("r-1", "ML301"), ("r-1", "STAT201"), ("r-2", "STAT201"), ("r-3", "STAT201")]
    everything.sort()
    for headers in (world.staff("registrar", GENT), world.staff("catalogue-editor", GENT), world.operator()):
        assert await keys(world, headers) == everything
    # the coordinator's assessors are assessors: their own components only
    assert {c for _, c in await keys(world, world.assessor(GENT))} == {"DATA101"}
    offering = await world.client.get(f"/offerings/{OFFERING}", headers=world.staff("registrar", GENT))
    assert offering.json()["coordinator_id"] == GENT


async def test_paging_walks_every_result_once(world: World) -> None:
    coordinator = world.staff("registrar", GENT)
    seen: list[tuple[str, str]] = []
    cursor, pages = None, 0
    while True:
        url = f"{URL}?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = (await world.client.get(url, headers=coordinator)).json()
        seen += [(i["learner_id"], i["component_code"]) for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == await keys(world, coordinator) and len(seen) == 9
    mine = (await world.client.get("/me/results?limit=2", headers=world.learner("r-1"))).json()
    rest = (
        await world.client.get(f"/me/results?limit=2&cursor={mine['next_cursor']}", headers=world.learner("r-1"))
    ).json()
    assert [i["component_code"] for i in mine["items"] + rest["items"]] == ["DATA101", "ML301", "STAT201"]
    assert rest["next_cursor"] is None
    bad = await world.client.get(f"{URL}?cursor=bm9wZQ", headers=coordinator)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"
    too_big = await world.client.get(f"{URL}?limit=5000", headers=coordinator)
    assert too_big.status_code == 422
