"""Recording, correcting and withdrawing results and attendance through the API, against real
NATS JetStream and PostgreSQL: the authorisation matrix, scheme rules, resit and correction
histories, and the events on the ASSESSMENT stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest

from tessera_shared.contract import catalogue as cat
from tessera_shared.testing.apps import eventually
from tests.assessment.integration.assessment_world import (
    AMSTERDAM,
    GENT,
    LEUVEN,
    MUNICH,
    OFFERING,
    World,
    admitted,
    cancelled,
    completed,
    lifecycle,
    offering_scheduled,
    result_body,
    running_world,
    waitlisted,
)

pytestmark = pytest.mark.integration

LEARNERS = [f"l-{n}" for n in range(1, 21)]


@pytest.fixture(scope="module")
async def world(servers, tokens) -> AsyncIterator[World]:
    extra = [
        waitlisted("l-wait"),
        admitted("l-gone"),
        cancelled("l-gone"),
        admitted("l-done"),
        completed("l-done"),
        offering_scheduled("OFF-OLD"),
        lifecycle(cat.OfferingCancelled, "OFF-OLD", reason="too few learners"),
        admitted("l-1", "OFF-OLD"),
    ]
    async with running_world(servers, tokens, learners=LEARNERS, extra_events=extra) as w:
        yield w


async def post(world: World, body: dict[str, Any], headers: dict[str, str], offering: str = OFFERING) -> Any:
    return await world.client.post(f"/offerings/{offering}/results", json=body, headers=headers)


def field_of(response: Any) -> str | None:
    errors = response.json().get("errors") or [{}]
    return errors[0].get("field")


async def test_an_assessor_records_a_result_of_a_component_their_institution_teaches(world: World) -> None:
    r = await post(world, result_body("l-1", "DATA101", "14", remarks="good work"), world.assessor(GENT))
    assert r.status_code == 201, r.text
    result = r.json()
    assert r.headers["Location"] == f"/results/{result['result_id']}"
    assert result | {"result_id": None} == {
        "result_id": None,
        "learner_id": "l-1",
        "offering_id": OFFERING,
        "component_code": "DATA101",
        "micro_credential_id": "mc-data",
        "micro_credential_version": 1,
        "attempt": 1,
        "grade": "14",
        "scheme_id": "be-flemish-0-20",  # the teaching institution's default
        "scheme_kind": "numeric",
        "normalised_score": 0.7,
        "passed": True,
        "assessed_on": "2026-01-20",
        "assessor_id": f"assessor@{GENT}",
        "assessor_institution": GENT,
        "remarks": "good work",
        "status": "effective",
        "original": {
            "grade": "14",
            "scheme_id": "be-flemish-0-20",
            "scheme_kind": "numeric",
            "normalised_score": 0.7,
            "passed": True,
        },
        "corrections": [],
        "withdrawal": None,
        "effective_result_id": result["result_id"],
    }
    stored = await world.client.get(f"/results/{result['result_id']}", headers=world.assessor(GENT))
    assert stored.status_code == 200
    assert stored.json() == {k: v for k, v in result.items() if k != "effective_result_id"}


@pytest.mark.parametrize(
    ("who", "learner", "component", "status", "field"),
    [
        (("assessor", GENT), "l-2", "DATA101", 201, None),  # own component
        (("assessor", AMSTERDAM), "l-2", "STAT201", 201, None),  # the partner's own component
        (("assessor", AMSTERDAM), "l-3", "DATA101", 403, "component_code"),  # partner's component
        (("assessor", GENT), "l-3", "STAT201", 403, "component_code"),
        (("assessor", GENT), "l-nobody", "DATA101", 404, "learner_id"),  # not enrolled
        (("assessor", GENT), "l-wait", "DATA101", 422, "learner_id"),  # waitlisted, not admitted
        (("assessor", GENT), "l-gone", "DATA101", 422, "learner_id"),  # admitted, then cancelled
        (("assessor", GENT), "l-done", "DATA101", 201, None),  # completed counts as admitted
        (("assessor", GENT), "l-3", "NOPE999", 404, "component_code"),  # not in the offering's version
        (("registrar", GENT), "l-3", "DATA101", 403, None),  # the role records nothing
        (("catalogue-editor", GENT), "l-3", "DATA101", 403, None),
        (("operator", "consortium.eu"), "l-3", "DATA101", 403, None),
        (("learner", None), "l-3", "DATA101", 403, None),
        (None, "l-3", "DATA101", 401, None),
        # a partner teaching nothing in the offering
        (("assessor", "uni-other.eu"), "l-3", "DATA101", 403, "component_code"),
    ],
)
async def test_authorisation_matrix_for_recording(
    world: World, who: tuple[str, str | None] | None, learner: str, component: str, status: int, field: str | None
) -> None:
    if who is None:
        headers: dict[str, str] = {}
    elif who[0] == "learner":
        headers = world.learner("l-3")
    else:
        headers = world.tokens.headers(f"{who[0]}@{who[1]}", [who[0]], who[1])
    grade = "7.0" if component == "STAT201" else "12"
    r = await post(world, result_body(learner, component, grade), headers)
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.headers["content-type"] == "application/problem+json"
    if field:
        assert field_of(r) == field, r.text


async def test_unknown_and_cancelled_offerings_are_refused(world: World) -> None:
    r = await post(world, result_body("l-3", "DATA101", "12"), world.assessor(GENT), offering="OFF-NOWHERE")
    assert r.status_code == 404 and field_of(r) == "offering_id"
    r = await post(world, result_body("l-1", "DATA101", "12"), world.assessor(GENT), offering="OFF-OLD")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


async def test_scheme_defaults_explicit_schemes_and_bad_input(world: World) -> None:
    gent = world.assessor(GENT)

    async def expect(body: dict[str, Any], status: int, field: str | None = None, headers: Any = None) -> Any:
        r = await post(world, body, headers or gent)
        assert r.status_code == status, r.text
        if field:
            assert field_of(r) == field, r.text
        return r.json()

    letter = await expect(result_body("l-4", "DATA101", "b", scheme_id="ects-letter"), 201)
    assert (letter["grade"], letter["scheme_id"], letter["normalised_score"]) == ("B", "ects-letter", 0.875)
    await expect(result_body("l-4", "DATA102", "7.5", scheme_id="nl-1-10"), 422, "scheme_id")  # not ugent's
    await expect(result_body("l-4", "DATA102", "7.5", scheme_id="nl-1-100"), 422, "scheme_id")  # unknown
    await expect(result_body("l-4", "DATA102", "21"), 422, "grade")  # out of range
    await expect(result_body("l-4", "DATA102", "14,5"), 422, "grade")  # Flemish marks are whole
    await expect(result_body("l-4", "DATA102", "veertien"), 422, "grade")
    await expect(result_body("l-4", "DATA102", ""), 422, "grade")
    await expect(result_body("l-4", "DATA102", "14", attempt=0), 422, "attempt")
    await expect(result_body("l-4", "DATA102", "14", assessed_on="2026-02-30"), 422, "assessed_on")
    future = (date.today() + timedelta(days=3)).isoformat()
    await expect(result_body("l-4", "DATA102", "14", assessed_on=future), 422, "assessed_on")
    await expect(result_body("l-4", "DATA102", "14", colour="blue"), 422, "colour")
    percent = await expect(result_body("l-4", "DATA102", 59.9, scheme_id="percentage-60"), 201)  # a JSON number
    assert (percent["grade"], percent["passed"]) == ("59.9", False)
    # kuleuven.be never registered: no default scheme, any known scheme when named
    leuven = world.assessor(LEUVEN)
    await expect(result_body("l-4", "LAW101", "pass"), 422, "scheme_id", headers=leuven)
    passed = await expect(result_body("l-4", "LAW101", "Geslaagd", scheme_id="pass-fail"), 201, headers=leuven)
    assert (passed["grade"], passed["normalised_score"], passed["passed"]) == ("pass", 1.0, True)
    munich = await expect(result_body("l-4", "ML301", "2,3"), 201, headers=world.assessor(MUNICH))
    assert (munich["grade"], munich["scheme_id"], munich["normalised_score"]) == ("2.3", "de-1-5", 0.783333)


async def test_resits_supersede_and_keep_history(world: World) -> None:
    gent = world.assessor(GENT)
    first = (await post(world, result_body("l-5", "DATA101", "8"), gent)).json()
    assert (first["status"], first["passed"]) == ("effective", False)
    resit = await post(world, result_body("l-5", "DATA101", "11", attempt=2, assessed_on="2026-06-25"), gent)
    assert resit.status_code == 201, resit.text
    again = await post(world, result_body("l-5", "DATA101", "15", attempt=2), gent)
    assert again.status_code == 409 and field_of(again) == "attempt"
    earlier = await post(world, result_body("l-5", "DATA101", "15", attempt=1), gent)
    assert earlier.status_code == 409
    page = (await world.client.get(f"/offerings/{OFFERING}/results?learner_id=l-5", headers=gent)).json()
    assert [(r["attempt"], r["grade"], r["status"]) for r in page["items"]] == [
        (1, "8", "superseded"),
        (2, "11", "effective"),
    ]
    effective = (
        await world.client.get(f"/offerings/{OFFERING}/results?learner_id=l-5&status=effective", headers=gent)
    ).json()
    assert [r["result_id"] for r in effective["items"]] == [resit.json()["result_id"]]


async def test_corrections_and_withdrawals_keep_who_why_and_history(world: World) -> None:
    gent = world.assessor(GENT, "assessor-2@ugent.be")
    first = (await post(world, result_body("l-6", "DATA101", "9"), gent)).json()
    resit = (await post(world, result_body("l-6", "DATA101", "12", attempt=2), gent)).json()
    url = f"/results/{resit['result_id']}"

    r = await world.client.post(f"{url}/corrections", json={"reason": "recount", "grade": "13"}, headers=gent)
    assert r.status_code == 200, r.text
    corrected = r.json()
    assert (corrected["grade"], corrected["normalised_score"], corrected["status"]) == ("13", 0.65, "effective")
    assert corrected["original"]["grade"] == "12"
    assert corrected["corrections"] == [
        {
            "reason": "recount",
            "corrected_by": "assessor-2@ugent.be",
            "corrected_by_institution": GENT,
            "previous": {
                "grade": "12",
                "scheme_id": "be-flemish-0-20",
                "scheme_kind": "numeric",
                "normalised_score": 0.6,
                "passed": True,
                "assessed_on": "2026-01-20",
            },
            "corrected": {
                "grade": "13",
                "scheme_id": "be-flemish-0-20",
                "scheme_kind": "numeric",
                "normalised_score": 0.65,
                "passed": True,
                "assessed_on": "2026-01-20",
            },
            "remarks": None,
        }
    ]
    # into another of ugent's schemes, with new remarks
    r = await world.client.post(
        f"{url}/corrections",
        json={"reason": "graded on the letter scale", "grade": "c", "scheme_id": "ects-letter", "remarks": "appeal"},
        headers=gent,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["grade"], r.json()["scheme_id"], r.json()["remarks"]) == ("C", "ects-letter", "appeal")
    assert len(r.json()["corrections"]) == 2

    refused = [
        ({"reason": "same", "grade": "C", "scheme_id": "ects-letter"}, gent, 422),  # changes nothing
        ({"reason": "bad", "grade": "Q", "scheme_id": "ects-letter"}, gent, 422),
        ({"reason": "x", "scheme_id": "pass-fail"}, gent, 422),  # a scheme without its grade
        ({"reason": "", "grade": "14"}, gent, 422),
        ({"reason": "not mine", "grade": "14"}, world.assessor(AMSTERDAM), 403),
        ({"reason": "learner", "grade": "14"}, world.learner("l-6"), 403),
    ]
    for body, headers, status in refused:
        r = await world.client.post(f"{url}/corrections", json=body, headers=headers)
        assert r.status_code == status, (body, r.text)
    missing = await world.client.post("/results/nope/corrections", json={"reason": "x", "grade": "1"}, headers=gent)
    assert missing.status_code == 404

    r = await world.client.post(f"{url}/withdrawal", json={"reason": "fraud"}, headers=world.assessor(AMSTERDAM))
    assert r.status_code == 403
    r = await world.client.post(f"{url}/withdrawal", json={"reason": "exam annulled"}, headers=gent)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert r.json()["withdrawal"] == {
        "reason": "exam annulled",
        "withdrawn_by": "assessor-2@ugent.be",
        "withdrawn_by_institution": GENT,
    }
    assert r.json()["effective_result_id"] == first["result_id"]  # the first attempt counts again
    again = await world.client.post(f"{url}/withdrawal", json={"reason": "twice"}, headers=gent)
    assert again.status_code == 409
    late = await world.client.post(f"{url}/corrections", json={"reason": "late", "grade": "A"}, headers=gent)
    assert late.status_code == 409

    history = (await world.client.get(f"/offerings/{OFFERING}/results?learner_id=l-6", headers=gent)).json()
    assert [(r["attempt"], r["grade"], r["status"], len(r["corrections"])) for r in history["items"]] == [
        (1, "9", "effective", 0),
        (2, "C", "withdrawn", 2),
    ]
    # a withdrawn attempt's number is free again
    rerun = await post(world, result_body("l-6", "DATA101", "10", attempt=2), gent)
    assert rerun.status_code == 201, rerun.text


async def test_concurrent_commands_on_one_record_are_decided_one_after_the_other(world: World) -> None:
    """Commands on the same record race (each loads, then appends at the version it loaded): the
    losers are decided again on the new state, so the same attempt is recorded once, and different
    changes all land, in a gap-free stream with its outbox rows and read models."""
    gent = world.assessor(GENT)
    same = await asyncio.gather(*(post(world, result_body("l-10", "DATA101", str(g)), gent) for g in (7, 8, 9)))
    assert sorted(r.status_code for r in same) == [201, 409, 409], [r.text for r in same]
    assert all(field_of(r) == "attempt" for r in same if r.status_code == 409)
    first = next(r.json() for r in same if r.status_code == 201)

    resit, correction, attendance = await asyncio.gather(
        post(world, result_body("l-10", "DATA101", "12", attempt=2), gent),
        world.client.post(
            f"/results/{first['result_id']}/corrections", json={"reason": "recount", "grade": "6"}, headers=gent
        ),
        world.client.post(
            f"/offerings/{OFFERING}/attendance",
            json={
                "learner_id": "l-10",
                "component_code": "DATA101",
                "percentage": 75,
                "period_start": "2025-09-22",
                "period_end": "2026-01-10",
            },
            headers=gent,
        ),
    )
    assert (resit.status_code, correction.status_code, attendance.status_code) == (201, 200, 201), (
        resit.text,
        correction.text,
        attendance.text,
    )
    stream = f"assessment-record:{OFFERING}:DATA101:l-10"
    events = await world.fetch(
        """SELECT e.stream_version, (o.event_id IS NOT NULL) AS in_outbox FROM events e
           LEFT JOIN outbox o ON o.event_id = e.event_id WHERE e.stream_id = $1 ORDER BY 1""",
        stream,
    )
    assert [(e["stream_version"], e["in_outbox"]) for e in events] == [(v, True) for v in (1, 2, 3, 4)]
    assert await world.fetchval("SELECT version FROM records WHERE stream_id = $1", stream) == 4
    rows = await world.fetch(
        "SELECT attempt, grade, status, record_version FROM results WHERE stream_id = $1 ORDER BY attempt", stream
    )
    assert [tuple(r) for r in rows] == [(1, "6", "superseded", 4), (2, "12", "effective", 4)]


async def test_attendance_per_component(world: World) -> None:
    gent = world.assessor(GENT)
    url = f"/offerings/{OFFERING}/attendance"
    body = {
        "learner_id": "l-7",
        "component_code": "DATA101",
        "percentage": 62.5,
        "period_start": "2025-09-22",
        "period_end": "2025-11-30",
    }
    r = await world.client.post(url, json=body, headers=gent)
    assert r.status_code == 201, r.text
    assert r.json()["current"]["percentage"] == 62.5
    later = {**body, "percentage": 80, "period_end": "2026-01-10", "remarks": "caught up"}
    r = await world.client.post(url, json=later, headers=gent)
    assert r.status_code == 201, r.text
    assert (r.json()["current"]["percentage"], r.json()["current"]["period_end"]) == (80.0, "2026-01-10")

    for changed, status in [
        ({"component_code": "STAT201"}, 403),
        ({"learner_id": "l-nobody"}, 404),
        ({"percentage": 101}, 422),
        ({"period_end": "2025-09-01"}, 422),  # before period_start
    ]:
        r = await world.client.post(url, json={**body, **changed}, headers=gent)
        assert r.status_code == status, (changed, r.text)

    own = (await world.client.get(url, headers=world.learner("l-7"))).json()
    assert [(a["component_code"], a["percentage"], len(a["history"])) for a in own["items"]] == [("DATA101", 80.0, 2)]
    other = await world.client.get(f"{url}?learner_id=l-7", headers=world.learner("l-8"))
    assert other.status_code == 403
    assert (await world.client.get(url, headers=world.assessor(AMSTERDAM))).json()["items"] == []
    coordinator = (await world.client.get(url, headers=world.staff("registrar", GENT))).json()
    assert any(a["learner_id"] == "l-7" for a in coordinator["items"])


async def test_every_change_is_published_on_the_assessment_stream(world: World) -> None:
    gent = world.assessor(GENT)
    first = (await post(world, result_body("l-9", "DATA102", "9"), gent)).json()
    resit = (await post(world, result_body("l-9", "DATA102", "16", attempt=2), gent)).json()
    await world.client.post(
        f"/results/{resit['result_id']}/corrections", json={"reason": "typo", "grade": "17"}, headers=gent
    )
    await world.client.post(f"/results/{resit['result_id']}/withdrawal", json={"reason": "annulled"}, headers=gent)
    await world.client.post(
        f"/offerings/{OFFERING}/attendance",
        json={
            "learner_id": "l-9",
            "component_code": "DATA102",
            "percentage": 90,
            "period_start": "2025-09-22",
            "period_end": "2026-01-10",
        },
        headers=gent,
    )

    async def mine() -> list[Any]:
        messages = await world.stream_messages()
        found = [m for m in messages if m.data.get("learner_id") == "l-9"]
        return found if len(found) == 5 else []

    messages = await eventually(mine)
    assert [m.type for m in messages] == [
        "tessera.assessment.result.recorded.v1",
        "tessera.assessment.result.recorded.v1",
        "tessera.assessment.result.corrected.v1",
        "tessera.assessment.result.withdrawn.v1",
        "tessera.assessment.attendance.recorded.v1",
    ]
    recorded = messages[1].data
    for name, value in {
        "result_id": resit["result_id"],
        "learner_id": "l-9",
        "offering_id": OFFERING,
        "component_code": "DATA102",
        "micro_credential_id": "mc-data",
        "micro_credential_version": 1,
        "attempt": 2,
        "grade": "16",
        "scheme_id": "be-flemish-0-20",
        "scheme_kind": "numeric",
        "normalised_score": 0.8,
        "passed": True,
        "supersedes_result_id": first["result_id"],
    }.items():
        assert recorded[name] == value, name
    assert recorded["effective"]["result_id"] == resit["result_id"]
    assert messages[2].data["previous_grade"] == "16" and messages[2].data["grade"] == "17"
    assert messages[2].data["corrected_by"] == f"assessor@{GENT}"
    assert messages[3].data["effective"]["result_id"] == first["result_id"]
    assert messages[4].data["percentage"] == 90.0
    assert all(m.source == "/tessera/assessment" and m.correlationid for m in messages)
