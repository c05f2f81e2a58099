"""Bulk enrolment: a registrar uploads a thousand rows; every row gets its own result; the same upload
re-sent with the same Idempotency-Key changes nothing and returns the same results."""

import csv
import io

import pytest

from tests.enrolment.enrolment_builders import COORDINATOR

pytestmark = pytest.mark.integration

COLUMNS = [
    "offering_id",
    "learner_id",
    "email",
    "given_name",
    "family_name",
    "consent_accepted",
    "consent_terms_version",
]


def _csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def _row(i: int, **overrides) -> dict:
    return {
        "offering_id": "off-bulk",
        "learner_id": "",
        "email": f"bulk-{i:04d}@example.org",
        "given_name": "Grace",
        "family_name": f"Hopper {i}",
        "consent_accepted": "true",
        "consent_terms_version": "2025-1",
        **overrides,
    }


async def _counts(svc) -> tuple[int, int, int]:
    async with svc.pool.acquire() as conn:
        return (
            await conn.fetchval("SELECT count(*) FROM events"),
            await conn.fetchval("SELECT count(*) FROM learners"),
            await conn.fetchval("SELECT count(*) FROM enrolments"),
        )


async def test_a_thousand_rows_each_with_its_result_and_an_idempotent_resend(svc):
    await svc.open("off-bulk", capacity=700)
    await svc.open("off-elsewhere", capacity=10)
    await svc.register("known-1")
    rows = [_row(i) for i in range(1000)]
    # rows that must fail, each for its own reason, without touching the others
    rows[10] = _row(10, offering_id="off-unknown")
    rows[20] = _row(20, consent_accepted="false")
    rows[30] = _row(30, email="not-an-email")
    rows[40] = _row(3)  # the same learner and offering as row 4: a duplicate
    rows[50] = _row(50, given_name="", family_name="")  # an unknown email without names
    rows[60] = _row(60, learner_id="known-1", email="", given_name="", family_name="")  # an existing learner by id
    rows[70] = _row(70, learner_id="ghost", email="", given_name="", family_name="")
    body = _csv(rows)
    headers = {**svc.registrar(COORDINATOR), "Idempotency-Key": "upload-2025-06-15", "Content-Type": "text/csv"}

    r = await svc.client.post("/bulk-enrolments", content=body, headers=headers)

    assert r.status_code == 201, r.text
    batch = r.json()
    results = batch["results"]
    assert [x["row"] for x in results] == list(range(1, 1001))
    errors = {x["row"]: (x["field"], x["error"]) for x in results if x["outcome"] == "error"}
    assert set(errors) == {11, 21, 31, 41, 51, 71}
    assert errors[11][0] == "offering_id" and "not known" in errors[11][1]
    assert errors[21][0] == "consent.accepted"
    assert errors[31][0] == "email"
    assert errors[41][0] == "learner_id" and "already has an active enrolment" in errors[41][1]
    assert errors[51][0] == "email" and "given_name" in errors[51][1]
    assert errors[71][0] == "learner_id" and "not registered" in errors[71][1]
    assert batch["summary"] == {"admitted": 700, "waitlisted": 294, "error": 6}
    ok = [x for x in results if x["outcome"] != "error"]
    assert {x["outcome"] for x in ok[:700]} == {"admitted"} and ok[699]["fee_eur"] == "288.75"
    assert [x["waitlist_position"] for x in ok[700:]] == list(range(1, 295))  # row order is arrival order
    assert results[60]["learner_id"] == "known-1" and results[60]["outcome"] == "admitted"
    events, learners, enrolments = await _counts(svc)
    # 993 learners registered from the upload (not the failed rows' ones), plus known-1
    assert (learners, enrolments) == (994, 994)

    again = await svc.client.post("/bulk-enrolments", content=body, headers=headers)

    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["results"] == results and again.json()["batch_id"] == batch["batch_id"]
    assert await _counts(svc) == (events, learners, enrolments)

    changed = await svc.client.post("/bulk-enrolments", content=_csv(rows[:5]), headers=headers)
    assert changed.status_code == 422 and changed.json()["errors"][0]["field"] == "Idempotency-Key"

    stored = await svc.client.get(f"/bulk-enrolments/{batch['batch_id']}", headers=svc.registrar(COORDINATOR))
    assert stored.status_code == 200 and stored.json()["results"] == results
    other = await svc.client.get(f"/bulk-enrolments/{batch['batch_id']}", headers=svc.registrar("kuleuven.be"))
    assert other.status_code == 403

    requested = await svc.events("tessera.enrolment.enrolment.requested.v1")
    assert {e["data"]["batch_id"] for e in requested} == {batch["batch_id"]}


async def test_json_rows_and_the_rules_that_refuse_a_whole_upload(svc):
    await svc.open("off-json", capacity=1)
    await svc.register("json-1")
    await svc.register("json-2")
    rows = [
        {
            "offering_id": "off-json",
            "learner_id": "json-1",
            "consent_accepted": True,
            "consent_terms_version": "2025-1",
        },
        {
            "offering_id": "off-json",
            "learner_id": "json-2",
            "consent_accepted": True,
            "consent_terms_version": "2025-1",
        },
        {
            "offering_id": "off-json",
            "learner_id": "json-2",
            "consent_accepted": True,
            "consent_terms_version": "2024-9",
        },
        {"offering_id": "off-json", "learner_id": "json-2", "colour": "blue"},
    ]
    headers = {**svc.registrar(COORDINATOR), "Idempotency-Key": "json-1"}

    r = await svc.client.post("/bulk-enrolments", json={"rows": rows}, headers=headers)

    assert r.status_code == 201, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["admitted", "waitlisted", "error", "error"]
    assert r.json()["results"][2]["field"] == "consent.terms_version"
    assert r.json()["results"][3]["field"] in {"colour", "consent_accepted", "consent_terms_version"}

    outsider = {**svc.registrar("kuleuven.be"), "Idempotency-Key": "k"}
    refused = await svc.client.post("/bulk-enrolments", json=rows[:1], headers=outsider)
    assert refused.json()["results"][0]["outcome"] == "error"
    assert refused.json()["results"][0]["field"] == "offering_id"  # not an offering kuleuven.be takes part in

    no_key = await svc.client.post("/bulk-enrolments", json=rows, headers=svc.registrar(COORDINATOR))
    assert no_key.status_code == 422 and no_key.json()["errors"][0]["field"] == "Idempotency-Key"
    learner = await svc.client.post(
        "/bulk-enrolments", json=rows, headers={**svc.learner("json-1"), "Idempotency-Key": "x"}
    )
    assert learner.status_code == 403
    bad_csv = await svc.client.post(
        "/bulk-enrolments",
        content="offering_id,shoe_size\noff-json,42\n",
        headers={**svc.registrar(COORDINATOR), "Idempotency-Key": "csv-bad", "Content-Type": "text/csv"},
    )
    assert bad_csv.status_code == 422 and "shoe_size" in bad_csv.json()["detail"]
    empty = await svc.client.post(
        "/bulk-enrolments", json=[], headers={**svc.registrar(COORDINATOR), "Idempotency-Key": "e"}
    )
    assert empty.status_code == 422


async def test_a_csv_file_upload(svc):
    await svc.open("off-file", capacity=5)
    content = _csv([_row(i, offering_id="off-file") for i in range(3)])
    r = await svc.client.post(
        "/bulk-enrolments",
        files={"file": ("enrolments.csv", content.encode(), "text/csv")},
        headers={**svc.registrar(COORDINATOR), "Idempotency-Key": "file-1"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["summary"] == {"admitted": 3}


async def test_uploads_and_single_requests_at_the_same_time_share_the_seats_fairly(svc):
    import asyncio

    await svc.open("off-mixed", capacity=30)
    singles = [f"mixed-single-{i}" for i in range(20)]
    await asyncio.gather(*(svc.register(s) for s in singles))
    body = _csv([_row(i, offering_id="off-mixed") for i in range(40)])
    headers = {**svc.registrar(COORDINATOR), "Idempotency-Key": "mixed", "Content-Type": "text/csv"}

    uploads_and_requests = await asyncio.gather(
        svc.client.post("/bulk-enrolments", content=body, headers=headers),
        svc.client.post("/bulk-enrolments", content=body, headers=headers),  # the same upload, concurrently
        *(svc.enrol(s, "off-mixed") for s in singles),
    )

    first, second, *single_responses = uploads_and_requests
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert first.json()["results"] == second.json()["results"]
    assert all(r.status_code == 201 for r in single_responses)
    all_enrolments = await svc.client.get(
        "/enrolments", params={"offering_id": "off-mixed", "limit": 500}, headers=svc.operator()
    )
    items = all_enrolments.json()["items"]
    assert len(items) == 60
    assert sum(e["status"] == "admitted" for e in items) == 30
    tickets = sorted(e["waitlist_position"] for e in items if e["status"] == "waitlisted")
    assert tickets == list(range(1, 31))
