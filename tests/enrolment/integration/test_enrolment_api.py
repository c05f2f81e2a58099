"""The HTTP API's rules: learners' own data, registrars' institutions, bad input named by field,
duplicates, windows, paging and filters."""

from datetime import UTC, datetime

import pytest

from tessera_shared.contract import catalogue as cat
from tests.enrolment.enrolment_builders import (
    COORDINATOR,
    OUTSIDER,
    PARTNER,
    consent,
    lifecycle,
    offering_scheduled,
    version_published,
)

pytestmark = pytest.mark.integration
ESI = "urn:schac:personalUniqueCode:int:esi:ugent.be:01234567"


def _field(r) -> str:
    return r.json()["errors"][0]["field"]


async def test_learners_register_themselves_or_are_registered_by_a_registrar(svc):
    c = svc.client
    me = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email": "ada@example.org",
        "european_student_identifier": ESI,
    }
    r = await c.post("/learners", json=me, headers=svc.learner("ada", institution="ugent.be"))
    assert r.status_code == 201, r.text
    assert (r.json()["learner_id"], r.json()["home_institution"], r.json()["email_verified"]) == (
        "ada",
        "ugent.be",
        False,
    )

    assert (await c.post("/learners", json=me, headers=svc.learner("ada"))).status_code == 409
    same_email = await c.post(
        "/learners", json={**me, "european_student_identifier": None}, headers=svc.learner("ada-2")
    )
    assert same_email.status_code == 409 and _field(same_email) == "email"
    same_esi = await c.post("/learners", json={**me, "email": "x@example.org"}, headers=svc.learner("ada-3"))
    assert same_esi.status_code == 409 and _field(same_esi) == "european_student_identifier"
    bad_email = await c.post("/learners", json={**me, "email": "nope"}, headers=svc.learner("b"))
    assert bad_email.status_code == 422 and _field(bad_email) == "email"
    bad_esi = await c.post("/learners", json={**me, "european_student_identifier": "12345"}, headers=svc.learner("b"))
    assert bad_esi.status_code == 422 and _field(bad_esi) == "european_student_identifier"
    verified = await c.post(
        "/learners",
        json={**me, "email": "v@example.org", "email_verified": True, "european_student_identifier": None},
        headers=svc.learner("v"),
    )
    assert verified.status_code == 422 and _field(verified) == "email_verified"
    someone_else = await c.post(
        "/learners",
        json={**me, "learner_id": "eve", "email": "e@example.org", "european_student_identifier": None},
        headers=svc.learner("mallory"),
    )
    assert someone_else.status_code == 403
    assert (await c.post("/learners", json=me)).status_code == 401

    by_registrar = await c.post(
        "/learners",
        json={
            "given_name": "Grace",
            "family_name": "Hopper",
            "email": "grace@example.org",
            "email_verified": True,
            "home_institution": PARTNER,
        },
        headers=svc.registrar(PARTNER),
    )
    assert by_registrar.status_code == 201 and by_registrar.json()["email_verified"] is True
    grace = by_registrar.json()["learner_id"]

    assert (await c.get("/learners/me", headers=svc.learner("ada"))).json()["email"] == "ada@example.org"
    assert (await c.get(f"/learners/{grace}", headers=svc.learner("ada"))).status_code == 403
    assert (await c.get(f"/learners/{grace}", headers=svc.registrar(PARTNER))).status_code == 200
    assert (await c.get(f"/learners/{grace}", headers=svc.registrar(OUTSIDER))).status_code == 403
    assert (await c.get("/learners/nobody", headers=svc.operator())).status_code == 404

    changed = await c.patch(f"/learners/{grace}", json={"email": "grace.h@example.org"}, headers=svc.learner(grace))
    assert changed.status_code == 200 and changed.json()["email_verified"] is False  # a new address is unverified
    assert (await c.patch("/learners/ada", json={"family_name": "King"}, headers=svc.learner(grace))).status_code == 403
    cleared = await c.patch("/learners/ada", json={"email": None}, headers=svc.learner("ada"))
    assert cleared.status_code == 422 and _field(cleared) == "email"
    reverified = await c.patch(f"/learners/{grace}", json={"email_verified": True}, headers=svc.registrar(PARTNER))
    assert reverified.json()["email_verified"] is True

    listed = await c.get("/learners", headers=svc.registrar(PARTNER))
    assert [x["learner_id"] for x in listed.json()["items"]] == [grace]
    everyone = await c.get("/learners", params={"limit": 1}, headers=svc.operator())
    assert everyone.json()["total"] == 2 and everyone.json()["next_offset"] == 1
    assert (await c.get("/learners", headers=svc.learner("ada"))).status_code == 403
    updates = await svc.events("tessera.enrolment.learner.updated.v1")
    assert [u["data"]["learner"]["email_verified"] for u in updates] == [False, True]


async def test_bad_enrolment_requests_are_refused_naming_the_field(svc):
    await svc.open("off-api")
    await svc.register("api-1")
    await svc.register("api-2")
    c = svc.client

    async def post(body, headers=None):
        return await c.post("/enrolments", json=body, headers=headers or svc.learner("api-1"))

    missing = await post({"offering_id": "off-api"})
    assert missing.status_code == 422 and _field(missing) == "consent"
    refused = await post({"offering_id": "off-api", "consent": {**consent(), "accepted": False}})
    assert refused.status_code == 422 and _field(refused) == "consent.accepted"
    old_terms = await post({"offering_id": "off-api", "consent": consent("2024-1")})
    assert old_terms.status_code == 422 and _field(old_terms) == "consent.terms_version"
    partial = await post({"offering_id": "off-api", "consent": {**consent(), "partners": [COORDINATOR]}})
    assert partial.status_code == 422 and _field(partial) == "consent.partners"
    extra = await post({"offering_id": "off-api", "consent": consent(), "discount": 100})
    assert extra.status_code == 422 and _field(extra) == "discount"
    unknown = await post({"offering_id": "off-nowhere", "consent": consent()})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/problem+json")
    for_other = await post({"offering_id": "off-api", "learner_id": "api-2", "consent": consent()})
    assert for_other.status_code == 403
    unregistered = await post({"offering_id": "off-api", "consent": consent()}, svc.learner("ghost"))
    assert unregistered.status_code == 404 and _field(unregistered) == "learner_id"
    outsider = await post(
        {"offering_id": "off-api", "learner_id": "api-2", "consent": consent()}, svc.registrar(OUTSIDER)
    )
    assert outsider.status_code == 403
    no_learner = await post({"offering_id": "off-api", "consent": consent()}, svc.registrar(PARTNER))
    assert no_learner.status_code == 422 and _field(no_learner) == "learner_id"
    assert await svc.events("tessera.enrolment.enrolment.requested.v1") == []  # nothing half-written

    ok = await post({"offering_id": "off-api", "consent": {**consent(), "partners": [PARTNER, COORDINATOR]}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["consent"]["partners"] == [COORDINATOR, PARTNER]
    assert ok.json()["consent"]["terms_version"] == "2025-1"
    duplicate = await post({"offering_id": "off-api", "consent": consent()})
    assert duplicate.status_code == 409
    by_partner = await post(
        {"offering_id": "off-api", "learner_id": "api-2", "consent": consent()}, svc.registrar(PARTNER)
    )
    assert by_partner.status_code == 201 and by_partner.json()["requested_by"] == f"registrar@{PARTNER}"

    # after a cancellation the learner may enrol again
    await c.post(f"/enrolments/{ok.json()['enrolment_id']}/cancel", headers=svc.learner("api-1"))
    again = await post({"offering_id": "off-api", "consent": consent()})
    assert again.status_code == 201 and again.json()["enrolment_id"] != ok.json()["enrolment_id"]


async def test_enrolment_needs_an_open_offering_inside_its_window(svc):
    await svc.register("win-1")
    await svc.publish([version_published("mc-win"), offering_scheduled("off-win", "mc-win")])
    await svc.wait_status("off-win", "scheduled")
    scheduled = await svc.enrol("win-1", "off-win")
    assert scheduled.status_code == 409 and "open" in scheduled.json()["detail"]

    await svc.publish([lifecycle(cat.OfferingOpened, "off-win", "mc-win")])
    await svc.wait_status("off-win", "open")
    svc.clock.freeze(datetime(2025, 4, 30, 12, 0, tzinfo=UTC))
    early = await svc.enrol("win-1", "off-win")
    assert early.status_code == 409 and "window" in early.json()["detail"]
    svc.clock.freeze(datetime(2025, 9, 16, 12, 0, tzinfo=UTC))
    late = await svc.enrol("win-1", "off-win")
    assert late.status_code == 409 and "window" in late.json()["detail"]
    svc.clock.freeze(datetime(2025, 9, 15, 20, 0, tzinfo=UTC))  # 22:00 in Brussels on the last day
    assert (await svc.enrol("win-1", "off-win")).status_code == 201


async def test_who_sees_which_enrolments_with_paging_and_filters(svc):
    await svc.open("off-a", capacity=2)
    await svc.open("off-b", capacity=5)
    for i in range(4):
        await svc.register(f"see-{i}")
        await svc.enrol(f"see-{i}", "off-a")
    await svc.enrol("see-0", "off-b")
    c = svc.client

    mine = await c.get("/enrolments", headers=svc.learner("see-0"))
    assert mine.json()["total"] == 2 and {e["learner_id"] for e in mine.json()["items"]} == {"see-0"}
    assert {e["fee_eur"] for e in mine.json()["items"]} == {"288.75"}
    other = await c.get("/enrolments", params={"learner_id": "see-1"}, headers=svc.learner("see-0"))
    assert other.status_code == 403
    one = mine.json()["items"][0]["enrolment_id"]
    assert (await c.get(f"/enrolments/{one}", headers=svc.learner("see-1"))).status_code == 403
    assert (await c.get(f"/enrolments/{one}", headers=svc.registrar(OUTSIDER))).status_code == 403
    assert (await c.get(f"/enrolments/{one}", headers=svc.registrar(PARTNER))).status_code == 200
    assert (await c.get("/enrolments/nope", headers=svc.operator())).status_code == 404
    assert (await c.get("/enrolments")).status_code == 401

    assert (await c.get("/enrolments", headers=svc.registrar(OUTSIDER))).json()["total"] == 0
    page1 = await c.get("/enrolments", params={"offering_id": "off-a", "limit": 3}, headers=svc.registrar(PARTNER))
    assert (page1.json()["total"], len(page1.json()["items"]), page1.json()["next_offset"]) == (4, 3, 3)
    page2 = await c.get(
        "/enrolments", params={"offering_id": "off-a", "limit": 3, "offset": 3}, headers=svc.registrar(PARTNER)
    )
    assert len(page2.json()["items"]) == 1 and page2.json()["next_offset"] is None
    waiting = await c.get("/enrolments", params={"status": "waitlisted"}, headers=svc.operator())
    assert waiting.json()["total"] == 2 and {e["offering_id"] for e in waiting.json()["items"]} == {"off-a"}
    both = await c.get("/enrolments", params=[("status", "waitlisted"), ("status", "admitted")], headers=svc.operator())
    assert both.json()["total"] == 5
    by_mc = await c.get("/enrolments", params={"micro_credential_id": "mc-off-b"}, headers=svc.operator())
    assert by_mc.json()["total"] == 1
    bad_status = await c.get("/enrolments", params={"status": "sleeping"}, headers=svc.operator())
    assert bad_status.status_code == 422 and _field(bad_status) == "status.0"
    bad_limit = await c.get("/enrolments", params={"limit": 0}, headers=svc.operator())
    assert bad_limit.status_code == 422 and _field(bad_limit) == "limit"

    offering = await c.get("/offerings/off-a", headers=svc.learner("see-3"))
    assert offering.json()["seats"] == {"capacity": 2, "taken": 2, "available": 0, "waitlisted": 2}
    assert offering.json()["fee_eur"] == "288.75" and offering.json()["partners"] == [COORDINATOR, PARTNER]
    assert (await c.get("/offerings/off-zzz", headers=svc.operator())).status_code == 404
    listed = await c.get("/offerings", params={"status": "open", "limit": 1}, headers=svc.learner("see-3"))
    assert (listed.json()["total"], listed.json()["items"][0]["offering_id"], listed.json()["next_offset"]) == (
        2,
        "off-a",
        1,
    )
    assert (await c.get("/offerings", params={"institution": OUTSIDER}, headers=svc.operator())).json()["total"] == 0
    assert (await c.get("/offerings")).status_code == 401


async def test_the_openapi_document_describes_the_api(svc):
    r = await svc.client.get("/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/learners", "/enrolments", "/enrolments/{enrolment_id}/cancel", "/bulk-enrolments", "/offerings"):
        assert path in paths
    assert set(paths["/bulk-enrolments"]["post"]["requestBody"]["content"]) == {
        "application/json",
        "text/csv",
        "multipart/form-data",
    }
