"""The data the authorisation matrix (``authz_matrix.py``) is run against, and its factories.

The demo consortium (Ghent coordinates "Responsible AI in Practice" with Amsterdam and Heidelberg;
a stand-alone micro-credential of Ghent; a pathway stacking both) through the real services' APIs,
plus an outside institution (KU Leuven), two learners registered by Ghent's registrar — *own*
(enrolled in both programmes, every component passed: an award and a pathway award) and *other*
(enrolled in the joint programme) — an upload, a bulk enrolment, and two more open offerings for
the learner's own enrolments. Factories make a fresh target for each principal whose call must
succeed (a command that changes state), so the cells do not depend on each other's order.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench import scenario
from tessera_shared.demo import data
from tessera_shared.demo.api import OPERATOR as OPERATOR_WHO
from tessera_shared.demo.api import Api, Who, assessor, editor, until
from tessera_shared.testing.apps import Tokens
from tests.resilience.world import Consortium
from tests.security.authz_matrix import (
    ANON,
    FORGED,
    LEARNER_OTHER,
    LEARNER_OWN,
    OPERATOR,
    PLACES,
    ROLES,
)

GENT, AMSTERDAM, HEIDELBERG, LEUVEN = data.GENT, data.AMSTERDAM, data.HEIDELBERG, "kuleuven.be"
L_OWN, L_OTHER = "authz-own", "authz-other"
OFF_A, OFF_B = "off-authz-a", "off-authz-b"  # stand-alone micro-credential: the own learner's extra enrolments
CONSENT = {"accepted": True, "terms_version": scenario.TERMS_VERSION}
OUTSIDE_PROFILE = {
    "institution_id": LEUVEN,
    "name": {"en": "KU Leuven"},
    "country": "BE",
    "website": "https://www.kuleuven.be/",
    "contact": {"email": "microcredentials@kuleuven.be"},
    "grading_scheme_ids": ["be-flemish-0-20"],
}


def who_of(principal: str) -> Who | None:
    if principal == OPERATOR:
        return OPERATOR_WHO
    if principal == LEARNER_OWN:
        return Who(L_OWN, ("learner",))
    if principal == LEARNER_OTHER:
        return Who(L_OTHER, ("learner",))
    if "@" in principal:
        role, place = principal.split("@")
        return Who(f"{role}@{PLACES[place]}", (ROLES[role],), PLACES[place])
    return None


def yesterday() -> str:
    return (datetime.now(UTC).date() - timedelta(days=1)).isoformat()


@dataclass
class Target:
    ids: dict[str, str] = field(default_factory=dict)
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class AuthzWorld:
    consortium: Consortium
    tokens: Tokens
    ids: dict[str, str] = field(default_factory=dict)
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _attempt: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    forged: Tokens = field(default_factory=Tokens.generate)

    @property
    def api(self) -> Api:
        return self.consortium.api

    def client(self, service: str) -> httpx.AsyncClient:
        return self.consortium.services[service].client

    def headers(self, principal: str) -> dict[str, str]:
        if principal == ANON:
            return {}
        if principal == FORGED:
            return {"Authorization": f"Bearer {self.forged.mint('operator', ['operator'])}"}
        who = who_of(principal)
        assert who is not None
        return self.api.headers(who)

    def n(self) -> int:
        return next(self._n)

    # ------------------------------------------------------------------ setup

    async def setup(self) -> None:
        api = self.api
        deadline = time.monotonic() + 240
        await scenario.seed_consortium(api, capacity=400, deadline=deadline)
        await api.request("catalogue", "POST", "/institutions", json=OUTSIDE_PROFILE, expect=(201,))
        for offering_id, mc_id in (
            (data.STANDALONE_OFFERING, data.STANDALONE),
            (OFF_A, data.STANDALONE),
            (OFF_B, data.STANDALONE),
        ):
            await self.schedule(offering_id, mc_id, open_it=True)
        for offering_id in (data.STANDALONE_OFFERING, OFF_A, OFF_B):

            async def is_open(offering_id: str = offering_id) -> bool:
                r = await api.request("enrolment", "GET", f"/offerings/{offering_id}", allow=(404,))
                return r.status_code == 200 and r.json()["status"] == "open"

            await until(is_open, f"enrolment to see {offering_id} open", deadline)
        registrar = who_of("registrar@coord")
        for learner_id in (L_OWN, L_OTHER):
            body = {
                "learner_id": learner_id,
                "given_name": "Authz",
                "family_name": learner_id.title(),
                "email": f"{learner_id}@authz.tessera.example",
                "email_verified": True,
                "home_institution": GENT,
            }
            await api.request("enrolment", "POST", "/learners", who=registrar, json=body, expect=(201,))
        enrolled = {}
        for learner_id, offering_id in (
            (L_OWN, data.JOINT_OFFERING),
            (L_OTHER, data.JOINT_OFFERING),
            (L_OWN, data.STANDALONE_OFFERING),
        ):
            body = {"offering_id": offering_id, "learner_id": learner_id, "consent": CONSENT}
            r = await api.request("enrolment", "POST", "/enrolments", who=registrar, json=body, expect=(201,))
            assert r.json()["status"] == "admitted", r.json()
            enrolled[(learner_id, offering_id)] = r.json()["enrolment_id"]
        pool = self.consortium.pool("assessment")
        await scenario.wait_assessment_knows(pool, [L_OWN, L_OTHER], deadline)
        await scenario.wait_assessment_knows(pool, [L_OWN], deadline, offering=data.STANDALONE_OFFERING)
        own_results = {}
        for component, grade, offering_id in (
            ("RAI-ETH", "15", data.JOINT_OFFERING),
            ("RAI-LAW", "7.5", data.JOINT_OFFERING),
            ("RAI-ENG", "1.7", data.JOINT_OFFERING),
            ("DV1", "14", data.STANDALONE_OFFERING),
        ):
            body = {
                "learner_id": L_OWN,
                "component_code": component,
                "attempt": 1,
                "grade": grade,
                "assessed_on": yesterday(),
            }
            r = await api.request(
                "assessment",
                "POST",
                f"/offerings/{offering_id}/results",
                who=assessor(data.TEACHER[component]),
                json=body,
                expect=(201,),
            )
            own_results[component] = r.json()["result_id"]
        upload = await self.upload_body("assessor@coord")
        r = await self.client("assessment").post(
            f"/offerings/{data.JOINT_OFFERING}/results/uploads",
            json=upload.body,
            headers={**self.headers("assessor@coord"), **upload.headers},
        )
        assert r.status_code == 201, r.text
        bulk = await self.bulk_body("registrar@coord")
        rb = await self.client("enrolment").post(
            "/bulk-enrolments", json=bulk.body, headers={**self.headers("registrar@coord"), **bulk.headers}
        )
        assert rb.status_code == 201, rb.text

        async def awarded() -> dict[str, Any] | None:
            awards = await api.get_json("credential", f"/learners/{L_OWN}/awards")
            mine = [a for a in awards["awards"] if a["micro_credential_id"] == data.JOINT and a["status"] == "active"]
            pathways = [p for p in awards["pathway_awards"] if p["status"] == "active"]
            return awards if mine and pathways else None

        awards = await until(awarded, "the own learner's award and pathway award", deadline)
        self.ids.update(
            {
                "outside_institution": LEUVEN,
                "mc": data.JOINT,
                "pathway": data.PATHWAY,
                "joint": data.JOINT_OFFERING,
                "learner_own": L_OWN,
                "learner_other": L_OTHER,
                "enrolment_own": enrolled[(L_OWN, data.JOINT_OFFERING)],
                "result_own": own_results["RAI-ETH"],
                "upload": r.json()["upload_id"],
                "bulk_batch": rb.json()["batch_id"],
                "award_own": next(a["award_id"] for a in awards["awards"] if a["micro_credential_id"] == data.JOINT),
                "pathway_award_own": awards["pathway_awards"][0]["award_id"],
            }
        )
        openapi = (await api.request("credential", "GET", "/openapi.json", who=None)).json()
        if "/institutions/{institution_id}/did.json" in openapi["paths"]:

            async def has_key() -> bool:  # the issuance worker gives every registered institution a key
                r = await api.request("credential", "GET", f"/institutions/{LEUVEN}/did.json", who=None, allow=(404,))
                return r.status_code == 200

            await until(has_key, "a key for the outside institution", deadline)

    async def schedule(self, offering_id: str, mc_id: str = data.JOINT, *, open_it: bool = False) -> None:
        body = {
            "offering_id": offering_id,
            "micro_credential_id": mc_id,
            "version": 1,
            "terms": data.offering_terms(scenario.seed.consortium_today(), capacity=50),
        }
        await self.api.request("catalogue", "POST", "/offerings", who=editor(GENT), json=body, expect=(201,))
        if open_it:
            await self.api.request("catalogue", "POST", f"/offerings/{offering_id}/open", who=editor(GENT))

    # ------------------------------------------------------------------ bodies (same for every cell)

    def body(self, name: str | None, principal: str) -> Any:
        if name is None:
            return None
        return {
            "outside_institution_profile": OUTSIDE_PROFILE,
            "mc_content": {"content": data._joint_content()},
            "pw_content": {"content": data.PATHWAY_CONTENT},
            "reason": {"reason": "authorisation matrix"},
            "learner_patch": {"given_name": "Owner"},
            "review": {"decision": "admit"},
            "empty": {},
            "correction": {"reason": "re-marked", "grade": "16"},
            "attendance": {
                "learner_id": L_OWN,
                "component_code": "RAI-ETH",
                "percentage": 90,
                "period_start": yesterday(),
                "period_end": yesterday(),
            },
        }[name]

    # ------------------------------------------------------------------ factories: a fresh target

    async def make(self, name: str, principal: str | None) -> Target:
        return await getattr(self, name)(principal)

    async def institution_body(self, principal: str | None) -> Target:
        n = self.n()
        return Target(
            body={
                **OUTSIDE_PROFILE,
                "institution_id": f"authz{n}.example.org",
                "name": {"en": f"Authz {n}"},
                "contact": {"email": f"x{n}@authz.example.org"},
            }
        )

    async def new_mc_body(self, principal: str | None) -> Target:
        return Target(body={"micro_credential_id": f"mc-authz-{self.n()}", "content": {"title": {"en": "Authz"}}})

    async def new_pathway_body(self, principal: str | None) -> Target:
        return Target(body={"pathway_id": f"pw-authz-{self.n()}", "content": {"title": {"en": "Authz"}}})

    async def _mc(self, steps: int) -> str:
        mc_id = f"mc-authz-{self.n()}"
        api, me = self.api, editor(GENT)
        await api.request(
            "catalogue",
            "POST",
            "/micro-credentials",
            who=me,
            json={"micro_credential_id": mc_id, "content": data._joint_content()},
            expect=(201,),
        )
        if steps >= 1:
            await api.request("catalogue", "POST", f"/micro-credentials/{mc_id}/propose", who=me)
        if steps >= 2:
            for inst in (GENT, AMSTERDAM, HEIDELBERG):
                await api.request("catalogue", "POST", f"/micro-credentials/{mc_id}/approve", who=editor(inst))
        if steps >= 3:
            await api.request("catalogue", "POST", f"/micro-credentials/{mc_id}/publish", who=me)
        return mc_id

    async def mc_draft(self, principal: str | None) -> Target:
        return Target({"mc_draft": await self._mc(0)})

    async def mc_proposed(self, principal: str | None) -> Target:
        return Target({"mc_proposed": await self._mc(1)})

    async def mc_approved(self, principal: str | None) -> Target:
        return Target({"mc_approved": await self._mc(2)})

    async def mc_published(self, principal: str | None) -> Target:
        return Target({"mc_published": await self._mc(3)})

    async def _pw(self, steps: int) -> str:
        pw_id = f"pw-authz-{self.n()}"
        api, me = self.api, editor(GENT)
        await api.request(
            "catalogue",
            "POST",
            "/pathways",
            who=me,
            json={"pathway_id": pw_id, "content": data.PATHWAY_CONTENT},
            expect=(201,),
        )
        if steps >= 1:
            await api.request("catalogue", "POST", f"/pathways/{pw_id}/propose", who=me)
        if steps >= 2:
            for inst in (GENT, AMSTERDAM, HEIDELBERG):
                await api.request("catalogue", "POST", f"/pathways/{pw_id}/approve", who=editor(inst))
        return pw_id

    async def pw_draft(self, principal: str | None) -> Target:
        return Target({"pw_draft": await self._pw(0)})

    async def pw_proposed(self, principal: str | None) -> Target:
        return Target({"pw_proposed": await self._pw(1)})

    async def pw_approved(self, principal: str | None) -> Target:
        return Target({"pw_approved": await self._pw(2)})

    async def new_offering_body(self, principal: str | None) -> Target:
        return Target(
            body={
                "offering_id": f"off-authz-new-{self.n()}",
                "micro_credential_id": data.JOINT,
                "version": 1,
                "terms": data.offering_terms(scenario.seed.consortium_today()),
            }
        )

    async def _offering(self, steps: int) -> str:
        offering_id = f"off-authz-{self.n()}"
        await self.schedule(offering_id)
        for step in ("open", "close", "start")[:steps]:
            await self.api.request("catalogue", "POST", f"/offerings/{offering_id}/{step}", who=editor(GENT))
        return offering_id

    async def offering_scheduled(self, principal: str | None) -> Target:
        return Target({"offering_scheduled": await self._offering(0)})

    async def offering_open(self, principal: str | None) -> Target:
        return Target({"offering_open": await self._offering(1)})

    async def offering_closed(self, principal: str | None) -> Target:
        return Target({"offering_closed": await self._offering(2)})

    async def offering_running(self, principal: str | None) -> Target:
        return Target({"offering_running": await self._offering(3)})

    async def new_learner_body(self, principal: str | None) -> Target:
        who = who_of(principal) if principal else None
        if who is not None and "learner" in who.roles:  # registering themself (they exist: 409)
            return Target(
                body={"given_name": "Authz", "family_name": "Self", "email": f"{who.subject}@authz.tessera.example"}
            )
        n = self.n()
        return Target(
            body={"given_name": "Authz", "family_name": f"New {n}", "email": f"new-{n}@authz.tessera.example"}
        )

    async def _fresh_learner(self) -> str:
        n = self.n()
        r = await self.api.request(
            "enrolment",
            "POST",
            "/learners",
            json={
                "given_name": "Authz",
                "family_name": f"Fresh {n}",
                "email": f"fresh-{n}-{uuid.uuid4().hex[:6]}@authz.tessera.example",
                "home_institution": GENT,
            },
            expect=(201,),
        )
        learner_id: str = r.json()["learner_id"]
        return learner_id

    async def new_enrolment_body(self, principal: str | None) -> Target:
        if principal == LEARNER_OWN:  # enrols themself
            return Target(body={"offering_id": OFF_A, "consent": CONSENT})
        if principal is None:  # the shared target of the refused cells: someone else's enrolment
            return Target(body={"offering_id": data.JOINT_OFFERING, "learner_id": L_OWN, "consent": CONSENT})
        learner_id = await self._fresh_learner()
        return Target(body={"offering_id": data.JOINT_OFFERING, "learner_id": learner_id, "consent": CONSENT})

    async def enrolment_fresh(self, principal: str | None) -> Target:
        if principal is None:
            return Target({"enrolment_fresh": self.ids["enrolment_own"]})
        if principal == LEARNER_OWN:
            learner_id, offering_id = L_OWN, OFF_B
        else:
            learner_id, offering_id = await self._fresh_learner(), data.JOINT_OFFERING
        r = await self.api.request(
            "enrolment",
            "POST",
            "/enrolments",
            expect=(201,),
            json={"offering_id": offering_id, "learner_id": learner_id, "consent": CONSENT},
        )
        return Target({"enrolment_fresh": r.json()["enrolment_id"]})

    async def bulk_body(self, principal: str | None) -> Target:
        n = self.n()
        row = {
            "offering_id": data.JOINT_OFFERING,
            "email": f"bulk-{n}@authz.tessera.example",
            "given_name": "Bulk",
            "family_name": f"Row {n}",
            "consent_accepted": True,
            "consent_terms_version": scenario.TERMS_VERSION,
        }
        return Target(body={"rows": [row]}, headers={"Idempotency-Key": f"authz-bulk-{n}"})

    def _result(self) -> dict[str, Any]:
        return {
            "learner_id": L_OTHER,
            "component_code": "RAI-ETH",
            "attempt": next(self._attempt),
            "grade": "14",
            "assessed_on": yesterday(),
        }

    async def result_body(self, principal: str | None) -> Target:
        return Target(body=self._result())

    async def result_fresh(self, principal: str | None) -> Target:
        if principal is None:
            return Target({"result_fresh": self.ids["result_own"]})
        r = await self.api.request(
            "assessment",
            "POST",
            f"/offerings/{data.JOINT_OFFERING}/results",
            who=assessor(GENT),
            json=self._result(),
            expect=(201,),
        )
        return Target({"result_fresh": r.json()["result_id"]})

    async def upload_body(self, principal: str | None) -> Target:
        return Target(body={"results": [self._result()]}, headers={"Idempotency-Key": f"authz-upload-{self.n()}"})
