"""The operator CLI against a running consortium: each command is run as ``tessera …`` (the installed
console script, a child process) and judged by its effect on the services.

The tests share one consortium (``conftest.consortium``) and build on each other in file order:
institutions registered → results uploaded → credentials issued → a key rotated; then dead letters,
a rebuild and the status table.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.topology import subject_for
from tessera_shared.demo import data
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.apps import eventually
from tests.operations.conftest import Consortium
from tests.resilience.world import Poison

pytestmark = pytest.mark.integration

LEARNERS = 5
STATE: dict[str, Any] = {}  # what one test leaves for the next (they run in file order)


async def catalogue_institutions(c: Consortium) -> dict[str, dict[str, Any]]:
    r = await c.services["catalogue"].client.get("/catalogue/institutions")
    assert r.status_code == 200, r.text
    return {i["institution_id"]: i for i in r.json()["items"]}


async def quiet(c: Consortium) -> bool:
    """Every outbox row published and every durable consumer caught up."""
    for name, svc in c.services.items():
        if await c.pool(name).fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
            return False
        for consumer in svc.runtime.consumers:
            if await consumer.lag():
                return False
    return True


# ------------------------------------------------------------------------------------ institutions


async def test_institution_register_adds_partners_that_the_catalogue_then_lists(consortium: Consortium, tmp_path):
    c = consortium
    file = tmp_path / "partners.json"
    file.write_text(json.dumps(list(data.INSTITUTIONS)))
    ran = await c.tessera("institution", "register", str(file), "--key", str(c.key))
    assert ran.returncode == 0, ran.output
    ids = [i["institution_id"] for i in data.INSTITUTIONS]
    for institution_id in ids:
        assert f"registered {institution_id} (version 1)" in ran.stdout

    async def listed() -> dict[str, dict[str, Any]] | None:
        found = await catalogue_institutions(c)
        return found if set(ids) <= set(found) else None

    found = await eventually(listed)
    assert found, "the catalogue does not list the registered institutions"
    assert found[data.GENT]["names"] == data.INSTITUTIONS[0]["name"]
    assert found[data.GENT]["grading_scheme_ids"] == ["be-flemish-0-20"]

    again = await c.tessera("institution", "register", str(file), "--key", str(c.key))
    assert again.returncode == 0, again.output
    assert again.stdout.count("already registered") == len(ids)
    assert {i: v["version"] for i, v in (await catalogue_institutions(c)).items()} == dict.fromkeys(ids, 1)

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"institution_id": "nowhere.example", "name": {"en": "Nowhere"}}))
    refused = await c.tessera("institution", "register", str(bad), "--key", str(c.key))
    assert refused.returncode == 1 and "nowhere.example: 422" in refused.stderr
    assert "nowhere.example" not in await catalogue_institutions(c)

    assert (await c.tessera("keys", "create", "--dir", str(tmp_path / "k"))).returncode == 0
    stranger = tmp_path / "k" / "operator-private.pem"
    unauthorised = await c.tessera("institution", "register", str(file), "--key", str(stranger))
    assert unauthorised.returncode == 1 and "401" in unauthorised.stderr


# -------------------------------------------------------------------------------------- results


def _csv(rows: list[dict[str, Any]], delimiter: str = ",") -> str:
    columns = ["learner_id", "component_code", "attempt", "grade", "assessed_on"]
    lines = [delimiter.join(columns)] + [delimiter.join(str(r[k]) for k in columns) for r in rows]
    return "\n".join(lines) + "\n"


async def assessment_results(c: Consortium) -> list[dict[str, Any]]:
    rows = await c.pool("assessment").fetch(
        "SELECT learner_id, component_code, attempt FROM results WHERE offering_id = $1 ORDER BY 1, 2, 3",
        scenario.OFFERING,
    )
    return [dict(r) for r in rows]


async def test_results_upload_sends_chunks_with_progress_and_the_results_reach_assessment(
    consortium: Consortium, tmp_path: Path
):
    c = consortium
    deadline = time.monotonic() + 180
    await scenario.seed_consortium(c.api, capacity=20, deadline=deadline)
    cohort = await scenario.enrol(c.api, LEARNERS, prefix="ops", fail_every=0)
    await scenario.wait_assessment_knows(c.pool("assessment"), cohort.learner_ids, deadline)
    STATE["cohort"] = cohort

    # Ghent's exam session: ';' as delimiter (as spreadsheets save it), a blank line, and a row for
    # someone who is not enrolled (file line 5) → recorded all but that one, exit 1, line named.
    ethics = scenario.result_rows(cohort, "RAI-ETH")
    stranger = dict(ethics[0], learner_id="not-enrolled-learner")
    text = _csv([*ethics[:2], stranger, *ethics[2:]], ";").replace("\n", "\n\n", 1)
    file = tmp_path / "ethics.csv"
    file.write_text(text)
    args = ["results", "upload", scenario.OFFERING, str(file), "--key", str(c.key)]
    who = ["--assessor", f"assessor@{data.GENT}", "--institution", data.GENT]
    ran = await c.tessera(*args, *who, "--chunk", "2")
    assert ran.returncode == 1, ran.output
    total = LEARNERS + 1
    for done in (2, 4, 6):
        assert f"uploading {total} rows: {done}/{total} rows" in ran.stdout  # one progress line per chunk
    assert f"{total}/{total} rows (100%)" in ran.stdout
    assert f"accepted {LEARNERS}, rejected 1 of {total} rows" in ran.stdout
    error_line = next(line for line in ran.stdout.splitlines() if "not_enrolled" in line)
    assert error_line.split()[1] == "5"  # the line in the file: header 1, blank 2, rows 3, 4, then 5

    recorded = await assessment_results(c)
    assert recorded == [
        {"learner_id": x, "component_code": "RAI-ETH", "attempt": 1} for x in sorted(cohort.learner_ids)
    ]

    again = await c.tessera(*args, *who, "--chunk", "2")  # resumes: every chunk is replayed, nothing new
    assert again.returncode == 1 and f"accepted {LEARNERS}, rejected 1" in again.stdout
    assert await assessment_results(c) == recorded

    # the two other partners, one chunk each, every row valid → exit 0
    for component in ("RAI-LAW", "RAI-ENG"):
        teacher = data.TEACHER[component]
        file = tmp_path / f"{component}.csv"
        file.write_text(_csv(scenario.result_rows(cohort, component)))
        ran = await c.tessera(
            "results", "upload", scenario.OFFERING, str(file), "--key", str(c.key),
            "--assessor", f"assessor@{teacher}", "--institution", teacher,
        )  # fmt: skip
        assert ran.returncode == 0, ran.output
        assert f"accepted {LEARNERS}, rejected 0 of {LEARNERS} rows" in ran.stdout
    assert len(await assessment_results(c)) == 3 * LEARNERS

    async def issued() -> list[dict[str, Any]] | None:
        rows = await c.pool("credential").fetch(
            "SELECT credential_id, learner_id, document FROM issued_credentials "
            "WHERE micro_credential_id = $1 AND status = 'active'",
            scenario.MICRO_CREDENTIAL,
        )
        return [dict(r) for r in rows] if len(rows) == LEARNERS else None

    credentials = await eventually(issued, seconds=180, interval=0.5)
    assert credentials, "the uploaded results did not lead to a credential for every learner"
    STATE["credential"] = credentials[0]


# ------------------------------------------------------------------------------------- key rotation


async def test_keys_rotate_makes_a_new_signing_key_and_old_credentials_still_verify(consortium: Consortium):
    c = consortium
    client = c.services["credential"].client
    old = STATE["credential"]["document"]
    old = json.loads(old) if isinstance(old, str) else old
    before = (await client.get(f"/institutions/{data.GENT}/did.json")).json()
    assert [m["id"].rsplit("#", 1)[1] for m in before["verificationMethod"]] == ["key-1"]
    assert old["proof"][0]["verificationMethod"].endswith("#key-1")

    ran = await c.tessera("keys", "rotate", data.GENT, "--key", str(c.key))
    assert ran.returncode == 0, ran.output
    assert f"{before['id']}#key-2" in ran.stdout and f"{before['id']}#key-1" in ran.stdout

    after = (await client.get(f"/institutions/{data.GENT}/did.json")).json()
    methods = {m["id"].rsplit("#", 1)[1]: m["publicKeyMultibase"] for m in after["verificationMethod"]}
    assert list(methods) == ["key-2", "key-1"]  # the active key first, the retired one still listed
    assert methods["key-1"] == before["verificationMethod"][0]["publicKeyMultibase"]
    assert methods["key-2"] != methods["key-1"]
    active = await c.pool("credential").fetch(
        "SELECT key_number FROM institution_keys WHERE institution_id = $1 AND retired_at IS NULL", data.GENT
    )
    assert [r["key_number"] for r in active] == [2]

    report = (await client.post("/verify", json=old)).json()
    assert report["verdict"] == "valid", report["problems"]  # signed with key-1, retired

    unknown = await c.tessera("keys", "rotate", "nobody.example", "--key", str(c.key))
    assert unknown.returncode == 1 and "404" in unknown.stderr


# ------------------------------------------------------------------------------------- dead letters


async def publish_not_json(c: Consortium, event_type: str) -> str:
    nc = await connect(c.nats_url)
    try:
        msg_id = str(uuid.uuid4())
        await nc.jetstream().publish(
            subject_for(event_type, c.namespace), b"{not json", headers={"Nats-Msg-Id": msg_id}
        )
        return msg_id
    finally:
        await nc.close()


async def test_dlq_list_shows_dead_letters_of_every_service_and_redrive_runs_them_again(
    consortium: Consortium, tmp_path: Path
):
    c = consortium
    poisoned = "poison.example"
    # a bug in the running assessment service: it cannot handle this institution's registration
    poison = Poison(
        lambda _, event: isinstance(event, cat.InstitutionRegistered) and event.institution.institution_id == poisoned
    )
    poison.install([k for k in c.services["assessment"].runtime.consumers if k.name == "assessment--catalogue"])
    try:
        profile = dict(data.INSTITUTIONS[0], institution_id=poisoned, erasmus_code=None, name={"en": "Poison"})
        file = tmp_path / "poison.json"
        file.write_text(json.dumps(profile))
        assert (await c.tessera("institution", "register", str(file), "--key", str(c.key))).returncode == 0
        # and a message no code can read, on the assessment stream (the credential service consumes it)
        garbage = await publish_not_json(c, "tessera.assessment.result.recorded.v1")

        async def dead() -> bool:
            a = await c.pool("assessment").fetchval(
                "SELECT count(*) FROM dead_letters WHERE consumer = 'assessment--catalogue' AND redriven_at IS NULL"
            )
            k = await c.pool("credential").fetchval(
                "SELECT count(*) FROM dead_letters WHERE event_id = $1 AND redriven_at IS NULL", garbage
            )
            return a == 1 and k == 1

        assert await eventually(dead, seconds=60), "no dead letters"
        assert poison.failed["assessment--catalogue"]

        listed = await c.tessera("dlq", "list", "--json")
        assert listed.returncode == 0, listed.output
        rows = json.loads(listed.stdout)
        by_service = {r["service"]: r for r in rows}
        assert sorted(by_service) == ["assessment", "credential"] and len(rows) == 2
        bug = by_service["assessment"]
        assert bug["consumer"] == "assessment--catalogue"
        assert bug["event_type"] == cat.InstitutionRegistered.event_type
        assert bug["delivery_count"] == c.services["assessment"].settings.consumer_max_deliver
        assert "injected bug" in bug["error"]
        unreadable = by_service["credential"]
        assert unreadable["consumer"] == "credential--assessment" and unreadable["event_id"] == garbage

        table = await c.tessera("dlq", "list")
        assert table.returncode == 0, table.output
        assert "assessment--catalogue" in table.stdout and "credential--assessment" in table.stdout
        assert "2 dead letter(s) not yet redriven" in table.stdout

        async def assessment_knows_poisoned() -> bool:
            return bool(
                await c.pool("assessment").fetchval("SELECT 1 FROM institutions WHERE institution_id = $1", poisoned)
            )

        assert not await assessment_knows_poisoned()

        # the fixed code (the CLI builds the service afresh) handles the dead letter
        one = await c.tessera("dlq", "redrive", "--service", "assessment", "--id", str(bug["id"]))
        assert one.returncode == 0, one.output
        assert "redriving 1 dead letters: 1/1 dead letters (100%)" in one.stdout
        assert await assessment_knows_poisoned()
        redriven = await c.pool("assessment").fetchrow("SELECT redriven_at FROM dead_letters WHERE id = $1", bug["id"])
        assert redriven["redriven_at"] is not None

        # what no fix can read stays a dead letter, with the reason; the command says so
        rest = await c.tessera("dlq", "redrive")
        assert rest.returncode == 1, rest.output
        assert f"still failing credential #{unreadable['id']} credential--assessment" in rest.stderr
        row = await c.pool("credential").fetchrow(
            "SELECT redriven_at, redrive_error FROM dead_letters WHERE id = $1", unreadable["id"]
        )
        assert row["redriven_at"] is None and row["redrive_error"]

        left = json.loads((await c.tessera("dlq", "list", "--json")).stdout)
        assert [(r["service"], r["id"]) for r in left] == [("credential", unreadable["id"])]
        everything = json.loads((await c.tessera("dlq", "list", "--json", "--all")).stdout)
        assert {(r["service"], r["id"]) for r in everything} == {
            ("assessment", bug["id"]),
            ("credential", unreadable["id"]),
        }
    finally:
        poison.fix()


# ---------------------------------------------------------------------------------------- rebuild


async def test_rebuild_replays_a_lost_read_model_from_the_event_store(consortium: Consortium):
    c = consortium
    before = await catalogue_institutions(c)
    assert len(before) >= 4
    await c.pool("catalogue").execute("DELETE FROM cat_institutions")  # the read model is lost
    assert await catalogue_institutions(c) == {}

    ran = await c.tessera("rebuild", "institutions")
    assert ran.returncode == 0, ran.output
    events = await c.pool("catalogue").fetchval("SELECT max(global_position) FROM events")
    assert f"rebuilding catalogue/institutions: {events}/{events} events (100%)" in ran.stdout
    assert "rebuilt catalogue/institutions:" in ran.stdout
    assert await catalogue_institutions(c) == before

    unknown = await c.tessera("rebuild", "no-such-read-model")
    assert unknown.returncode != 0 and "institutions" in unknown.output  # names the known ones


# ----------------------------------------------------------------------------------------- status


async def test_status_shows_relay_lag_consumer_lag_dead_letters_and_last_event_of_every_service(
    consortium: Consortium,
):
    c = consortium
    # something to show: a registration (the catalogue's last event) and an unreadable message on
    # the enrolment stream (a dead letter at each of its two consumers)
    profile = dict(data.INSTITUTIONS[1], institution_id="status.example", erasmus_code=None)
    await c.api.request("catalogue", "POST", "/institutions", json=profile, expect=(201,))
    garbage = await publish_not_json(c, "tessera.enrolment.enrolment.admitted.v1")

    async def settled() -> bool:
        for name in ("assessment", "credential"):
            if not await c.pool(name).fetchval("SELECT count(*) FROM dead_letters WHERE event_id = $1", garbage):
                return False
        return await quiet(c)

    assert await eventually(settled, seconds=90), "the consortium did not settle"
    ran = await c.tessera("status", "--json", "--key", str(c.key))
    assert ran.returncode == 0, ran.output
    report = json.loads(ran.stdout)
    assert list(report) == ["catalogue", "enrolment", "assessment", "credential"]
    for name, st in report.items():
        pool = c.pool(name)
        assert st["relay"]["unpublished"] == 0 and st["relay"]["oldest_unpublished_seconds"] == 0
        assert st["relay"]["active"] is True
        assert set(st["consumers"]) == {k.name for k in c.services[name].runtime.consumers}
        assert all(v["lag"] == 0 for v in st["consumers"].values()), st["consumers"]
        dead = await pool.fetch(
            "SELECT consumer, count(*) AS n FROM dead_letters WHERE redriven_at IS NULL GROUP BY consumer"
        )
        assert st["dead_letters"] == {r["consumer"]: r["n"] for r in dead}
        last = await pool.fetchrow(
            "SELECT global_position, event_type FROM events ORDER BY global_position DESC LIMIT 1"
        )
        shown = st["last_event"]
        assert (shown and (shown["global_position"], shown["event_type"])) == (last and tuple(last))
    assert report["assessment"]["dead_letters"]["assessment--enrolment"] >= 1
    assert report["credential"]["dead_letters"]["credential--enrolment"] >= 1
    assert report["catalogue"]["last_event"]["event_type"] == cat.InstitutionRegistered.event_type
    assert set(report["credential"]["consumers"]) == {
        "credential--catalogue",
        "credential--enrolment",
        "credential--assessment",
    }

    table = await c.tessera("status", "--key", str(c.key))
    assert table.returncode == 0, table.output
    for name in report:
        assert name in table.stdout
    n = report["assessment"]["dead_letters"]["assessment--enrolment"]
    assert f"assessment--enrolment: {n}" in table.stdout  # dead letters per consumer
    assert "assessment--catalogue: 0" in table.stdout  # consumer lag
    assert "0 unpublished" in table.stdout
    assert f"#{report['catalogue']['last_event']['global_position']} {cat.InstitutionRegistered.event_type}" in (
        table.stdout
    )

    elsewhere = await c.tessera("status", "--key", str(c.key), "--port-base", "1")  # nothing listens there
    assert elsewhere.returncode == 1 and elsewhere.stdout.count("unreachable") == 4
