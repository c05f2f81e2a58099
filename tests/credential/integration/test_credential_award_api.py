"""The awards and explanation API over a running service: what it shows and to whom."""

import uuid

import pytest

from tests.credential.integration.credential_award_support import (
    AMSTERDAM,
    GENT,
    LEUVEN,
    Assessment,
    credential_service,
    enrolment_event,
    offering_scheduled,
    publish,
    publish_envelopes,
    wait_settled,
)

pytestmark = pytest.mark.integration


async def test_explanations_and_awards_by_role_and_institution(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [(offering_scheduled("off-1"), "off-1")])
        await publish(
            servers,
            namespace,
            [enrolment_event("admitted", "lea", "off-1"), enrolment_event("admitted", "mo", "off-1")],
        )
        a = Assessment()
        lea_results = a.passes("lea", "off-1")
        mo_results = [a.record("mo", "off-1", "C1", 0.8), a.record("mo", "off-1", "C2", 0.45, AMSTERDAM)]
        await publish_envelopes(servers.nats_url, namespace, [*lea_results, *mo_results])
        await wait_settled(svc)
        client = svc.client

        def learner(sub):
            return tokens.headers(sub, ["learner"])

        def staff(role, institution):
            return tokens.headers(f"{role}@{institution}", [role], institution)

        # the learner: why (not), criterion by criterion
        r = await client.get("/learners/mo/offerings/off-1/explanation", headers=learner("mo"))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["outcome"] == "not_met" and body["met"] is False
        assert body["enrolment"] == {"enrolment_id": "enr-mo-off-1", "status": "admitted"}
        ects, average = body["explanation"]["children"]
        assert (ects["criterion"], ects["met"], ects["found"], ects["threshold"], ects["out_of"]) == (
            "ects_passed",
            False,
            "4",
            "10",
            "10",
        )
        assert average["met"] is False and average["missing"] == ["C3"]
        assert set(ects["contributing_event_ids"]) == {e.id for e in mo_results}
        by_code = {c["code"]: c for c in body["components"]}
        assert by_code["C2"]["result"]["passed"] is False and by_code["C3"]["result"] is None
        assert by_code["C1"]["result_event_ids"] == [mo_results[0].id]

        r = await client.get("/learners/lea/offerings/off-1/explanation", headers=learner("lea"))
        lea = r.json()
        assert lea["outcome"] == "awarded" and lea["award_id"] and lea["held_award_id"] == lea["award_id"]
        assert lea["explanation"]["children"][1]["summary"] == "weighted average 0.655 >= 0.55"

        # who may see lea's explanation
        path = "/learners/lea/offerings/off-1/explanation"
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, headers=learner("mo"))).status_code == 403
        assert (await client.get(path, headers=staff("assessor", AMSTERDAM))).status_code == 200  # a partner
        assert (await client.get(path, headers=staff("registrar", GENT))).status_code == 200  # the coordinator
        assert (await client.get(path, headers=staff("assessor", LEUVEN))).status_code == 403  # not a partner
        assert (await client.get(path, headers=staff("catalogue-editor", GENT))).status_code == 403  # not that role
        assert (await client.get(path, headers=tokens.headers("op", ["operator"]))).status_code == 200
        unknown = await client.get("/learners/lea/offerings/off-9/explanation", headers=learner("lea"))
        assert unknown.status_code == 404

        # awards of a learner
        r = await client.get("/learners/lea/awards", headers=learner("lea"))
        assert r.status_code == 200
        [award] = r.json()["awards"]
        assert award["status"] == "active" and award["grade_summary"]["ects_earned"] == "10"
        assert "explanation" not in award
        assert (await client.get("/learners/lea/awards", headers=learner("mo"))).status_code == 403
        gent = await client.get("/learners/lea/awards", headers=staff("registrar", GENT))
        assert [x["award_id"] for x in gent.json()["awards"]] == [award["award_id"]]
        leuven = await client.get("/learners/lea/awards", headers=staff("registrar", LEUVEN))
        assert leuven.status_code == 200 and leuven.json()["awards"] == []

        # one award, with the explanation stored at award time
        r = await client.get(f"/awards/{award['award_id']}", headers=learner("lea"))
        assert r.status_code == 200
        assert r.json()["explanation"]["met"] is True
        assert set(r.json()["explanation"]["contributing_event_ids"]) == {e.id for e in lea_results}
        assert (await client.get(f"/awards/{award['award_id']}", headers=learner("mo"))).status_code == 403
        assert (await client.get(f"/awards/{award['award_id']}", headers=staff("assessor", LEUVEN))).status_code == 403
        assert (await client.get(f"/awards/{uuid.uuid4()}", headers=learner("lea"))).status_code == 404
        assert (await client.get("/awards/not-a-uuid", headers=learner("lea"))).status_code == 404
        assert (await client.get(f"/pathway-awards/{uuid.uuid4()}", headers=learner("lea"))).status_code == 404

        # every learner of the offering, for its partners' staff
        r = await client.get("/offerings/off-1/evaluations", headers=staff("assessor", AMSTERDAM))
        assert r.status_code == 200
        assert [(x["learner_id"], x["outcome"]) for x in r.json()["learners"]] == [
            ("lea", "awarded"),
            ("mo", "not_met"),
        ]
        assert (await client.get("/offerings/off-1/evaluations", headers=learner("lea"))).status_code == 403
        assert (await client.get("/offerings/off-1/evaluations", headers=staff("assessor", LEUVEN))).status_code == 403
