"""Fees at admission and refunds from the offering's dated policy on the cancellation date (the seed's
rules: before 1 December full; until 14 March the second-semester credits; from 15 March none), and
the full refund when the coordinator cancels the whole offering."""

from datetime import UTC, datetime

import pytest

from tessera_shared.contract import catalogue as cat
from tessera_shared.testing.apps import eventually
from tests.enrolment.enrolment_builders import COORDINATOR, ENROL_DAY, lifecycle

pytestmark = pytest.mark.integration

# (the instant of cancellation, the calendar date in Brussels, refund, rule)
SEED_DATES = [
    (datetime(2025, 11, 30, 12, 0, tzinfo=UTC), "2025-11-30", "288.75", "full"),
    # 23:30 UTC on 30 November is already 1 December in Brussels: the consortium's calendar counts
    (datetime(2025, 11, 30, 23, 30, tzinfo=UTC), "2025-12-01", "120.00", "second_semester_credits"),
    (datetime(2025, 12, 1, 9, 0, tzinfo=UTC), "2025-12-01", "120.00", "second_semester_credits"),
    (datetime(2026, 3, 14, 12, 0, tzinfo=UTC), "2026-03-14", "120.00", "second_semester_credits"),
    (datetime(2026, 3, 15, 12, 0, tzinfo=UTC), "2026-03-15", "0.00", "none"),
]


async def test_refunds_follow_the_seed_dates(svc):
    await svc.open("off-ref")
    admitted = []
    for i in range(len(SEED_DATES)):
        await svc.register(f"ref-{i}")
        r = await svc.enrol(f"ref-{i}", "off-ref")
        assert r.json()["status"] == "admitted" and r.json()["fee_eur"] == "288.75"
        admitted.append(r.json())

    for enrolment, (at, day, refund, rule) in zip(admitted, SEED_DATES, strict=True):
        svc.clock.freeze(at)
        r = await svc.client.post(
            f"/enrolments/{enrolment['enrolment_id']}/cancel",
            json={"reason": "changed my mind"},
            headers=svc.learner(enrolment["learner_id"]),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["cancellation_date"], body["refund_eur"], body["refund_rule"]) == (
            "cancelled",
            day,
            refund,
            rule,
        ), at
        assert body["fee_eur"] == "288.75" and body["reason"] == "changed my mind"

    cancelled = await svc.events("tessera.enrolment.enrolment.cancelled.v1")
    assert [(e["data"]["cancellation_date"], e["data"]["refund_eur"]) for e in cancelled] == [
        (day, refund) for _, day, refund, _ in SEED_DATES
    ]


async def test_a_registrar_cancels_for_a_learner_and_a_stranger_cannot(svc):
    await svc.open("off-reg")
    await svc.register("reg-1")
    enrolment = (await svc.enrol("reg-1", "off-reg")).json()
    url = f"/enrolments/{enrolment['enrolment_id']}/cancel"

    assert (await svc.client.post(url, headers=svc.learner("someone-else"))).status_code == 403
    assert (await svc.client.post(url, headers=svc.registrar("kuleuven.be"))).status_code == 403
    r = await svc.client.post(url, headers=svc.registrar("uva.nl"))
    assert r.status_code == 200 and r.json()["ended_by"] == "registrar@uva.nl"
    assert (await svc.client.post(url, headers=svc.registrar("uva.nl"))).status_code == 409  # already cancelled


async def test_the_coordinator_cancelling_the_offering_refunds_everyone_in_full(svc):
    await svc.open("off-gone", capacity=2)
    for i in range(3):
        await svc.register(f"gone-{i}")
    statuses = [(await svc.enrol(f"gone-{i}", "off-gone")).json()["status"] for i in range(3)]
    assert statuses == ["admitted", "admitted", "waitlisted"]

    svc.clock.freeze(datetime(2026, 4, 1, 12, 0, tzinfo=UTC))  # long after the learners' own refunds end
    await svc.publish([lifecycle(cat.OfferingCancelled, "off-gone", "mc-off-gone", reason="too few teachers")])
    await svc.wait_status("off-gone", "cancelled")

    async def all_cancelled():
        r = await svc.client.get("/enrolments", params={"offering_id": "off-gone"}, headers=svc.operator())
        items = r.json()["items"]
        return items if all(e["status"] == "cancelled" for e in items) else None

    items = await eventually(all_cancelled)
    assert items, "enrolments were not cancelled"
    items.sort(key=lambda e: e["learner_id"])
    assert [(e["refund_eur"], e["refund_rule"]) for e in items] == [
        ("288.75", "offering_cancelled"),
        ("288.75", "offering_cancelled"),
        ("0.00", "nothing_charged"),
    ]
    assert all(e["reason"] == "offering cancelled: too few teachers" for e in items)
    events = await svc.events("tessera.enrolment.enrolment.cancelled.v1")
    assert {e["data"]["offering_cancelled"] for e in events} == {True}
    assert not await svc.events("tessera.enrolment.enrolment.promoted.v1")  # nobody promoted into a dead offering
    seats = (await svc.client.get("/offerings/off-gone", headers=svc.operator())).json()["seats"]
    assert seats["taken"] == 0

    svc.clock.freeze(ENROL_DAY)
    await svc.register("gone-late")
    r = await svc.enrol("gone-late", "off-gone")
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


async def test_a_registrar_withdraws_a_learner_without_refund_and_the_seat_is_promoted(svc):
    await svc.open("off-wd", capacity=1)
    await svc.register("wd-1")
    await svc.register("wd-2")
    first = (await svc.enrol("wd-1", "off-wd")).json()
    second = (await svc.enrol("wd-2", "off-wd")).json()
    url = f"/enrolments/{first['enrolment_id']}/withdraw"

    assert (await svc.client.post(url, headers=svc.learner("wd-1"))).status_code == 403
    r = await svc.client.post(url, json={"reason": "attendance not met"}, headers=svc.registrar(COORDINATOR))

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["refund_eur"], r.json()["fee_eur"]) == ("withdrawn", None, "288.75")
    promoted = await svc.client.get(f"/enrolments/{second['enrolment_id']}", headers=svc.learner("wd-2"))
    assert promoted.json()["status"] == "admitted"
