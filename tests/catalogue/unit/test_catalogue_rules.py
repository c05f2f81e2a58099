"""Publishing rules: Annex I, volume, components, partners, elements and criteria; each problem
names its field path, and every problem is reported at once."""

from decimal import Decimal

import pytest

from tessera_catalogue.domain import VolumeRules, annex_i_completeness
from tessera_catalogue.domain.definition import definition_problems
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, HEIDELBERG, draft_data, make_draft

pytestmark = pytest.mark.unit


def problems(directory, rules=None, **changes):
    return definition_problems(
        make_draft(**changes),
        micro_credential_id="mc-1",
        coordinator_id=GENT,
        directory=directory,
        rules=rules or VolumeRules(),
    )


def components(*ects_and_semesters):
    base = draft_data()["components"]
    return [dict(base[i], ects=ects) for i, ects in enumerate(ects_and_semesters)]


def test_the_example_draft_has_no_problems(directory):
    assert problems(directory) == []


def test_an_empty_draft_lists_every_missing_element(directory):
    found = definition_problems(
        make_draft(
            **dict.fromkeys(draft_data(), None)
            | {
                "learning_outcomes": [],
                "languages": [],
                "components": [],
                "partners": [],
                "prerequisites": {"kind": "none"},
            }
        ),
        micro_credential_id="mc-1",
        coordinator_id=GENT,
        directory=directory,
        rules=VolumeRules(),
    )
    assert found == [
        "title: Annex I element 'title' is missing",
        "partners: Annex I element 'country_region_of_issuer' is missing",
        "partners: Annex I element 'awarding_bodies' is missing",
        "learning_outcomes: Annex I element 'learning_outcomes' is missing",
        "workload: Annex I element 'notional_workload' is missing",
        "level: Annex I element 'level' is missing",
        "assessment: Annex I element 'type_of_assessment' is missing",
        "participation: Annex I element 'form_of_participation' is missing",
        "quality_assurance: Annex I element 'type_of_quality_assurance' is missing",
        "description: is required",
        "isced_field: is required",
        "languages: is required",
        "components: is required",
        "criteria: is required",
        "partners: at least one partner (the coordinator) is required",
    ]


def test_annex_i_completeness_report(directory):
    report = annex_i_completeness(make_draft(), directory)
    assert report.complete and report.missing == ()
    assert report.at_issuance == ("learner_identification", "date_of_issuing")
    assert "supervision_and_identity_verification" in report.optional_present
    assert "further_information" not in report.optional_present
    partial = annex_i_completeness(make_draft(level=None, quality_assurance=None), directory)
    assert partial.missing == ("level", "type_of_quality_assurance") and not partial.complete


def test_issuer_country_needs_registered_awarding_bodies(directory):
    unregistered = {k: v for k, v in directory.items() if k != AMSTERDAM}
    assert "country_region_of_issuer" in annex_i_completeness(make_draft(), unregistered).missing


@pytest.mark.parametrize(
    ("ects", "hours", "expected"),
    [
        (
            "2",
            56,
            [
                "workload.ects: 2 ECTS is outside the consortium's range 3-30",
                "workload.notional_hours: 56 hours is outside 84-840",
            ],
        ),
        (
            "31",
            868,
            [
                "workload.ects: 31 ECTS is outside the consortium's range 3-30",
                "workload.notional_hours: 868 hours is outside 84-840",
            ],
        ),
        ("10", 200, ["workload.notional_hours: 200 hours does not match 10 ECTS (250-300 hours at 25-30 h/ECTS)"]),
    ],
)
def test_volume_rules(directory, ects, hours, expected):
    found = problems(directory, workload={"ects": ects, "notional_hours": hours})
    assert [p for p in found if p.startswith("workload")] == expected


def test_the_ects_range_is_configurable(directory):
    rules = VolumeRules(min_ects=Decimal(12), max_ects=Decimal(60))
    assert problems(directory, rules=rules) == ["workload.ects: 10 ECTS is outside the consortium's range 12-60"]


def test_component_ects_must_add_up_to_the_programme(directory):
    assert problems(directory, components=components("4", "3", "2.5")) == [
        "components: component ECTS add up to 9.5, not the programme's 10",
        "criteria.rule.criteria[1].minimum: 10 ECTS required but only 9.5 ECTS in scope",
    ]
    assert (
        problems(directory, components=components("4.5", "3", "2.5"), workload={"ects": "10.0", "notional_hours": 280})
        == []
    )


def test_component_rules(directory):
    comps = draft_data()["components"]
    comps[1] = dict(comps[1], code="DE1", learning_outcome_ids=["LO9"])
    comps[2] = dict(comps[2], teaching_institution="kuleuven.be")
    found = problems(directory, components=comps, criteria=None)
    assert found == [
        "criteria: is required",
        "components[1]: component code 'DE1' is used twice",
        "components[1].learning_outcome_ids[0]: unknown learning outcome 'LO9'",
        "components[2].teaching_institution: kuleuven.be is not a listed partner",
    ]


@pytest.mark.parametrize(
    ("partners", "expected"),
    [
        (
            [
                {"institution_id": GENT, "roles": ["coordinator"]},
                {"institution_id": AMSTERDAM, "roles": ["contributing"]},
                {"institution_id": HEIDELBERG, "roles": ["contributing"]},
            ],
            [
                "partners: Annex I element 'country_region_of_issuer' is missing",
                "partners: Annex I element 'awarding_bodies' is missing",
                "partners: at least one awarding partner (the Annex I awarding body) is required",
            ],
        ),
        (
            [
                {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
                {"institution_id": AMSTERDAM, "roles": ["contributing"]},
                {"institution_id": HEIDELBERG, "roles": ["contributing", "contributing"]},
                {"institution_id": AMSTERDAM, "roles": ["awarding"]},
            ],
            ["partners[2].roles: a role is listed twice", "partners[3].institution_id: uva.nl is listed twice"],
        ),
        (
            [
                {"institution_id": GENT, "roles": ["awarding"]},
                {"institution_id": AMSTERDAM, "roles": ["contributing"]},
                {"institution_id": HEIDELBERG, "roles": ["contributing"]},
            ],
            ["partners: exactly one coordinator is required, found 0"],
        ),
        (
            [
                {"institution_id": GENT, "roles": ["coordinator", "awarding"]},
                {"institution_id": AMSTERDAM, "roles": ["contributing"]},
                {"institution_id": HEIDELBERG, "roles": ["contributing"]},
                {"institution_id": "unknown.example.org", "roles": ["awarding"]},
            ],
            [
                "partners: Annex I element 'country_region_of_issuer' is missing",
                "partners[3].institution_id: unknown.example.org is not a registered institution",
            ],
        ),
    ],
)
def test_partner_rules(directory, partners, expected):
    assert sorted(problems(directory, partners=partners)) == sorted(expected)


def test_two_coordinators_are_refused(directory):
    partners = draft_data()["partners"]
    partners[1] = {"institution_id": AMSTERDAM, "roles": ["coordinator", "awarding"]}
    found = definition_problems(
        make_draft(partners=partners),
        micro_credential_id="mc-1",
        coordinator_id=GENT,
        directory=directory,
        rules=VolumeRules(),
    )
    assert found == ["partners: exactly one coordinator is required, found 2"]


def test_element_rules(directory):
    found = problems(
        directory,
        level={"eqf": 6, "qf_ehea": "second_cycle"},
        quality_assurance={"kind": "external"},
        prerequisites={"kind": "micro_credentials", "micro_credential_ids": ["mc-1"]},
    )
    assert found == [
        "level.qf_ehea: second_cycle corresponds to EQF 7, not 6",
        "quality_assurance.agency: external quality assurance names its agency or DEQAR id",
        "prerequisites.micro_credential_ids[0]: a micro-credential cannot require itself",
    ]
    assert problems(directory, prerequisites={"kind": "diploma_level"}) == [
        "prerequisites.diploma_eqf_level: is required for a diploma-level prerequisite"
    ]
    assert problems(directory, prerequisites={"kind": "micro_credentials"}) == [
        "prerequisites.micro_credential_ids: name at least one required micro-credential"
    ]
    assert problems(directory, level={"qf_ehea": "first_cycle"}) == []


def test_criteria_must_refer_to_known_components_and_be_reachable(directory):
    criteria = {
        "rule": {
            "kind": "any_of",
            "criteria": [
                {"kind": "component_minimum_grade", "component": "DE9", "minimum": "0.6"},
                {"kind": "ects_passed", "minimum": "7", "components": ["DE2", "DE3"]},
            ],
        }
    }
    assert problems(directory, criteria=criteria) == [
        "criteria.rule.criteria[0].component: unknown component 'DE9'",
        "criteria.rule.criteria[1].minimum: 7 ECTS required but only 6 ECTS in scope",
    ]


def test_malformed_values_are_refused_when_the_draft_is_built():
    with pytest.raises(ValueError, match="esco_skill"):
        make_draft(learning_outcomes=[{"id": "LO1", "text": {"en": "x"}, "esco_skill": "https://example.org/skill"}])
    with pytest.raises(ValueError, match="eqf"):
        make_draft(level={"eqf": 9})
    with pytest.raises(ValueError, match="isced_field"):
        make_draft(isced_field="0a13")
    with pytest.raises(ValueError, match="semester"):
        make_draft(components=[dict(draft_data()["components"][0], semester="third")])
