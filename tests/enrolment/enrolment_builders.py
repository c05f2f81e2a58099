"""Catalogue and credential events as the enrolment service receives them, for its tests.

The seed programme: two components, C1 (4.5 ECTS, first semester, ugent.be at 37.50/ECTS) and C2
(3 ECTS, second semester, uva.nl at 40/ECTS): fee 168.75 + 120.00 = 288.75; the seed refund policy
of 2025-2026 (before 1 December full; until 14 March the second-semester credits, 120.00; from
15 March nothing).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import credential as cred
from tessera_shared.contract.terms import seed_refund_policy

COORDINATOR = "ugent.be"
PARTNER = "uva.nl"
OUTSIDER = "kuleuven.be"
FEE = Decimal("288.75")
SECOND_SEMESTER_REFUND = Decimal("120.00")
ENROL_DAY = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)  # inside the seed window 2025-05-01 .. 2025-09-15

PARTNERS = [
    {
        "institution_id": COORDINATOR,
        "roles": ["coordinator", "awarding"],
        "name": {"nl": "Universiteit Gent"},
        "country": "BE",
    },
    {
        "institution_id": PARTNER,
        "roles": ["contributing"],
        "name": {"nl": "Universiteit van Amsterdam"},
        "country": "NL",
    },
]
CRITERIA = {"rule": {"kind": "all_of", "criteria": [{"kind": "component_passed", "component": "C1"}]}}
COMPONENTS = [
    {"code": "C1", "ects": "4.5", "semester": "first", "teaching_institution": COORDINATOR},
    {"code": "C2", "ects": "3", "semester": "second", "teaching_institution": PARTNER},
]


def definition(prerequisites: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "title": {"en": "Data Ethics"},
        "description": {"en": "Responsible data use."},
        "learning_outcomes": [{"id": "LO1", "text": {"en": "Assess ethics"}}],
        "workload": {"ects": "7.5", "notional_hours": 200},
        "level": {"eqf": 6},
        "isced_field": "0613",
        "languages": ["en"],
        "participation": {"mode": "online"},
        "assessment": {"methods": ["project"]},
        "quality_assurance": {"kind": "internal"},
        "prerequisites": prerequisites or {"kind": "none"},
        "components": [
            {**c, "title": {"en": c["code"]}, "learning_outcome_ids": ["LO1"] if c["code"] == "C1" else []}
            for c in COMPONENTS
        ],
        "partners": PARTNERS,
        "criteria": CRITERIA,
        "criteria_narrative": {"en": "Pass C1."},
    }


def version_published(mc_id: str, version: int = 1, prerequisites: dict[str, Any] | None = None):
    event = cat.MicroCredentialVersionPublished.model_validate(
        {
            "micro_credential_id": mc_id,
            "version": version,
            "definition": definition(prerequisites),
            "approvals": [{"institution_id": COORDINATOR, "approved_by": "editor-1"}],
            "published_by": "editor-1",
        }
    )
    return event, f"micro-credential-{mc_id}"


def terms(capacity: int = 50, waitlist: bool = True, **overrides: Any) -> dict[str, Any]:
    return {
        "academic_year": "2025-2026",
        "period": "full_year",
        "starts_on": "2025-09-22",
        "ends_on": "2026-06-30",
        "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-09-15"},
        "capacity": capacity,
        "waitlist": waitlist,
        "attendance": {"compulsory": False},
        "tariff": {"kind": "per_ects", "rate": "37.50", "institution_rates": {PARTNER: "40"}},
        "refund_policy": seed_refund_policy("2025-2026").model_dump(mode="json"),
        **overrides,
    }


def offering_scheduled(
    offering_id: str, mc_id: str, version: int = 1, prerequisites: dict[str, Any] | None = None, **terms_kw: Any
):
    event = cat.OfferingScheduled.model_validate(
        {
            "offering_id": offering_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": version,
            "coordinator_id": COORDINATOR,
            "title": {"en": "Data Ethics"},
            "ects": "7.5",
            "terms": terms(**terms_kw),
            "components": COMPONENTS,
            "criteria": CRITERIA,
            "prerequisites": prerequisites or {"kind": "none"},
            "partners": [{"institution_id": p["institution_id"], "roles": p["roles"]} for p in PARTNERS],
            "fee": str(FEE),
            "scheduled_by": "editor-1",
        }
    )
    return event, offering_id


def lifecycle(kind: type[cat.OfferingLifecycleEvent], offering_id: str, mc_id: str, version: int = 1, **extra: Any):
    event = kind.model_validate(
        {
            "offering_id": offering_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": version,
            "by": "editor-1",
            **extra,
        }
    )
    return event, offering_id


def open_offering(offering_id: str, mc_id: str, *, prerequisites: dict[str, Any] | None = None, **terms_kw: Any):
    """The events that make an offering open for enrolment, in the catalogue's order."""
    return [
        version_published(mc_id, prerequisites=prerequisites),
        offering_scheduled(offering_id, mc_id, prerequisites=prerequisites, **terms_kw),
        lifecycle(cat.OfferingOpened, offering_id, mc_id),
    ]


def awarded(learner_id: str, mc_id: str, offering_id: str, *, award_id: str | None = None, **extra: Any):
    award_id = award_id or f"award-{uuid.uuid4().hex[:8]}"
    event = cred.CredentialAwarded.model_validate(
        {
            "award_id": award_id,
            "learner_id": learner_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": 1,
            "offering_id": offering_id,
            "awarded_at": "2026-07-01T10:00:00Z",
            "explanation": {"met": True},
            "grade_summary": {"ects_earned": "7.5"},
            **extra,
        }
    )
    return event, f"award-{award_id}"


def revoked(learner_id: str, mc_id: str, offering_id: str, award_id: str):
    event = cred.AwardRevoked.model_validate(
        {
            "award_id": award_id,
            "learner_id": learner_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": 1,
            "offering_id": offering_id,
            "revoked_at": "2026-08-01T10:00:00Z",
            "reason": "result corrected",
        }
    )
    return event, f"award-{award_id}"


def superseded(learner_id: str, mc_id: str, offering_id: str, award_id: str, by: str):
    event = cred.AwardSuperseded.model_validate(
        {
            "award_id": award_id,
            "superseded_by": by,
            "learner_id": learner_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": 1,
            "offering_id": offering_id,
            "superseded_at": "2026-08-01T10:00:00Z",
            "reason": "grade corrected",
        }
    )
    return event, f"award-{award_id}"


def consent(terms_version: str = "2025-1") -> dict[str, Any]:
    return {"accepted": True, "terms_version": terms_version}
