"""Every grading scale's boundaries through the API: what is accepted, how it is written, its
normalised score and pass flag — and what is refused (422 naming the grade field)."""

from __future__ import annotations

from collections.abc import AsyncIterator

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

COMPONENT_OF = {GENT: "DATA101", AMSTERDAM: "STAT201", MUNICH: "ML301"}
OK, NO = True, False

# (teaching institution, scheme, native text sent, expected native | None if refused, score, passed)
CASES = [
    # Flemish 0-20, whole marks, pass >= 10
    (GENT, "be-flemish-0-20", "0", "0", 0.0, NO),
    (GENT, "be-flemish-0-20", "9", "9", 0.45, NO),
    (GENT, "be-flemish-0-20", "10", "10", 0.5, OK),
    (GENT, "be-flemish-0-20", "10.0", "10", 0.5, OK),
    (GENT, "be-flemish-0-20", "20", "20", 1.0, OK),
    (GENT, "be-flemish-0-20", "-1", None, None, None),
    (GENT, "be-flemish-0-20", "21", None, None, None),
    (GENT, "be-flemish-0-20", "9.5", None, None, None),
    (GENT, "be-flemish-0-20", "14/20", None, None, None),
    # Dutch 1-10, one decimal, pass >= 5.5
    (AMSTERDAM, "nl-1-10", "1.0", "1.0", 0.0, NO),
    (AMSTERDAM, "nl-1-10", "5.4", "5.4", 0.488888, NO),
    (AMSTERDAM, "nl-1-10", "5,5", "5.5", 0.5, OK),
    (AMSTERDAM, "nl-1-10", "10", "10.0", 1.0, OK),
    (AMSTERDAM, "nl-1-10", "0.9", None, None, None),
    (AMSTERDAM, "nl-1-10", "10.1", None, None, None),
    (AMSTERDAM, "nl-1-10", "5.55", None, None, None),
    # German examination grades: lower is better, pass <= 4.0, official steps only
    (MUNICH, "de-1-5", "1.0", "1.0", 1.0, OK),
    (MUNICH, "de-1-5", "1,3", "1.3", 0.95, OK),
    (MUNICH, "de-1-5", "4.0", "4.0", 0.5, OK),
    (MUNICH, "de-1-5", "5", "5.0", 0.0, NO),
    (MUNICH, "de-1-5", "4.3", None, None, None),
    (MUNICH, "de-1-5", "2.5", None, None, None),
    (MUNICH, "de-1-5", "0.7", None, None, None),
    (MUNICH, "de-1-5", "5.3", None, None, None),
    # German computed means
    (MUNICH, "de-1-5-mean", "4.0", "4.0", 0.5, OK),
    (MUNICH, "de-1-5-mean", "4.1", "4.1", 0.45, NO),
    (MUNICH, "de-1-5-mean", "5.1", None, None, None),
    # ECTS letters
    (GENT, "ects-letter", "A", "A", 1.0, OK),
    (GENT, "ects-letter", "e", "E", 0.5, OK),
    (GENT, "ects-letter", "FX", "FX", 0.25, NO),
    (GENT, "ects-letter", "F", "F", 0.0, NO),
    (GENT, "ects-letter", "G", None, None, None),
    # percentages with the pass mark in the scheme id
    (GENT, "percentage-50", "0", "0.0", 0.0, NO),
    (GENT, "percentage-50", "49.9", "49.9", 0.499, NO),
    (GENT, "percentage-50", "50", "50.0", 0.5, OK),
    (GENT, "percentage-50", "100", "100.0", 1.0, OK),
    (GENT, "percentage-50", "100.1", None, None, None),
    (GENT, "percentage-50", "50.05", None, None, None),
    (GENT, "percentage-60", "59.9", "59.9", 0.499166, NO),
    (GENT, "percentage-60", "60", "60.0", 0.5, OK),
    (AMSTERDAM, "percentage-55", "54.9", "54.9", 0.499090, NO),
    (AMSTERDAM, "percentage-55", "55", "55.0", 0.5, OK),
    # pass / fail
    (GENT, "pass-fail", "pass", "pass", 1.0, OK),
    (GENT, "pass-fail", "Niet geslaagd", "fail", 0.0, NO),
    (GENT, "pass-fail", "maybe", None, None, None),
]
LEARNERS = [f"s-{n}" for n in range(len(CASES))]


@pytest.fixture(scope="module")
async def world(servers, tokens) -> AsyncIterator[World]:
    async with running_world(servers, tokens, learners=LEARNERS) as w:
        yield w


@pytest.mark.parametrize(("n", "case"), list(enumerate(CASES)), ids=[f"{c[1]}:{c[2]}" for c in CASES])
async def test_scale_boundaries_through_the_api(world: World, n: int, case: tuple) -> None:
    institution, scheme_id, sent, native, score, passed = case
    body = result_body(LEARNERS[n], COMPONENT_OF[institution], sent, scheme_id=scheme_id)
    r = await world.client.post(f"/offerings/{OFFERING}/results", json=body, headers=world.assessor(institution))
    if native is None:
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "grade"
        assert sent in r.json()["detail"]
        return
    assert r.status_code == 201, r.text
    result = r.json()
    assert (result["grade"], result["scheme_id"], result["normalised_score"], result["passed"]) == (
        native,
        scheme_id,
        score,
        passed,
    )
    stored = (await world.client.get(f"/results/{result['result_id']}", headers=world.learner(LEARNERS[n]))).json()
    assert (stored["grade"], stored["normalised_score"], stored["passed"]) == (native, score, passed)
