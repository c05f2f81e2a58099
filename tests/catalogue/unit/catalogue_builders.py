"""Builders for the catalogue's domain tests: three partner institutions and a complete joint
micro-credential (10 ECTS over three components taught by three partners)."""

from __future__ import annotations

from typing import Any

from tessera_catalogue.domain import CATALOGUE_EDITOR, OPERATOR, Actor, MicroCredential, MicroCredentialDraft
from tessera_shared.contract.catalogue import InstitutionProfile

GENT, AMSTERDAM, HEIDELBERG, LEUVEN = "ugent.be", "uva.nl", "uni-heidelberg.de", "kuleuven.be"

OPERATOR_ACTOR = Actor(user_id="op-1", roles=frozenset({OPERATOR}))


def editor(institution: str, user: str | None = None) -> Actor:
    return Actor(
        user_id=user or f"editor@{institution}", institution_id=institution, roles=frozenset({CATALOGUE_EDITOR})
    )


def profile(institution: str, **changes: Any) -> InstitutionProfile:
    base: dict[str, Any] = {
        GENT: {
            "erasmus_code": "B  GENT01",
            "name": {"nl": "Universiteit Gent", "en": "Ghent University"},
            "country": "BE",
            "region": "BE-VOV",
        },
        AMSTERDAM: {"erasmus_code": "NL AMSTERD01", "name": {"nl": "Universiteit van Amsterdam"}, "country": "NL"},
        HEIDELBERG: {"erasmus_code": "D  HEIDELB01", "name": {"de": "Universität Heidelberg"}, "country": "DE"},
        LEUVEN: {"erasmus_code": "B  LEUVEN01", "name": {"nl": "KU Leuven"}, "country": "BE"},
    }[institution]
    data = {
        "institution_id": institution,
        "website": f"https://www.{institution}/",
        "contact": {"email": f"microcredentials@{institution}"},
        "grading_scheme_ids": ["be-0-20"] if institution.endswith(".be") else [],
        **base,
        **changes,
    }
    return InstitutionProfile.model_validate(data)


def make_directory() -> dict[str, InstitutionProfile]:
    return {i: profile(i) for i in (GENT, AMSTERDAM, HEIDELBERG, LEUVEN)}


def draft_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": {"en": "Data Ethics for Professionals", "nl": "Data-ethiek voor professionals"},
        "description": {"en": "Responsible use of data in organisations."},
        "learning_outcomes": [
            {
                "id": "LO1",
                "text": {"en": "Assess the ethics of a data project"},
                "esco_skill": "http://data.europa.eu/esco/skill/5b4a5c1a-2a2e-4a43-9d0e-4f4d1e9f3c11",
            },
            {"id": "LO2", "text": {"en": "Apply the GDPR to a data flow"}},
        ],
        "workload": {"ects": "10", "notional_hours": 280},
        "level": {"eqf": 7, "qf_ehea": "second_cycle"},
        "isced_field": "0613",
        "languages": ["en", "nl"],
        "participation": {"mode": "blended", "evening": True},
        "assessment": {"methods": ["project", "written_exam"]},
        "supervision": {"supervision": "supervised_on_site", "identity_verification": "on_site"},
        "quality_assurance": {"kind": "external", "agency": "NVAO", "deqar_id": "DEQARINST0001"},
        "components": [
            {
                "code": "DE1",
                "title": {"en": "Foundations of data ethics"},
                "ects": "4",
                "semester": "first",
                "learning_outcome_ids": ["LO1"],
                "teaching_institution": GENT,
            },
            {
                "code": "DE2",
                "title": {"en": "Data protection law"},
                "ects": "3",
                "semester": "second",
                "learning_outcome_ids": ["LO2"],
                "teaching_institution": AMSTERDAM,
            },
            {
                "code": "DE3",
                "title": {"en": "Ethics lab"},
                "ects": "3",
                "semester": "second",
                "learning_outcome_ids": ["LO1", "LO2"],
                "teaching_institution": HEIDELBERG,
            },
        ],
        "partners": [
            {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
            {"institution_id": AMSTERDAM, "roles": ["contributing", "awarding"]},
            {"institution_id": HEIDELBERG, "roles": ["contributing"]},
        ],
        "criteria": {
            "rule": {
                "kind": "all_of",
                "criteria": [
                    {"kind": "component_passed", "component": "DE1"},
                    {"kind": "ects_passed", "minimum": "10"},
                    {"kind": "weighted_average_grade", "minimum": "0.55"},
                ],
            },
            "validity_months": 60,
        },
    }
    data.update(changes)
    return data


def make_draft(**changes: Any) -> MicroCredentialDraft:
    return MicroCredentialDraft.model_validate(draft_data(**changes))


def publish_v1(mc_id: str = "mc-data-ethics", **changes: Any) -> MicroCredential:
    """A micro-credential published as version 1 after every partner signed off."""
    directory = make_directory()
    mc = MicroCredential(mc_id)
    mc.start_draft(editor(GENT), make_draft(**changes))
    mc.propose(editor(GENT), directory)
    for institution in (GENT, AMSTERDAM, HEIDELBERG):
        mc.approve(editor(institution))
    mc.publish(editor(GENT), directory)
    mc.take_pending()
    return mc
