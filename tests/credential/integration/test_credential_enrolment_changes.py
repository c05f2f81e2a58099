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


async def test_the_one_statement_enrolment_write_applies_the_rank_rule_the_handler_decides_with(
    servers, namespace, tokens
):
    # state.advance_enrolment applies ordering.later_status in SQL; the handler decides with it in
    # Python on what stood before: for every stored status (or none), admission (or none) and event
    from datetime import UTC, datetime

    from tessera_credential.adapters.state import advance_enrolment
    from tessera_credential.domain.ordering import EnrolmentStatus, Position, later_status

    then, now = datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)
    statuses = list(EnrolmentStatus)
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        pool = svc.runtime.pool
        cases = 0
        for before in [None, *statuses]:
            for admitted_before in (None, then) if before is not None else (None,):
                for incoming in statuses:
                    admission = now if incoming is EnrolmentStatus.ADMITTED else None
                    enrolment = f"e-{cases}"
                    cases += 1
                    async with pool.acquire() as conn, conn.transaction():
                        await conn.execute(  # another enrolment of the learner in the offering
                            "INSERT INTO award_enrolments VALUES ($1, 'l', 'o', 'mc', 1, 'cancelled', NULL, 'x', $2)",
                            f"other-{enrolment}",
                            then,
                        )
                        if before is not None:
                            await conn.execute(
                                "INSERT INTO award_enrolments VALUES ($1, 'l', 'o', 'mc', 1, $2, $3, 'old', $4)",
                                enrolment,
                                before.value,
                                admitted_before,
                                then,
                            )
                        current, count = await advance_enrolment(
                            conn,
                            enrolment_id=enrolment,
                            learner_id="l",
                            offering_id="o",
                            mc_id="mc",
                            version=1,
                            status=incoming,
                            admitted_at=admission,
                            pos=Position("s", 1, now, "new"),
                        )
                        stored = await conn.fetchrow(
                            "SELECT status, admitted_at, event_id FROM award_enrolments WHERE enrolment_id = $1",
                            enrolment,
                        )
                        await conn.execute("DELETE FROM award_enrolments")
                    assert current == ((before, admitted_before) if before is not None else None)
                    assert count == 2  # this one and the other, counted once
                    status = later_status(before, incoming)
                    admitted = admitted_before or admission
                    changed = before is None or status != before or (admitted_before is None and admission is not None)
                    assert (stored["status"], stored["admitted_at"]) == (status.value, admitted), (before, incoming)
                    assert stored["event_id"] == ("new" if changed else "old")
        assert cases == len(statuses) * (1 + 2 * len(statuses))
