"""Bulk upload against real NATS and PostgreSQL: a 10,000-row exam session with bad rows, the
idempotent re-upload, JSON and CSV dialects, atomic mode, limits, concurrent duplicates."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tessera_shared.testing.apps import eventually
from tests.assessment.integration.assessment_world import (
    AMSTERDAM,
    GENT,
    LEUVEN,
    OFFERING,
    World,
    running_world,
)

pytestmark = pytest.mark.integration

LEARNERS = [f"b-{n:04d}" for n in range(5000)]
UPLOAD = f"/offerings/{OFFERING}/results/uploads"
HEADER = ["learner_id", "component_code", "attempt", "grade", "scheme_id", "assessed_on", "remarks"]
MAX_ROWS = 10_000


@pytest.fixture(scope="module")
async def world(servers, tokens) -> AsyncIterator[World]:
    async with running_world(
        servers, tokens, learners=LEARNERS, upload_max_rows=MAX_ROWS, upload_max_bytes=2_000_000
    ) as w:
        yield w


def csv_body(rows: list[list[Any]], header: list[str] = HEADER, delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def headers(world: World, key: str, content_type: str = "text/csv", institution: str = GENT) -> dict[str, str]:
    return {**world.assessor(institution), "Idempotency-Key": key, "Content-Type": content_type}


async def counts(world: World) -> dict[str, int]:
    row = await world.fetch(
        """SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM outbox) AS outbox,
                  (SELECT count(*) FROM results) AS results, (SELECT count(*) FROM uploads) AS uploads"""
    )
    return dict(row[0])


# line n of the CSV is data row n - 2 (line 1 is the header)
BAD_ROWS: dict[int, tuple[list[Any], str | None, str]] = {
    12: (["b-0010", "DATA101", 1, "21", "", "2026-01-20", ""], "grade", "out_of_range"),
    22: (["b-0020", "DATA101", 1, "abc", "", "2026-01-20", ""], "grade", "format"),
    32: (["b-nobody", "DATA101", 1, "12", "", "2026-01-20", ""], "learner_id", "not_enrolled"),
    42: (["b-0040", "STAT201", 1, "7.5", "", "2026-01-20", ""], "component_code", "not_teaching_partner"),
    52: (["b-0050", "XX999", 1, "12", "", "2026-01-20", ""], "component_code", "unknown_component"),
    62: (["b-0060", "DATA101", 0, "12", "", "2026-01-20", ""], "attempt", "format"),
    72: (["b-0070", "DATA101", 1, "12", "", "2026-13-01", ""], "assessed_on", "format"),
    82: (["b-0080", "DATA101", 1, "7.5", "nl-1-10", "2026-01-20", ""], "scheme_id", "scheme_not_allowed"),
    92: (["", "DATA101", 1, "12", "", "2026-01-20", ""], "learner_id", "required"),
    102: (["b-0100", "DATA101", 1, "12", "", "2026-01-20", "", "surplus"], None, "format"),
    112: (["b-0110", "DATA101", 1, "9.5", "", "2026-01-20", ""], "grade", "precision"),
}


def exam_session() -> tuple[bytes, int]:
    """10,000 rows: every learner on DATA101 and DATA102 (minus two), eleven bad rows replacing
    good ones, and a last row repeating the first row's attempt."""
    rows: list[list[Any]] = []
    for n, learner in enumerate(LEARNERS):
        rows.append([learner, "DATA101", 1, str(n % 21), "", "2026-01-20", ""])
        rows.append([learner, "DATA102", 1, str((n * 7) % 21), "", "2026-01-21", "written exam" if n % 2 else ""])
    rows = rows[: MAX_ROWS - 1]
    for line, (row, _, _) in BAD_ROWS.items():
        rows[line - 2] = row
    rows.append(rows[0])  # the same attempt twice: the second is refused
    assert len(rows) == MAX_ROWS
    return csv_body(rows), len(BAD_ROWS) + 1


async def test_ten_thousand_rows_with_bad_ones_and_an_idempotent_re_upload(world: World) -> None:
    body, bad = exam_session()
    before = await counts(world)
    loop = asyncio.get_running_loop()
    started = loop.time()
    r = await world.client.post(UPLOAD, content=body, headers=headers(world, "session-2026-01"))
    elapsed = loop.time() - started
    assert r.status_code == 201, r.text[:2000]
    print(f"\n10,000-row upload: {elapsed:.2f} s ({MAX_ROWS / elapsed:,.0f} rows/s) on this machine")
    report = r.json()
    accepted = MAX_ROWS - bad
    assert (report["rows"], report["accepted"], report["rejected"]) == (MAX_ROWS, accepted, bad)
    assert len(report["accepted_rows"]) == accepted
    assert r.headers["Location"] == f"/uploads/{report['upload_id']}"
    errors = {e["line"]: (e["field"], e["code"]) for e in report["errors"]}
    expected = {line: (field, code) for line, (_, field, code) in BAD_ROWS.items()}
    expected[MAX_ROWS + 1] = ("attempt", "conflict")
    assert errors == expected
    assert all(e["reason"] for e in report["errors"])
    first = report["accepted_rows"][0]
    assert first | {"result_id": None} == {
        "line": 2,
        "result_id": None,
        "learner_id": "b-0000",
        "component_code": "DATA101",
        "attempt": 1,
        "grade": "0",
        "scheme_id": "be-flemish-0-20",
        "normalised_score": 0.0,
        "passed": False,
    }

    after = await counts(world)
    assert after == {
        "events": before["events"] + accepted,
        "outbox": before["outbox"] + accepted,
        "results": before["results"] + accepted,
        "uploads": before["uploads"] + 1,
    }

    # the same upload again: the same report, nothing new
    again = await world.client.post(UPLOAD, content=body, headers=headers(world, "session-2026-01"))
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == report
    assert await counts(world) == after
    # the same key with another body is refused; the report can be fetched again
    other = await world.client.post(
        UPLOAD, content=body + b"b-0001,DATA101,2,12,,2026-06-20,\n", headers=headers(world, "session-2026-01")
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    stored = await world.client.get(f"/uploads/{report['upload_id']}", headers=world.assessor(GENT))
    assert stored.status_code == 200 and stored.json() == report
    assert (
        await world.client.get(f"/uploads/{report['upload_id']}", headers=world.assessor(AMSTERDAM))
    ).status_code == 403
    assert await counts(world) == after

    # every accepted row is visible, and published on JetStream
    coordinator = world.staff("registrar", GENT)
    page = (await world.client.get(f"/offerings/{OFFERING}/results?learner_id=b-0003", headers=coordinator)).json()
    assert [(i["component_code"], i["grade"]) for i in page["items"]] == [("DATA101", "3"), ("DATA102", "0")]

    async def published() -> bool:
        return (await world.stream_info()).state.messages >= accepted

    assert await eventually(published, seconds=60)


async def test_json_uploads_resits_defaults_and_atomic_mode(world: World) -> None:
    rows = [
        {"learner_id": "b-4000", "component_code": "DATA101", "attempt": 2, "grade": 14},
        {"learner_id": "b-4001", "component_code": "DATA101", "attempt": 2, "grade": "B", "scheme_id": "ects-letter"},
        {"learner_id": "b-4002", "component_code": "DATA101", "attempt": 2, "grade": "13", "remarks": "resit"},
    ]
    url = f"{UPLOAD}?assessed_on=2026-06-25"
    bad = [*rows, {"learner_id": "b-4003", "component_code": "DATA101", "attempt": 2, "grade": 25}]
    before = await counts(world)
    r = await world.client.post(
        f"{url}&atomic=true",
        content=orjson.dumps({"results": bad}),
        headers=headers(world, "resits", "application/json"),
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {
            "line": 4,
            "field": "grade",
            "code": "out_of_range",
            "reason": r.json()["errors"][0]["reason"],
            "value": "25",
        }
    ]
    assert await counts(world) == before  # nothing written, and the key is still free
    r = await world.client.post(
        url, content=orjson.dumps({"results": rows}), headers=headers(world, "resits", "application/json")
    )
    assert r.status_code == 201, r.text
    assert [(a["grade"], a["scheme_id"], a["attempt"]) for a in r.json()["accepted_rows"]] == [
        ("14", "be-flemish-0-20", 2),
        ("B", "ects-letter", 2),
        ("13", "be-flemish-0-20", 2),
    ]
    history = (
        await world.client.get(
            f"/offerings/{OFFERING}/results?learner_id=b-4002&component_code=DATA101", headers=world.assessor(GENT)
        )
    ).json()
    *earlier, resit = [(i["attempt"], i["status"], i["assessed_on"]) for i in history["items"]]
    assert resit == (2, "effective", "2026-06-25")
    assert all(status == "superseded" for _, status, _ in earlier)
    # row problems in JSON: not an object, unknown field, a boolean
    odd = [7, {"learner_id": "b-4004", "component_code": "DATA101", "attempt": 2, "grade": "12", "colour": "x"}]
    odd.append({"learner_id": "b-4005", "component_code": "DATA101", "attempt": True, "grade": "12"})
    r = await world.client.post(
        url, content=orjson.dumps({"results": odd}), headers=headers(world, "odd", "application/json")
    )
    assert r.status_code == 201
    assert [(e["line"], e["field"], e["code"]) for e in r.json()["errors"]] == [
        (1, None, "format"),
        (2, "colour", "unknown_field"),
        (3, "attempt", "format"),
    ]


async def test_spreadsheet_csv_with_semicolons_bom_and_decimal_commas(world: World) -> None:
    body = "\ufeff" + "learner_id;component_code;attempt;grade;scheme_id;assessed_on\n"
    body += "b-4100;DATA102;2;59,5;percentage-60;2026-06-26\n\n"  # a blank line is skipped
    body += 'b-4101;DATA102;2;"60,0";percentage-60;2026-06-26\n'
    r = await world.client.post(UPLOAD, content=body.encode(), headers=headers(world, "semicolons"))
    assert r.status_code == 201, r.text
    assert [(a["line"], a["grade"], a["passed"]) for a in r.json()["accepted_rows"]] == [
        (2, "59.5", False),
        (4, "60.0", True),
    ]


async def test_whole_upload_refusals(world: World) -> None:
    ok = csv_body([["b-4200", "DATA101", 2, "12", "", "2026-06-20", ""]])
    before = await counts(world)
    cases = [
        (ok, headers(world, "k1", "text/plain"), UPLOAD, 415, "Content-Type"),
        (ok, {k: v for k, v in headers(world, "k2").items() if k != "Idempotency-Key"}, UPLOAD, 422, "idempotency-key"),
        (b"learner_id,component_code,attempt,mark\n", headers(world, "k3"), UPLOAD, 422, "mark"),
        (b"learner_id,component_code,grade\n", headers(world, "k4"), UPLOAD, 422, "attempt"),
        (b"", headers(world, "k5"), UPLOAD, 422, "body"),
        (b"\xff\xfe\x00", headers(world, "k6"), UPLOAD, 422, "body"),
        (b"{", headers(world, "k7", "application/json"), UPLOAD, 422, "body"),
        (ok, headers(world, "k8", institution="uni-other.eu"), UPLOAD, 403, "offering_id"),
        (ok, headers(world, "k9"), "/offerings/OFF-NONE/results/uploads", 404, "offering_id"),
        (ok, {**headers(world, "k10", institution=LEUVEN), **world.learner("b-4200")}, UPLOAD, 403, None),
        (
            csv_body([["b-4200", "DATA101", 2, "12", "", "2026-06-20", ""]] * (MAX_ROWS + 1)),
            headers(world, "k11"),
            UPLOAD,
            413,
            "body",
        ),
        (b"learner_id,component_code,attempt,grade\n" + b"x" * 2_000_000, headers(world, "k12"), UPLOAD, 413, "body"),
    ]
    for body, hdrs, url, status, field in cases:
        r = await world.client.post(url, content=body, headers=hdrs)
        assert r.status_code == status, (hdrs.get("Idempotency-Key"), r.text[:500])
        assert r.headers["content-type"] == "application/problem+json"
        if field:
            assert r.json()["errors"][0]["field"] == field, r.text
    assert await counts(world) == before


async def test_concurrent_duplicates_record_once(world: World) -> None:
    body = csv_body([[f"b-43{n:02d}", "DATA101", 2, "15", "", "2026-06-27", ""] for n in range(50)])
    before = await counts(world)
    responses = await asyncio.gather(
        *(world.client.post(UPLOAD, content=body, headers=headers(world, "twice")) for _ in range(3))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 201]
    assert len({r.json()["upload_id"] for r in responses}) == 1
    after = await counts(world)
    assert after["results"] == before["results"] + 50 and after["uploads"] == before["uploads"] + 1
