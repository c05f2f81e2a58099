"""The catalogue's integration events: self-contained snapshots that survive a JSON round trip."""

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import parse_data, registered_types
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.terms import OfferingTerms, seed_refund_policy

pytestmark = pytest.mark.unit

INSTITUTION = {
    "institution_id": "ugent.be",
    "erasmus_code": "B  GENT01",
    "name": {"nl": "Universiteit Gent", "en": "Ghent University"},
    "country": "BE",
    "region": "BE-VOV",
    "website": "https://www.ugent.be/",
    "logo_url": "https://www.ugent.be/logo.svg",
    "contact": {"email": "mc@ugent.be", "name": "Micro-credentials office"},
    "grading_scheme_ids": ["be-0-20"],
}
PARTNERS = [
    {
        "institution_id": "ugent.be",
        "roles": ["coordinator", "awarding"],
        "name": {"nl": "Universiteit Gent"},
        "country": "BE",
        "region": "BE-VOV",
    },
    {
        "institution_id": "uva.nl",
        "roles": ["contributing"],
        "name": {"nl": "Universiteit van Amsterdam"},
        "country": "NL",
        "erasmus_code": "NL AMSTERD01",
    },
]
CRITERIA = {
    "rule": {
        "kind": "all_of",
        "criteria": [
            {"kind": "component_passed", "component": "C1"},
            {"kind": "weighted_average_grade", "minimum": "0.55"},
        ],
    }
}
DEFINITION = {
    "title": {"en": "Data Ethics"},
    "description": {"en": "Responsible data use."},
    "learning_outcomes": [
        {"id": "LO1", "text": {"en": "Assess ethics"}, "esco_skill": "http://data.europa.eu/esco/skill/abc-123"}
    ],
    "workload": {"ects": "7.5", "notional_hours": 200},
    "level": {"eqf": 6, "qf_ehea": "first_cycle"},
    "isced_field": "0613",
    "languages": ["en", "nl-BE"],
    "participation": {"mode": "online", "distance": True, "evening": True},
    "assessment": {"methods": ["project"], "description": {"en": "A group project"}},
    "supervision": {"supervision": "supervised_online", "identity_verification": "online"},
    "quality_assurance": {
        "kind": "external",
        "agency": "NVAO",
        "deqar_id": "DEQARINST0001",
        "url": "https://www.nvao.net/",
    },
    "prerequisites": {"kind": "diploma_level", "diploma_eqf_level": 6},
    "grading": {"scheme_ids": ["be-0-20"]},
    "integration": {"stackable": True, "description": {"en": "Counts towards the RDS pathway."}},
    "further_information_url": "https://www.ugent.be/mc/data-ethics",
    "components": [
        {
            "code": "C1",
            "title": {"en": "Ethics"},
            "ects": "4.5",
            "semester": "first",
            "learning_outcome_ids": ["LO1"],
            "teaching_institution": "ugent.be",
        },
        {"code": "C2", "title": {"en": "Law"}, "ects": "3", "semester": "second", "teaching_institution": "uva.nl"},
    ],
    "partners": PARTNERS,
    "criteria": CRITERIA,
    "criteria_narrative": {"en": "To earn this micro-credential, ..."},
}
TERMS = {
    "academic_year": "2025-2026",
    "period": "full_year",
    "starts_on": "2025-09-22",
    "ends_on": "2026-06-30",
    "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-09-15"},
    "capacity": 50,
    "attendance": {"compulsory": True, "description": {"en": "Lab days are compulsory."}},
    "sessions": [{"starts_at": "2025-09-23T18:00:00+02:00", "ends_at": "2025-09-23T21:00:00+02:00"}],
    "tariff": {"kind": "per_ects", "rate": "37.50", "institution_rates": {"uva.nl": "40"}},
    "refund_policy": seed_refund_policy("2025-2026").model_dump(mode="json"),
}
LIFECYCLE = {"offering_id": "off-1", "micro_credential_id": "mc-1", "micro_credential_version": 2, "by": "u-1"}
MEMBERS = [
    {"micro_credential_id": "mc-1", "title": {"en": "Data Ethics"}, "ects": "7.5"},
    {"micro_credential_id": "mc-2", "title": {"en": "Privacy"}, "ects": "5"},
]

EXAMPLES: dict[type, dict[str, Any]] = {
    cat.InstitutionRegistered: {"institution": INSTITUTION},
    cat.InstitutionUpdated: {"institution": {**INSTITUTION, "website": "https://www.ugent.be/en"}},
    cat.MicroCredentialVersionPublished: {
        "micro_credential_id": "mc-1",
        "version": 2,
        "definition": DEFINITION,
        "published_by": "u-1",
        "approvals": [
            {"institution_id": "ugent.be", "approved_by": "u-1"},
            {"institution_id": "uva.nl", "approved_by": "u-2"},
        ],
    },
    cat.MicroCredentialRetired: {
        "micro_credential_id": "mc-1",
        "last_version": 2,
        "reason": "old",
        "retired_by": "u-1",
    },
    cat.OfferingScheduled: {
        "offering_id": "off-1",
        "micro_credential_id": "mc-1",
        "micro_credential_version": 2,
        "coordinator_id": "ugent.be",
        "title": {"en": "Data Ethics"},
        "ects": "7.5",
        "terms": TERMS,
        "components": [
            {"code": "C1", "ects": "4.5", "semester": "first", "teaching_institution": "ugent.be"},
            {"code": "C2", "ects": "3", "semester": "second", "teaching_institution": "uva.nl"},
        ],
        "criteria": CRITERIA,
        "prerequisites": {"kind": "micro_credentials", "micro_credential_ids": ["mc-0"]},
        "partners": [{"institution_id": "ugent.be", "roles": ["coordinator", "awarding"]}],
        "fee": "288.75",
        "scheduled_by": "u-1",
    },
    cat.OfferingOpened: LIFECYCLE,
    cat.OfferingClosed: LIFECYCLE,
    cat.OfferingStarted: LIFECYCLE,
    cat.OfferingFinished: LIFECYCLE,
    cat.OfferingCancelled: {**LIFECYCLE, "reason": "too few enrolments"},
    cat.PathwayPublished: {
        "pathway_id": "pw-1",
        "version": 1,
        "published_by": "u-1",
        "approvals": [{"institution_id": "ugent.be", "approved_by": "u-1"}],
        "definition": {
            "title": {"en": "Responsible Data Science"},
            "description": {"en": "Two of them."},
            "members": MEMBERS,
            "rule": {"kind": "ects_total", "minimum": "10"},
            "partners": PARTNERS,
            "narrative": {"en": "To earn this credential, ..."},
        },
    },
}


def test_every_catalogue_contract_event_has_an_example():
    contract_types = {
        name
        for name, model in registered_types().items()
        if name.startswith("tessera.catalogue.") and model.__module__ == cat.__name__
    }
    assert contract_types == {e.event_type for e in cat.CATALOGUE_EVENTS} == {e.event_type for e in EXAMPLES}


@pytest.mark.parametrize("event_class", list(EXAMPLES), ids=lambda c: c.__name__)
def test_round_trip_through_json_and_the_envelope(event_class):
    event = event_class.model_validate(EXAMPLES[event_class])
    data = event.model_dump(mode="json")
    assert parse_data(event.event_type, data) == event
    envelope = Envelope(
        id="evt-1",
        source="/tessera/catalogue",
        type=event.event_type,
        subject="x",
        time="2025-05-01T10:00:00Z",
        data=data,
    )
    received = Envelope.from_bytes(envelope.to_bytes())
    assert parse_data(received.type, received.data) == event


def test_published_snapshot_is_self_contained():
    event = cat.MicroCredentialVersionPublished.model_validate(EXAMPLES[cat.MicroCredentialVersionPublished])
    definition = event.definition
    assert definition.coordinator_id == "ugent.be"
    assert [p.institution_id for p in definition.awarding_bodies] == ["ugent.be"]
    assert definition.partners[0].country == "BE" and definition.partners[0].name == {"nl": "Universiteit Gent"}
    assert [(c.code, c.semester.value) for c in definition.component_terms] == [("C1", "first"), ("C2", "second")]
    assert definition.workload.ects == Decimal("7.5")
    assert json.loads(json.dumps(event.model_dump(mode="json")))["definition"]["workload"]["ects"] == "7.5"


def test_consumers_ignore_fields_added_later():
    data = {**EXAMPLES[cat.OfferingCancelled], "refund_note": "new optional field"}
    assert parse_data(cat.OfferingCancelled.event_type, data) == cat.OfferingCancelled.model_validate(
        LIFECYCLE | {"reason": "too few enrolments"}
    )


def test_a_published_definition_requires_its_elements():
    for missing in ("title", "learning_outcomes", "workload", "components", "partners", "criteria"):
        with pytest.raises(ValidationError):
            cat.MicroCredentialDefinition.model_validate({k: v for k, v in DEFINITION.items() if k != missing})


def test_offering_terms_parse_the_seed_policy():
    terms = OfferingTerms.model_validate(TERMS)
    assert terms.refund_policy == seed_refund_policy("2025-2026")
    assert terms.tariff.rate_for("uva.nl") == Decimal(40)
