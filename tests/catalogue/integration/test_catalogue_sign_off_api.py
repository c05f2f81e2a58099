"""Joint sign-off through the API against real NATS and PostgreSQL: three institutions, a proposal,
a rejection, every partner's approval, the published snapshot in JetStream; publishing refused with
every problem; stale versions (409), partners outside their programmes (403), bad input (422)."""

import asyncio

import pytest

from tests.catalogue.integration.catalogue_api import AMSTERDAM, GENT, HEIDELBERG, LEUVEN, draft_data

pytestmark = pytest.mark.integration
PUBLISHED = "tessera.catalogue.micro-credential.version-published.v1"
REGISTERED = "tessera.catalogue.institution.registered.v1"


async def stream_version(api, mc_id: str) -> int:
    async with api.service.runtime.pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = $1", f"micro-credential-{mc_id}"
        )


async def test_three_partners_sign_off_and_the_full_snapshot_is_published(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG)

    r = await api.post("/micro-credentials", GENT, {"micro_credential_id": "mc-ethics", "content": draft_data()})
    assert r.status_code == 201, r.text
    assert r.headers["ETag"] == '"1"' and r.headers["Location"] == "/micro-credentials/mc-ethics"
    state = r.json()
    assert (state["status"], state["coordinator_id"], state["draft_version"]) == ("draft", GENT, 1)
    assert state["problems"] == [] and state["annex_i"]["complete"] is True

    r = await api.post("/micro-credentials/mc-ethics/propose", GENT, {"expected_version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["awaiting_approval"] == [GENT, AMSTERDAM, HEIDELBERG]

    # one rejection (with its reason) sends the version back to draft; approvals lapse
    assert (await api.post("/micro-credentials/mc-ethics/approve", HEIDELBERG)).status_code == 200
    r = await api.post("/micro-credentials/mc-ethics/reject", AMSTERDAM, {"reason": "law component too short"})
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["status"] == "draft" and state["approvals"] == []
    assert state["last_rejection"] == {"institution_id": AMSTERDAM, "reason": "law component too short"}

    # the partners can see the working state; re-proposed, every partner approves for itself
    r = await api.client.get("/micro-credentials/mc-ethics", headers=api.editor(HEIDELBERG))
    assert r.status_code == 200 and r.json()["draft"]["title"]["en"] == "Data Ethics for Professionals"
    assert (await api.post("/micro-credentials/mc-ethics/propose", GENT)).status_code == 200
    # the three partners approve at the same moment: concurrent appends are retried, none is lost
    approvals = await asyncio.gather(
        *(api.post("/micro-credentials/mc-ethics/approve", partner) for partner in (GENT, AMSTERDAM, HEIDELBERG))
    )
    assert [a.status_code for a in approvals] == [200, 200, 200]
    r = await api.client.get("/micro-credentials/mc-ethics", headers=api.editor(GENT))
    assert r.json()["awaiting_approval"] == [] and len(r.json()["approvals"]) == 3
    r = await api.post("/micro-credentials/mc-ethics/publish", GENT, headers={"If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["published_versions"]) == ("published", [1])

    # JetStream carries the contract events only (no drafts or sign-off steps), the snapshot complete
    messages = await api.stream(minimum=4)
    assert [m["type"] for m in messages] == [REGISTERED] * 3 + [PUBLISHED]
    published = messages[-1]
    assert published["_subject"] == f"{api.namespace}.{PUBLISHED}"
    assert published["source"] == "/tessera/catalogue"
    data = published["data"]
    assert (data["micro_credential_id"], data["version"], data["published_by"]) == ("mc-ethics", 1, "editor@ugent.be")
    assert [(a["institution_id"], a["approved_by"]) for a in data["approvals"]] == [  # in partner order
        (i, f"editor@{i}") for i in (GENT, AMSTERDAM, HEIDELBERG)
    ]
    d = data["definition"]
    assert [(p["institution_id"], p["roles"], p["country"]) for p in d["partners"]] == [
        (GENT, ["coordinator", "awarding"], "BE"),
        (AMSTERDAM, ["contributing", "awarding"], "NL"),
        (HEIDELBERG, ["contributing"], "DE"),
    ]
    assert d["partners"][0]["name"]["nl"] == "Universiteit Gent"
    assert [(c["code"], c["ects"], c["teaching_institution"]) for c in d["components"]] == [
        ("DE1", "4", GENT),
        ("DE2", "3", AMSTERDAM),
        ("DE3", "3", HEIDELBERG),
    ]
    assert d["workload"] == {"ects": "10", "notional_hours": 280}
    assert d["criteria"]["rule"]["kind"] == "all_of"
    assert set(d["criteria_narrative"]) == {"en", "nl"}
    assert d["quality_assurance"]["agency"] == "NVAO" and d["level"] == {"eqf": 7, "qf_ehea": "second_cycle"}

    # editing the published version opens draft 2; version 1 never changes
    changed = draft_data(title={"en": "Data Ethics, revised"})
    r = await api.client.put("/micro-credentials/mc-ethics/draft", json={"content": changed}, headers=api.editor(GENT))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["draft_version"], r.json()["latest_version"]) == ("draft", 2, 1)
    await api.caught_up()
    v1 = await api.public("/catalogue/micro-credentials/mc-ethics/versions/1")
    assert v1.status_code == 200 and v1.json()["title"] == "Data Ethics for Professionals"
    assert [a["institution_id"] for a in v1.json()["approvals"]] == [GENT, AMSTERDAM, HEIDELBERG]
    assert (await api.public("/catalogue/micro-credentials/mc-ethics/versions/2")).status_code == 404

    # retiring: an event, no new offerings; the public entry says so and search leaves it out
    r = await api.post("/micro-credentials/mc-ethics/retire", GENT, {"reason": "superseded"})
    assert r.status_code == 200 and r.json()["status"] == "retired"
    retired = (await api.stream(minimum=5))[-1]
    assert retired["type"] == "tessera.catalogue.micro-credential.retired.v1"
    assert retired["data"] == {
        "micro_credential_id": "mc-ethics",
        "last_version": 1,
        "reason": "superseded",
        "retired_by": "editor@ugent.be",
    }
    await api.caught_up()
    latest = (await api.public("/catalogue/micro-credentials/mc-ethics")).json()
    assert latest["retired"] is True and latest["versions"][0]["version"] == 1
    assert (await api.public("/catalogue/micro-credentials")).json()["total"] == 0
    assert (await api.public("/catalogue/micro-credentials", include_retired=True)).json()["total"] == 1


async def test_publishing_is_refused_with_every_problem_and_nothing_is_written(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG)
    content = draft_data()
    del content["level"], content["quality_assurance"]  # two Annex I elements missing
    content["components"][0]["ects"] = "5"  # 5 + 3 + 3 = 11, not 10
    content["criteria"]["rule"]["criteria"][0]["component"] = "DE9"  # no such component
    r = await api.post("/micro-credentials", GENT, {"micro_credential_id": "mc-bad", "content": content})
    assert r.status_code == 201, r.text
    assert len(r.json()["problems"]) == 4  # the editor sees what is still missing while drafting
    assert set(r.json()["annex_i"]["missing"]) == {"level", "type_of_quality_assurance"}
    before = await stream_version(api, "mc-bad")

    r = await api.post("/micro-credentials/mc-bad/publish", GENT)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422 and "cannot be published" in problem["detail"]
    fields = [e["field"] for e in problem["errors"]]
    assert fields == [
        "level",
        "quality_assurance",
        "components",
        "criteria.rule.criteria[0].component",
        "status",
        "partners[0]",
        "partners[1]",
        "partners[2]",
    ]
    messages = dict(zip(fields, (e["message"] for e in problem["errors"]), strict=True))
    assert messages["level"] == "Annex I element 'level' is missing"
    assert messages["components"] == "component ECTS add up to 11, not the programme's 10"
    assert messages["criteria.rule.criteria[0].component"] == "unknown component 'DE9'"
    assert messages["partners[1]"] == "approval from uva.nl is missing"
    assert len(problem["problems"]) == 8

    # proposing is refused with the content problems; nothing of either refusal was written
    r = await api.post("/micro-credentials/mc-bad/propose", GENT)
    assert r.status_code == 422 and len(r.json()["errors"]) == 4
    assert await stream_version(api, "mc-bad") == before
    assert [m["type"] for m in await api.stream(minimum=3)] == [REGISTERED] * 3


async def test_stale_versions_outsiders_and_bad_input_are_refused(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG, LEUVEN)
    r = await api.post("/micro-credentials", GENT, {"micro_credential_id": "mc-1", "content": draft_data()})
    assert r.status_code == 201
    editor_a, editor_b = api.editor(GENT), api.tokens.headers("second@ugent.be", ["catalogue-editor"], GENT)

    # two editors saw version 1; the first edit wins, the second is a 409 (body field or If-Match)
    first = await api.client.put(
        "/micro-credentials/mc-1/draft",
        json={"expected_version": 1, "content": draft_data(title={"en": "first"})},
        headers=editor_a,
    )
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    for attempt in (
        {"json": {"expected_version": 1, "content": draft_data(title={"en": "second"})}, "headers": editor_b},
        {"json": {"content": draft_data(title={"en": "second"})}, "headers": {**editor_b, "If-Match": '"1"'}},
    ):
        stale = await api.client.put("/micro-credentials/mc-1/draft", **attempt)
        assert stale.status_code == 409, stale.text
        assert stale.json()["errors"][0]["field"] == "expected_version"
    state = await api.client.get("/micro-credentials/mc-1", headers=editor_a)
    assert state.json()["draft"]["title"] == {"en": "first"} and state.json()["version"] == 2

    # a partner approving what it saw before the coordinator changed it: 409
    assert (await api.post("/micro-credentials/mc-1/propose", GENT)).status_code == 200  # version 3
    assert (await api.post("/micro-credentials/mc-1/withdraw", GENT)).status_code == 200  # version 4
    assert (await api.post("/micro-credentials/mc-1/propose", GENT)).status_code == 200  # version 5
    stale = await api.post("/micro-credentials/mc-1/approve", AMSTERDAM, headers={"If-Match": '"3"'})
    assert stale.status_code == 409
    assert (
        await api.post("/micro-credentials/mc-1/approve", AMSTERDAM, headers={"If-Match": '"5"'})
    ).status_code == 200
    before = await stream_version(api, "mc-1")

    # 403: a partner outside its programme, a partner doing the coordinator's part, wrong roles
    outside = await api.post("/micro-credentials/mc-1/approve", LEUVEN)
    assert outside.status_code == 403 and "kuleuven.be is not a partner" in outside.json()["detail"]
    assert (await api.client.get("/micro-credentials/mc-1", headers=api.editor(LEUVEN))).status_code == 403
    for path, body in (
        ("/micro-credentials/mc-1/publish", None),
        ("/micro-credentials/mc-1/withdraw", None),
        ("/micro-credentials/mc-1/retire", None),
    ):
        assert (await api.post(path, AMSTERDAM, body)).status_code == 403, path
    edit = await api.client.put(
        "/micro-credentials/mc-1/draft", json={"content": draft_data()}, headers=api.editor(AMSTERDAM)
    )
    assert edit.status_code == 403
    registrar = api.tokens.headers("reg@ugent.be", ["registrar"], GENT)
    assert (await api.client.post("/micro-credentials/mc-1/approve", headers=registrar)).status_code == 403
    assert (await api.client.post("/micro-credentials/mc-1/approve", headers=api.operator())).status_code == 403
    assert (await api.client.post("/micro-credentials/mc-1/approve")).status_code == 401
    profile = {"institution_id": "uu.nl", "name": {"nl": "Universiteit Utrecht"}, "country": "NL",
               "website": "https://www.uu.nl/", "contact": {"email": "mc@uu.nl"}}  # fmt: skip
    assert (await api.client.post("/institutions", json=profile, headers=api.editor(GENT))).status_code == 403
    assert (await api.client.post("/institutions", json=profile, headers=api.operator())).status_code == 201

    # 422 naming each field, at the edge
    bad = draft_data(level={"eqf": 9}, workload={"ects": "-1", "notional_hours": 280})
    bad["learning_outcomes"][0]["esco_skill"] = "https://example.org/skill"
    bad["titel"] = {"en": "typo"}
    r = await api.post("/micro-credentials", GENT, {"micro_credential_id": "mc-2", "content": bad})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in r.json()["errors"]} == {
        "content.level.eqf",
        "content.workload.ects",
        "content.learning_outcomes.0.esco_skill",
        "content.titel",
    }
    r = await api.post("/micro-credentials/mc-1/reject", AMSTERDAM, {"reason": ""})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = await api.post("/micro-credentials/mc-1/approve", AMSTERDAM, headers={"If-Match": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "If-Match"
    # an id taken is a conflict; nothing above changed the stream
    r = await api.post("/micro-credentials", GENT, {"micro_credential_id": "mc-1", "content": draft_data()})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "micro_credential_id"
    assert await stream_version(api, "mc-1") == before
    assert (await api.post("/micro-credentials/mc-404/propose", GENT)).status_code == 404


async def test_a_pathway_of_two_partners_programmes_is_signed_off_and_published(catalogue):
    api = catalogue
    await api.register(GENT, AMSTERDAM, HEIDELBERG)
    await api.publish_micro_credential("mc-ethics")
    await api.publish_micro_credential(
        "mc-privacy", AMSTERDAM, (AMSTERDAM, GENT), title={"en": "Privacy Engineering"},
        partners=[{"institution_id": AMSTERDAM, "roles": ["coordinator", "awarding"]},
                  {"institution_id": GENT, "roles": ["contributing"]}],
        components=[{"code": "PE1", "title": {"en": "Privacy by design"}, "ects": "10", "semester": "first",
                     "teaching_institution": AMSTERDAM}],
        criteria={"rule": {"kind": "ects_passed", "minimum": "10"}},
    )  # fmt: skip
    content = {
        "title": {"en": "Responsible Data Science", "nl": "Verantwoorde datawetenschap"},
        "description": {"en": "Both micro-credentials."},
        "micro_credential_ids": ["mc-ethics", "mc-privacy", "mc-unknown"],
        "rule": {"kind": "all_of"},
        "languages": ["en", "nl"],
        "partners": [
            {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
            {"institution_id": AMSTERDAM, "roles": ["contributing"]},
        ],
    }
    r = await api.post("/pathways", GENT, {"pathway_id": "pw-rds", "content": content})
    assert r.status_code == 201, r.text
    assert r.json()["problems"] == ["micro_credential_ids[2]: mc-unknown is not a published, current micro-credential"]
    r = await api.post("/pathways/pw-rds/propose", GENT)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "micro_credential_ids[2]"
    content["micro_credential_ids"] = ["mc-ethics", "mc-privacy"]
    r = await api.client.put("/pathways/pw-rds/draft", json={"content": content}, headers=api.editor(GENT))
    assert r.status_code == 200 and r.json()["problems"] == []
    assert (await api.post("/pathways/pw-rds/propose", GENT)).status_code == 200
    assert (await api.post("/pathways/pw-rds/approve", HEIDELBERG)).status_code == 403  # not a partner
    for partner in (GENT, AMSTERDAM):
        assert (await api.post("/pathways/pw-rds/approve", partner)).status_code == 200
    r = await api.post("/pathways/pw-rds/publish", GENT)
    assert r.status_code == 200 and r.json()["published_versions"] == [1]

    published = (await api.stream(minimum=6))[-1]
    assert published["type"] == "tessera.catalogue.pathway.published.v1"
    d = published["data"]["definition"]
    assert [(m["micro_credential_id"], m["title"]["en"], m["ects"]) for m in d["members"]] == [
        ("mc-ethics", "Data Ethics for Professionals", "10"),
        ("mc-privacy", "Privacy Engineering", "10"),
    ]
    await api.caught_up()
    view = (await api.public("/catalogue/pathways/pw-rds", headers={"Accept-Language": "nl"})).json()
    assert view["title"] == "Verantwoorde datawetenschap" and view["version"] == 1
    assert view["narrative"].startswith("Om")
    assert [m["link"] for m in view["members"]] == [
        "/catalogue/micro-credentials/mc-ethics",
        "/catalogue/micro-credentials/mc-privacy",
    ]
    listing = (await api.public("/catalogue/pathways")).json()
    assert listing["total"] == 1 and listing["items"][0]["pathway_id"] == "pw-rds"
