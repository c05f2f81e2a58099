"""Seeding steps, each idempotent: it looks first, or treats "already there" (409) as done.

The catalogue steps act as the partners' catalogue editors (each approves for itself) and the
operator (institutions); the cohort is registered and enrolled by the operator, results are
recorded by the assessors of the university teaching each component.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tessera_shared.demo import data
from tessera_shared.demo.api import Api, DemoError, assessor, editor, problem_fields, until
from tessera_shared.demo.credentials import Issuance, credentials_of

ACTIVE_ENROLMENT = {"admitted", "completed", "not_completed", "waitlisted", "pending_review"}
CONSENT_TERMS_VERSION = "2025-1"


def consortium_today() -> date:
    """Today in the consortium's calendar (the catalogue's and enrolment's default time zone)."""
    return datetime.now(ZoneInfo("Europe/Brussels")).date()


# --- catalogue -------------------------------------------------------------------------------------


async def register_institutions(api: Api, tally: Counter[str]) -> None:
    for profile in data.INSTITUTIONS:
        r = await api.request("catalogue", "POST", "/institutions", json=profile, expect=(201,), allow=(409,))
        tally["institution created" if r.status_code == 201 else "institution existed"] += 1


async def _sign_off_and_publish(
    api: Api, kind: str, item_id: str, coordinator: str, partners: list[str], content: dict[str, Any]
) -> bool:
    """Draft (if new), propose, every partner approves, the coordinator publishes. ``kind`` is
    ``micro-credentials`` or ``pathways``. False if it was published already."""
    public = await api.request("catalogue", "GET", f"/catalogue/{kind}/{item_id}", who=None, allow=(404,))
    if public.status_code == 200:
        return False
    id_field = "micro_credential_id" if kind == "micro-credentials" else "pathway_id"
    me = editor(coordinator)
    await api.request(
        "catalogue", "POST", f"/{kind}", who=me, json={id_field: item_id, "content": content}, allow=(409,)
    )
    state = await api.get_json("catalogue", f"/{kind}/{item_id}", who=me)
    status = state.get("status")
    if status == "published" or state.get("published_versions"):
        return False
    if status == "draft":
        await api.request("catalogue", "POST", f"/{kind}/{item_id}/propose", who=me)
    for partner in partners:  # approving twice changes nothing
        await api.request("catalogue", "POST", f"/{kind}/{item_id}/approve", who=editor(partner))
    await api.request("catalogue", "POST", f"/{kind}/{item_id}/publish", who=me)
    return True


async def publish_programmes(api: Api, tally: Counter[str]) -> None:
    for mc in data.MICRO_CREDENTIALS:
        created = await _sign_off_and_publish(
            api, "micro-credentials", mc.micro_credential_id, mc.coordinator, mc.partners, mc.content
        )
        tally["micro-credential published" if created else "micro-credential existed"] += 1
    partners = [p["institution_id"] for p in data.PATHWAY_CONTENT["partners"]]
    created = await _sign_off_and_publish(
        api, "pathways", data.PATHWAY, data.PATHWAY_COORDINATOR, partners, data.PATHWAY_CONTENT
    )
    tally["pathway published" if created else "pathway existed"] += 1


async def schedule_offerings(api: Api, tally: Counter[str], today: date) -> None:
    for offering_id, mc_id in data.OFFERINGS:
        coordinator = next(m.coordinator for m in data.MICRO_CREDENTIALS if m.micro_credential_id == mc_id)
        me = editor(coordinator)
        public = await api.request("catalogue", "GET", f"/catalogue/offerings/{offering_id}", who=None, allow=(404,))
        status = public.json().get("status") if public.status_code == 200 else None
        if status is None:
            body = {
                "offering_id": offering_id,
                "micro_credential_id": mc_id,
                "version": 1,
                "terms": data.offering_terms(today),
            }
            r = await api.request("catalogue", "POST", "/offerings", who=me, json=body, expect=(201,), allow=(409,))
            status = r.json().get("status", "scheduled") if r.status_code == 201 else None
            tally["offering scheduled" if r.status_code == 201 else "offering existed"] += 1
        else:
            tally["offering existed"] += 1
        if status in (None, "scheduled"):
            r = await api.request("catalogue", "POST", f"/offerings/{offering_id}/open", who=me, allow=(409,))
            if r.status_code == 200:
                tally["offering opened"] += 1


# --- cohort ----------------------------------------------------------------------------------------


async def register_learners(api: Api, tally: Counter[str]) -> None:
    for learner in data.COHORT:
        body = {
            "learner_id": learner.learner_id,
            "given_name": learner.given_name,
            "family_name": learner.family_name,
            "email": learner.email,
            "email_verified": True,
            "home_institution": learner.home_institution,
        }
        r = await api.request("enrolment", "POST", "/learners", json=body, expect=(201,), allow=(409,))
        tally["learner registered" if r.status_code == 201 else "learner existed"] += 1


async def wait_offerings_open(api: Api, deadline: float) -> None:
    """The enrolment service learns of the offerings from the catalogue's events."""
    for offering_id, _ in data.OFFERINGS:

        async def is_open(offering_id: str = offering_id) -> bool:
            r = await api.request("enrolment", "GET", f"/offerings/{offering_id}", allow=(404,))
            return r.status_code == 200 and r.json().get("status") == "open"

        await until(is_open, f"the enrolment service to see offering {offering_id} open", deadline)


async def enrol_cohort(api: Api, tally: Counter[str]) -> None:
    for learner in data.COHORT:
        for offering_id in learner.offerings:
            page = await api.get_json(
                "enrolment", "/enrolments", learner_id=learner.learner_id, offering_id=offering_id
            )
            if any(e["status"] in ACTIVE_ENROLMENT for e in page["items"]):
                tally["enrolment existed"] += 1
                continue
            body = {
                "offering_id": offering_id,
                "learner_id": learner.learner_id,
                "consent": {"accepted": True, "terms_version": CONSENT_TERMS_VERSION},
            }
            r = await api.request("enrolment", "POST", "/enrolments", json=body, expect=(201,), allow=(409,))
            if r.status_code == 201 and r.json().get("status") != "admitted":
                raise DemoError(f"{learner.learner_id} was not admitted to {offering_id}: {r.json()}")
            tally["enrolment admitted" if r.status_code == 201 else "enrolment existed"] += 1


def _waiting_for_facts(response: Any) -> bool:
    """The assessment service does not know the offering or the admission yet (events in flight)."""
    fields = problem_fields(response)
    return (response.status_code == 404 and bool(fields & {"offering_id", "learner_id"})) or (
        response.status_code == 422 and "learner_id" in fields
    )


async def record_result(api: Api, learner: data.Learner, result: data.Result, on: date, deadline: float) -> bool:
    """True if recorded now, False if that attempt (or a later one) was on record already."""
    body = {
        "learner_id": learner.learner_id,
        "component_code": result.component,
        "attempt": result.attempt,
        "grade": result.grade,
        "assessed_on": on.isoformat(),
    }
    who = assessor(data.TEACHER[result.component])
    path = f"/offerings/{result.offering_id}/results"
    while True:
        r = await api.request("assessment", "POST", path, who=who, json=body, expect=(201,), allow=(404, 409, 422))
        if r.status_code in (201, 409):
            return r.status_code == 201
        if not _waiting_for_facts(r) or time.monotonic() > deadline:
            raise DemoError(f"POST assessment {path} for {learner.learner_id} answered {r.status_code}: {r.text[:300]}")
        await asyncio.sleep(0.3)


async def record_results(api: Api, tally: Counter[str], deadline: float) -> None:
    # Recorded yesterday (a resit today): never "in the future" in any time zone.
    first_sitting = datetime.now(UTC).date() - timedelta(days=1)

    async def learner_results(learner: data.Learner) -> None:
        for result in learner.results:  # in order: a resit after its first attempt
            on = first_sitting if result.attempt == 1 else first_sitting + timedelta(days=1)
            recorded = await record_result(api, learner, result, on, deadline)
            tally["result recorded" if recorded else "result existed"] += 1

    await asyncio.gather(*(learner_results(learner) for learner in data.COHORT))


async def correct_results(api: Api, tally: Counter[str]) -> None:
    for learner in data.COHORT:
        for correction in learner.corrections:
            who = assessor(data.TEACHER[correction.component])
            page = await api.get_json(
                "assessment",
                f"/offerings/{correction.offering_id}/results",
                who=who,
                learner_id=learner.learner_id,
                component_code=correction.component,
                status="effective",
            )
            items = page["items"]
            if not items:
                raise DemoError(f"no effective {correction.component} result of {learner.learner_id} to correct")
            result = items[0]
            if result.get("corrections"):
                tally["correction existed"] += 1
                continue
            await api.request(
                "assessment",
                "POST",
                f"/results/{result['result_id']}/corrections",
                who=who,
                json={"reason": correction.reason, "grade": correction.grade},
            )
            tally["result corrected"] += 1


# --- awards ----------------------------------------------------------------------------------------


async def awards_of(api: Api, learner_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await api.get_json("credential", f"/learners/{learner_id}/awards")
    return found


def _statuses(awards: dict[str, Any], mc_id: str) -> tuple[str, ...]:
    mine = [a for a in awards["awards"] if a["micro_credential_id"] == mc_id]
    mine.sort(key=lambda a: (a["awarded_at"], a["status"] != "superseded"))
    return tuple(a["status"] for a in mine)


async def wait_first_awards(api: Api, deadline: float, issuance: Issuance) -> None:
    """Before a correction is made, the award it changes must exist (else there is nothing to
    revoke or supersede: the engine would decide once, on the corrected facts), and so must its
    signed credential where the service shows them (else issuance, seeing the award already ended,
    would never sign it: there would be no revoked or superseded credential to show)."""
    for learner in data.COHORT:
        if not learner.corrections:
            continue

        async def awarded(learner: data.Learner = learner) -> bool:
            awards = await awards_of(api, learner.learner_id)
            if not all(len(_statuses(awards, mc)) > 0 for mc in learner.expected):
                return False
            if not issuance.discoverable:
                return True
            active: int = sum(a["status"] == "active" for a in awards["awards"] + awards["pathway_awards"])
            credentials = await credentials_of(api, issuance, learner.learner_id, awards["awards"])
            return sum(c.status == "active" for c in credentials) >= active

        await until(awarded, f"the first award of {learner.learner_id}", deadline)


async def wait_final_awards(api: Api, deadline: float) -> dict[str, dict[str, Any]]:
    """Every learner's awards as the cohort expects them (statuses per micro-credential, pathway)."""
    final: dict[str, dict[str, Any]] = {}
    for learner in data.COHORT:

        async def settled(learner: data.Learner = learner) -> dict[str, Any] | None:
            awards = await awards_of(api, learner.learner_id)
            for mc_id, statuses in learner.expected.items():
                if _statuses(awards, mc_id) != statuses:
                    return None
            held = [p for p in awards["pathway_awards"] if p["status"] == "active"]
            if bool(held) != learner.expected_pathway:
                return None
            return awards

        final[learner.learner_id] = await until(settled, f"the awards of {learner.learner_id}", deadline)
    return final


async def wait_enrolments_completed(api: Api, final: dict[str, dict[str, Any]], deadline: float) -> int:
    """The enrolment service marks an enrolment completed when it hears of its award."""
    awarded = {(a["learner_id"], a["offering_id"]) for awards in final.values() for a in awards["awards"]}

    async def all_completed() -> int | None:
        done = 0
        for learner_id, offering_id in awarded:
            page = await api.get_json("enrolment", "/enrolments", learner_id=learner_id, offering_id=offering_id)
            if not any(e["status"] == "completed" for e in page["items"]):
                return None
            done += 1
        return done

    return await until(all_completed, "the enrolment service to mark awarded enrolments completed", deadline)
