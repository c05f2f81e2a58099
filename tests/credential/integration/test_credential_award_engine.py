"""The awarding engine end to end: events on real JetStream -> the credential service's consumers ->
awards in PostgreSQL and credential events on JetStream."""

from datetime import date

import pytest

from tests.credential.integration.credential_award_support import (
    Assessment,
    awards_of,
    credential_events,
    credential_service,
    enrolment_event,
    evaluation_of,
    learner_registered,
    offering_scheduled,
    publish,
    publish_envelopes,
    rows,
    wait_settled,
)

pytestmark = pytest.mark.integration

AWARDED = "tessera.credential.award.awarded.v1"
REVOKED = "tessera.credential.award.revoked.v1"
SUPERSEDED = "tessera.credential.award.superseded.v1"


def of_type(events, event_type, **match):
    return [e for e in events if e.type == event_type and all(e.data.get(k) == v for k, v in match.items())]


async def test_results_delivered_twice_and_out_of_order_award_exactly_once(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1"), learner_registered("ana")])
        await publish(servers, namespace, [enrolment_event("admitted", "ana", "off-1")])
        a = Assessment()
        first_try = a.record("ana", "off-1", "C1", 0.4)  # attempt 1 fails
        resit = a.record("ana", "off-1", "C1", 0.7)  # attempt 2 passes
        c2 = a.record("ana", "off-1", "C2", 0.6)
        c3 = a.record("ana", "off-1", "C3", 0.65)
        newest_first = [c3, resit, c2, first_try]  # the failed attempt arrives after the resit
        await publish_envelopes(servers.nats_url, namespace, newest_first)
        await publish_envelopes(servers.nats_url, namespace, newest_first, redelivery=True)
        await wait_settled(svc)

        [award] = await awards_of(svc, "ana")
        assert award["status"] == "active" and award["offering_id"] == "off-1"
        assert award["grade_summary"]["component_grades"]["C1"]["attempt"] == 2  # the old attempt did not win
        assert award["grade_summary"]["ects_earned"] == "10"
        assert award["explanation"]["met"] is True  # the explanation at award time, stored with it
        assert set(award["explanation"]["contributing_event_ids"]) == {resit.id, c2.id, c3.id}
        handled = await rows(svc, "SELECT event_id FROM inbox WHERE consumer = 'credential--assessment'")
        assert len(handled) == 4  # eight deliveries, four events: the inbox caught the copies
        queue = await rows(svc, "SELECT action, award_id::text FROM issuance_queue")
        assert queue == [{"action": "issue", "award_id": award["award_id"]}]
        profile = await rows(svc, "SELECT profile FROM award_learners WHERE learner_id = 'ana'")
        assert profile[0]["profile"]["email"] == "ana@example.org"  # kept for part 2's badge

        events = await credential_events(servers.nats_url, namespace)
        [awarded] = of_type(events, AWARDED)
        assert awarded.data["award_id"] == award["award_id"] and awarded.subject == f"award-{award['award_id']}"
        assert awarded.data["explanation"] == award["explanation"]


async def test_results_before_the_enrolment_and_before_the_offering_are_kept(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        a = Assessment()
        # ben: results first, then his admission, then (last) the offering itself
        await publish_envelopes(servers.nats_url, namespace, a.passes("ben", "off-1"))
        await wait_settled(svc)
        assert (await evaluation_of(svc, "ben", "off-1"))["outcome"] == "waiting_for_offering"
        await publish(servers, namespace, [enrolment_event("admitted", "ben", "off-1")])
        await wait_settled(svc)
        assert await awards_of(svc, "ben") == []
        # cleo: offering known, results in, no enrolment yet
        await publish_envelopes(servers.nats_url, namespace, a.passes("cleo", "off-1"))
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await wait_settled(svc)

        [ben_award] = await awards_of(svc, "ben")
        assert ben_award["status"] == "active"
        cleo = await evaluation_of(svc, "cleo", "off-1")
        assert cleo["outcome"] == "met_not_admitted" and cleo["met"] is True
        assert await awards_of(svc, "cleo") == []

        await publish(servers, namespace, [enrolment_event("admitted", "cleo", "off-1")])
        await wait_settled(svc)
        [cleo_award] = await awards_of(svc, "cleo")
        assert cleo_award["status"] == "active"
        assert (await evaluation_of(svc, "cleo", "off-1"))["outcome"] == "awarded"


async def test_resit_after_a_fail_awards(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await publish(servers, namespace, [enrolment_event("admitted", "dana", "off-1")])
        a = Assessment()
        failed = a.record("dana", "off-1", "C1", 0.35)
        others = [a.record("dana", "off-1", "C2", 0.6), a.record("dana", "off-1", "C3", 0.65)]
        await publish_envelopes(servers.nats_url, namespace, [failed, *others])
        await wait_settled(svc)

        assert await awards_of(svc, "dana") == []
        evaluation = await evaluation_of(svc, "dana", "off-1")
        assert evaluation["outcome"] == "not_met"
        ects = evaluation["explanation"]["children"][0]
        assert (ects["met"], ects["found"], ects["threshold"]) == (False, "6", "10")
        assert failed.id in ects["contributing_event_ids"]

        resit = a.record("dana", "off-1", "C1", 0.55)
        await publish_envelopes(servers.nats_url, namespace, [resit])
        await wait_settled(svc)
        [award] = await awards_of(svc, "dana")
        assert award["status"] == "active"
        c1 = award["grade_summary"]["component_grades"]["C1"]
        assert (c1["attempt"], c1["normalised_score"]) == (2, 0.55)
        assert resit.id in award["explanation"]["contributing_event_ids"]
        assert failed.id not in award["explanation"]["contributing_event_ids"]


async def test_correction_or_withdrawal_below_threshold_revokes_and_a_later_pass_awards_anew(
    servers, namespace, tokens
):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await publish(
            servers,
            namespace,
            [enrolment_event("admitted", "eva", "off-1"), enrolment_event("admitted", "finn", "off-1")],
        )
        a = Assessment()
        await publish_envelopes(servers.nats_url, namespace, [*a.passes("eva", "off-1"), *a.passes("finn", "off-1")])
        await wait_settled(svc)
        [eva_before] = await awards_of(svc, "eva")
        [finn_before] = await awards_of(svc, "finn")

        correction = a.correct("eva", "off-1", "C2", 0.3)  # below the pass mark
        withdrawal = a.withdraw("finn", "off-1", "C3")  # no result left for C3
        await publish_envelopes(servers.nats_url, namespace, [correction, withdrawal])
        await wait_settled(svc)

        [eva_revoked] = await awards_of(svc, "eva")
        assert eva_revoked["award_id"] == eva_before["award_id"] and eva_revoked["status"] == "revoked"
        assert eva_revoked["end_reason"].startswith("criteria no longer met: ")
        assert "7 of 10 ECTS passed" in eva_revoked["end_reason"]
        [finn_revoked] = await awards_of(svc, "finn")
        assert finn_revoked["award_id"] == finn_before["award_id"]
        assert finn_revoked["status"] == "revoked" and "C3" in finn_revoked["end_reason"]
        assert (await evaluation_of(svc, "eva", "off-1"))["outcome"] == "not_met"

        events = await credential_events(servers.nats_url, namespace)
        [revoked] = of_type(events, REVOKED, award_id=eva_before["award_id"])
        assert revoked.data["reason"] == eva_revoked["end_reason"]
        assert revoked.data["explanation"]["met"] is False
        queue = await rows(svc, "SELECT action FROM issuance_queue WHERE award_id = $1::uuid ORDER BY id", eva_before["award_id"])
        assert [q["action"] for q in queue] == ["issue", "revoke"]

        # a resit passes again: a new award (not a supersession of the revoked one)
        await publish_envelopes(servers.nats_url, namespace, [a.record("eva", "off-1", "C2", 0.6, "uva.nl")])
        await wait_settled(svc)
        revoked_again, new = await awards_of(svc, "eva")
        assert revoked_again["status"] == "revoked" and new["status"] == "active"
        assert new["award_id"] != eva_before["award_id"] and new["supersedes"] is None


async def test_correction_changing_the_grade_supersedes_with_lineage(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await publish(servers, namespace, [enrolment_event("admitted", "gus", "off-1")])
        a = Assessment()
        await publish_envelopes(servers.nats_url, namespace, a.passes("gus", "off-1"))
        await wait_settled(svc)
        [old] = await awards_of(svc, "gus")

        # a date-only correction changes nothing the credential states: no new award
        await publish_envelopes(
            servers.nats_url, namespace, [a.correct("gus", "off-1", "C3", assessed_on=date(2026, 1, 20))]
        )
        await wait_settled(svc)
        assert [x["award_id"] for x in await awards_of(svc, "gus")] == [old["award_id"]]

        correction = a.correct("gus", "off-1", "C1", 0.9)
        await publish_envelopes(servers.nats_url, namespace, [correction])
        await wait_settled(svc)

        by_id = {x["award_id"]: x for x in await awards_of(svc, "gus")}
        assert len(by_id) == 2
        [new] = [x for x in by_id.values() if x["status"] == "active"]
        superseded = by_id[old["award_id"]]
        assert superseded["status"] == "superseded" and superseded["superseded_by"] == new["award_id"]
        assert new["supersedes"] == old["award_id"]
        assert new["grade_summary"]["components"]["C1"] == 0.9
        assert new["grade_summary"]["weighted_average"] == 0.735  # (4*0.9 + 3*0.6 + 3*0.65) / 10
        assert "C1 14 (0.7, attempt 1) -> 18 (0.9, attempt 1)" in superseded["end_reason"]
        assert correction.id in new["explanation"]["contributing_event_ids"]

        events = await credential_events(servers.nats_url, namespace)
        [superseded_event] = of_type(events, SUPERSEDED)
        assert superseded_event.data["award_id"] == old["award_id"]
        assert superseded_event.data["superseded_by"] == new["award_id"]
        assert [e.data["supersedes"] for e in of_type(events, AWARDED)] == [None, old["award_id"]]
        queue = await rows(svc, "SELECT action, award_id::text FROM issuance_queue ORDER BY id")
        assert queue == [
            {"action": "issue", "award_id": old["award_id"]},
            {"action": "supersede", "award_id": old["award_id"]},
            {"action": "issue", "award_id": new["award_id"]},
        ]


async def test_withdrawn_or_cancelled_enrolments_are_never_awarded(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await publish(
            servers,
            namespace,
            [
                enrolment_event("admitted", "hugo", "off-1"),
                enrolment_event("withdrawn", "hugo", "off-1"),
                enrolment_event("cancelled", "iris", "off-1"),  # the cancellation arrives first
                enrolment_event("admitted", "iris", "off-1"),
                enrolment_event("pending_review", "jan", "off-1"),
                enrolment_event("admitted", "kim", "off-1"),  # the control: admitted, awarded
            ],
        )
        await wait_settled(svc)  # the enrolments are known before the results come in
        a = Assessment()
        learners = ("hugo", "iris", "jan", "kim")
        await publish_envelopes(servers.nats_url, namespace, [e for lr in learners for e in a.passes(lr, "off-1")])
        await wait_settled(svc)

        for learner in ("hugo", "iris"):
            assert await awards_of(svc, learner) == []
            evaluation = await evaluation_of(svc, learner, "off-1")
            assert evaluation["outcome"] == "enrolment_ended" and evaluation["met"] is True
        assert await awards_of(svc, "jan") == []
        assert (await evaluation_of(svc, "jan", "off-1"))["outcome"] == "met_not_admitted"
        assert [x["status"] for x in await awards_of(svc, "kim")] == ["active"]

        # kim's enrolment withdrawn after the award (a race with the award): revoked, never kept
        await publish(servers, namespace, [enrolment_event("withdrawn", "kim", "off-1")])
        await wait_settled(svc)
        [kim] = await awards_of(svc, "kim")
        assert kim["status"] == "revoked" and kim["end_reason"] == "enrolment enr-kim-off-1 was withdrawn"


async def test_one_award_per_version_across_editions_and_the_other_edition_takes_over(servers, namespace, tokens):
    """A learner who passes two editions (offerings) of the same version holds one award; when the
    first edition's award is revoked, the second edition's standing awards it."""
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-2025"), "off-2025")])
        await publish(servers, namespace, [(offering_scheduled("off-2026"), "off-2026")])
        await publish(
            servers,
            namespace,
            [enrolment_event("admitted", "uma", "off-2025"), enrolment_event("admitted", "uma", "off-2026")],
        )
        a = Assessment()
        await publish_envelopes(servers.nats_url, namespace, a.passes("uma", "off-2025"))
        await wait_settled(svc)
        await publish_envelopes(servers.nats_url, namespace, a.passes("uma", "off-2026", (0.8, 0.8, 0.8)))
        await wait_settled(svc)

        [first] = await awards_of(svc, "uma")
        assert first["offering_id"] == "off-2025"
        assert (await evaluation_of(svc, "uma", "off-2026"))["outcome"] == "held_via_other_offering"

        await publish_envelopes(servers.nats_url, namespace, [a.correct("uma", "off-2025", "C1", 0.1)])
        await wait_settled(svc)
        revoked, taken_over = await awards_of(svc, "uma")
        assert (revoked["award_id"], revoked["status"]) == (first["award_id"], "revoked")
        assert taken_over["status"] == "active" and taken_over["offering_id"] == "off-2026"
        assert taken_over["grade_summary"]["weighted_average"] == 0.8
        assert (await evaluation_of(svc, "uma", "off-2026"))["outcome"] == "awarded"
