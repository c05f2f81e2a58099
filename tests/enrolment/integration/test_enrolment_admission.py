"""Admission requirements: required micro-credentials held (valid) or not (revoked, missing), and the
diploma-level route through the coordinator's registrar."""

import json

import pytest

from tests.enrolment.enrolment_builders import COORDINATOR, PARTNER, awarded, revoked, superseded

pytestmark = pytest.mark.integration

REQUIRES_BASICS = {"kind": "micro_credentials", "micro_credential_ids": ["mc-basics"]}
DIPLOMA_6 = {"kind": "diploma_level", "diploma_eqf_level": 6}


async def test_a_required_credential_held_admits_and_a_revoked_one_rejects(svc):
    await svc.open("off-adv", prerequisites=REQUIRES_BASICS)
    for learner in ("holder", "revoked", "revoked-first", "superseded", "never"):
        await svc.register(learner)
    await svc.publish(
        [
            awarded("holder", "mc-basics", "off-basics-2024", award_id="a-holder"),
            awarded("revoked", "mc-basics", "off-basics-2024", award_id="a-revoked"),
            revoked("revoked", "mc-basics", "off-basics-2024", "a-revoked"),
            # the revocation overtakes the award: still not a valid credential
            revoked("revoked-first", "mc-basics", "off-basics-2024", "a-rf"),
            awarded("revoked-first", "mc-basics", "off-basics-2024", award_id="a-rf"),
            # superseded by a corrected award of the same micro-credential: still held
            awarded("superseded", "mc-basics", "off-basics-2024", award_id="a-old"),
            superseded("superseded", "mc-basics", "off-basics-2024", "a-old", by="a-new"),
            awarded("superseded", "mc-basics", "off-basics-2024", award_id="a-new", supersedes="a-old"),
        ]
    )
    await svc.wait_consumed()

    results = {
        learner: (await svc.enrol(learner, "off-adv")).json()
        for learner in ("holder", "revoked", "revoked-first", "superseded", "never")
    }

    assert {k: v["status"] for k, v in results.items()} == {
        "holder": "admitted",
        "revoked": "rejected",
        "revoked-first": "rejected",
        "superseded": "admitted",
        "never": "rejected",
    }
    assert results["revoked"]["reason"] == "requires a valid credential for: mc-basics"
    assert results["holder"]["route"] == "direct" and results["holder"]["fee_eur"] == "288.75"
    rejected = await svc.events("tessera.enrolment.enrolment.rejected.v1")
    assert {e["data"]["rejected_by"] for e in rejected} == {None}

    # a rejection does not block a later request: once the credential is held, the learner is admitted
    await svc.publish([awarded("never", "mc-basics", "off-basics-2025", award_id="a-never")])
    await svc.wait_consumed()
    again = await svc.enrol("never", "off-adv")
    assert again.status_code == 201 and again.json()["status"] == "admitted"


async def test_a_diploma_is_declared_and_reviewed_by_the_coordinators_registrar(svc):
    await svc.open("off-dip", prerequisites=DIPLOMA_6, capacity=1)
    for learner in ("dip-1", "dip-2", "dip-3"):
        await svc.register(learner)

    missing = await svc.enrol("dip-1", "off-dip")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "diploma"
    too_low = await svc.enrol("dip-1", "off-dip", diploma={"title": "Associate degree", "eqf_level": 5})
    assert too_low.status_code == 422 and too_low.json()["errors"][0]["field"] == "diploma.eqf_level"

    diploma = {"title": "MSc Computer Science", "eqf_level": 7, "awarded_by": "Universiteit Gent", "year": 2019}
    pending = [(await svc.enrol(f"dip-{i}", "off-dip", diploma=diploma)).json() for i in (1, 2, 3)]
    assert [p["status"] for p in pending] == ["pending_review"] * 3
    assert pending[0]["declared_diploma"]["title"] == "MSc Computer Science"
    assert pending[0]["fee_eur"] is None  # no fee before admission
    first, second, third = (p["enrolment_id"] for p in pending)

    partner = await svc.client.post(
        f"/enrolments/{first}/review", json={"decision": "admit"}, headers=svc.registrar(PARTNER)
    )
    assert partner.status_code == 403
    learner = await svc.client.post(
        f"/enrolments/{first}/review", json={"decision": "admit"}, headers=svc.learner("dip-1")
    )
    assert learner.status_code == 403

    ok = await svc.client.post(
        f"/enrolments/{first}/review", json={"decision": "admit"}, headers=svc.registrar(COORDINATOR)
    )
    assert ok.status_code == 200, ok.text
    assert (ok.json()["status"], ok.json()["route"], ok.json()["fee_eur"]) == ("admitted", "review", "288.75")

    # accepted, but the only seat is taken: waitlisted
    full = await svc.client.post(
        f"/enrolments/{second}/review", json={"decision": "admit"}, headers=svc.registrar(COORDINATOR)
    )
    assert (full.json()["status"], full.json()["waitlist_position"]) == ("waitlisted", 1)

    no_reason = await svc.client.post(
        f"/enrolments/{third}/review", json={"decision": "reject"}, headers=svc.registrar(COORDINATOR)
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    rejected = await svc.client.post(
        f"/enrolments/{third}/review",
        json={"decision": "reject", "reason": "the diploma is not in a related field"},
        headers=svc.registrar(COORDINATOR),
    )
    assert (rejected.json()["status"], rejected.json()["reason"]) == (
        "rejected",
        "the diploma is not in a related field",
    )
    twice = await svc.client.post(
        f"/enrolments/{first}/review", json={"decision": "reject", "reason": "x"}, headers=svc.registrar(COORDINATOR)
    )
    assert twice.status_code == 409

    # the declared diploma is personal data: events carry the level only
    events = await svc.events()
    assert "MSc Computer Science" not in json.dumps([e["data"] for e in events])
    reviews = await svc.events("tessera.enrolment.enrolment.pending-review.v1")
    assert {(e["data"]["declared_eqf_level"], e["data"]["required_eqf_level"]) for e in reviews} == {(7, 6)}
