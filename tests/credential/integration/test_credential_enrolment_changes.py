"""Enrolment changes that cannot change a decision are stored without a re-evaluation
(``ordering.decides_nothing``): above all the enrolment service's ``EnrolmentCompleted`` after this
service's own award, one per credential. With a second enrolment in the offering, or a change that
matters, the learner-offering is re-evaluated as before. Real JetStream and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.credential.integration.credential_award_support import (
    Assessment,
    awards_of,
    credential_service,
    enrolment_event,
    offering_scheduled,
    publish,
    publish_envelopes,
    rows,
    wait_settled,
)

pytestmark = pytest.mark.integration


async def awarded(servers: Any, namespace: str, svc: Any, learner: str, admissions: list[tuple[str, str]]) -> str:
    """``learner`` admitted (as ``(kind, enrolment id)`` events, in order) to off-a, then passing it;
    returns the award id."""
    await publish(
        servers,
        namespace,
        [enrolment_event(kind, learner, "off-a", enrolment_id=enrolment) for kind, enrolment in admissions],
    )
    await publish_envelopes(servers.nats_url, namespace, Assessment().passes(learner, "off-a"))
    await wait_settled(svc)
    [award] = await awards_of(svc, learner)
    assert award["status"] == "active"
    return str(award["award_id"])


async def evaluation_of(svc: Any, learner: str, offering: str) -> dict[str, Any] | None:
    """The stored evaluation, with the event that caused it."""
    found = await rows(
        svc,
        """SELECT outcome, met, explanation, evaluated_by, award_id::text FROM award_learner_offerings
           WHERE learner_id = $1 AND offering_id = $2""",
        learner,
        offering,
    )
    return found[0] if found else None


async def status_of(svc: Any, enrolment_id: str) -> str:
    [row] = await rows(svc, "SELECT status FROM award_enrolments WHERE enrolment_id = $1", enrolment_id)
    return str(row["status"])


async def test_completing_the_only_enrolment_is_stored_without_a_re_evaluation(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-a"), "off-a")])
        award_id = await awarded(servers, namespace, svc, "ann", [("admitted", "enr-ann")])
        before = await evaluation_of(svc, "ann", "off-a")
        await publish(
            servers,
            namespace,
            [enrolment_event("completed", "ann", "off-a", enrolment_id="enr-ann", award_id=award_id)],
        )
        await wait_settled(svc)
        assert await status_of(svc, "enr-ann") == "completed"
        assert await evaluation_of(svc, "ann", "off-a") == before  # not evaluated again: evaluated_by kept
        assert [a["award_id"] for a in await awards_of(svc, "ann")] == [award_id]


async def test_with_a_second_enrolment_in_the_offering_a_completion_is_re_evaluated(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-a"), "off-a")])
        # an earlier enrolment, cancelled, then the one admitted: which counts is decided by rank
        admissions = [("admitted", "enr-bo-1"), ("cancelled", "enr-bo-1"), ("admitted", "enr-bo-2")]
        award_id = await awarded(servers, namespace, svc, "bo", admissions)
        before = await evaluation_of(svc, "bo", "off-a")
        [completed] = await publish(
            servers,
            namespace,
            [enrolment_event("completed", "bo", "off-a", enrolment_id="enr-bo-2", award_id=award_id)],
        )
        await wait_settled(svc)
        assert await status_of(svc, "enr-bo-2") == "completed"
        after = await evaluation_of(svc, "bo", "off-a")
        assert after is not None and before is not None
        assert after["evaluated_by"] == completed != before["evaluated_by"]  # evaluated again
        assert after["outcome"] == before["outcome"] == "awarded"
        assert [a["award_id"] for a in await awards_of(svc, "bo")] == [award_id]


async def test_an_enrolment_change_that_matters_is_still_re_evaluated(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-a"), "off-a")])
        await awarded(servers, namespace, svc, "cy", [("admitted", "enr-cy")])
        [withdrawn] = await publish(
            servers, namespace, [enrolment_event("withdrawn", "cy", "off-a", enrolment_id="enr-cy")]
        )
        await wait_settled(svc)
        after = await evaluation_of(svc, "cy", "off-a")
        assert after is not None and after["evaluated_by"] == withdrawn
