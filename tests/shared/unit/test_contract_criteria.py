"""Transparent award criteria: validation, narrative and the reference evaluator."""

import json
from decimal import Decimal

import pytest
from pydantic import TypeAdapter, ValidationError

from tessera_shared.contract.criteria import (
    AtLeastMicroCredentials,
    AwardCriteria,
    EctsTotal,
    Explanation,
    Facts,
    PathwayMember,
    PathwayRule,
    evaluate,
    evaluate_pathway,
    narrative,
    narratives,
    pathway_narrative,
    validate_criteria,
    validate_pathway_rule,
    validate_references,
)

pytestmark = pytest.mark.unit


def criteria(rule, validity_months=None) -> AwardCriteria:
    return AwardCriteria.model_validate({"rule": rule, "validity_months": validity_months})


JOINT = criteria(
    {
        "kind": "all_of",
        "criteria": [
            {"kind": "component_passed", "component": "A"},
            {"kind": "ects_passed", "minimum": "5"},
            {"kind": "weighted_average_grade", "minimum": "0.55"},
            {
                "kind": "at_least",
                "count": 1,
                "criteria": [
                    {"kind": "component_minimum_grade", "component": "B", "minimum": "0.7"},
                    {"kind": "attendance", "minimum": "80", "components": ["C"]},
                ],
            },
        ],
    },
    validity_months=36,
)


def result(score, passed=None, attempt=1, events=(), kind="numeric"):
    score = Decimal(str(score))
    return {
        "score": score,
        "passed": score >= Decimal("0.5") if passed is None else passed,
        "attempt": attempt,
        "event_ids": list(events),
        "scheme_kind": kind,
    }


def facts(**components) -> Facts:
    return Facts.model_validate({"components": components})


# --------------------------------------------------------------------------------- validation


def test_references_to_unknown_components_are_problems():
    rule = {
        "kind": "any_of",
        "criteria": [
            {"kind": "component_passed", "component": "X"},
            {"kind": "ects_passed", "minimum": "3", "components": ["A", "Y"]},
        ],
    }
    assert validate_references(criteria(rule), {"A", "B"}) == [
        "criteria.rule.criteria[0].component: unknown component 'X'",
        "criteria.rule.criteria[1].components[1]: unknown component 'Y'",
    ]
    assert validate_references(JOINT, {"A", "B", "C"}) == []


def test_unreachable_ects_threshold_is_a_problem():
    assert validate_criteria(JOINT, {"A": Decimal(2), "B": Decimal(2)}) == [
        "criteria.rule.criteria[3].criteria[1].components[0]: unknown component 'C'",
        "criteria.rule.criteria[1].minimum: 5 ECTS required but only 4 ECTS in scope",
    ]


def test_structure_is_validated_when_parsed():
    with pytest.raises(ValidationError, match="count 3 exceeds"):
        criteria({"kind": "at_least", "count": 3, "criteria": [{"kind": "component_passed", "component": "A"}]})
    with pytest.raises(ValidationError):
        criteria({"kind": "weighted_average_grade", "minimum": "1.5"})
    with pytest.raises(ValidationError):
        criteria({"kind": "all_of", "criteria": []})
    with pytest.raises(ValidationError):
        criteria({"kind": "teacher_likes_you"})
    with pytest.raises(ValidationError, match="listed twice"):  # would count its credits twice
        criteria({"kind": "ects_passed", "minimum": "3", "components": ["A", "A"]})


# ---------------------------------------------------------------------------------- narrative


def test_english_narrative():
    titles = {"A": {"en": "Foundations", "nl": "Grondslagen"}}
    assert narrative(JOINT, "en", titles) == (
        "To earn this micro-credential, a learner must meet all of the following conditions:\n"
        "- pass component A (Foundations)\n"
        "- pass components worth at least 5 ECTS credits\n"
        "- obtain an ECTS-weighted average normalised grade of at least 0.55\n"
        "- meet at least 1 of the following conditions:\n"
        "  - obtain a normalised grade of at least 0.7 in component B\n"
        "  - attend at least 80% of the compulsory sessions (components: C)\n"
        "\n"
        "Normalised grades run from 0 (lowest) to 1 (highest).\n"
        "\n"
        "The credential is valid for 36 months from the date of issue."
    )


def test_narratives_in_dutch_german_and_french():
    nl, de, fr = (
        narrative(JOINT, lang, {"A": {"en": "Foundations", "nl": "Grondslagen"}}) for lang in ("nl", "de", "fr")
    )
    assert nl.startswith("Om deze microcredential te behalen, moet de lerende aan alle volgende voorwaarden voldoen:")
    assert "- onderdeel A (Grondslagen) behalen" in nl
    assert "ten minste 0,55" in nl and "36 maanden geldig" in nl
    assert de.startswith("Um dieses Micro-Credential zu erwerben, müssen Lernende alle folgenden Bedingungen erfüllen:")
    assert "mindestens 0,55" in de and "an mindestens 80 % der Pflichtveranstaltungen teilnehmen" in de
    assert fr.startswith("Pour obtenir cette microcertification, l'apprenant doit remplir toutes les conditions")
    assert "d'au moins 0,55" in fr and "valable 36 mois" in fr


def test_a_single_condition_is_one_sentence():
    assert narrative(criteria({"kind": "ects_passed", "minimum": "7.5"})) == (
        "To earn this micro-credential, a learner must pass components worth at least 7.5 ECTS credits."
    )
    assert narrative(criteria({"kind": "ects_passed", "minimum": "7.5"}), "de-AT").endswith(
        "müssen Lernende Komponenten im Umfang von mindestens 7,5 ECTS-Punkten bestehen."
    )


def test_narratives_cover_english_and_the_supported_programme_languages():
    found = narratives(JOINT, ["nl-BE", "it", "fr"])
    assert list(found) == ["en", "nl", "fr"]
    assert narrative(JOINT, "it") == found["en"]


# --------------------------------------------------------------------------------- evaluation

SIX_ECTS = facts(
    A={"ects": 2, "result": result("0.70", events=["r-a1"])},
    B={"ects": 2, "result": result("0.50", attempt=2, events=["r-b1", "r-b2"])},
    C={"ects": 2, "result": result("0.66", events=["r-c1"]), "attendance": "85", "attendance_event_ids": ["att-c"]},
)


def test_ects_passed_explains_found_versus_threshold():
    partial = facts(A=SIX_ECTS.components["A"], B=SIX_ECTS.components["B"], C={"ects": 2})
    explanation = evaluate(criteria({"kind": "ects_passed", "minimum": "5"}), partial)
    assert not explanation.met
    assert explanation.summary == "4 of 6 ECTS passed (5 required)"
    assert (explanation.found, explanation.threshold, explanation.out_of) == (4, 5, 6)
    assert explanation.missing == ("C",)
    assert explanation.contributing_event_ids == ("r-a1", "r-b1", "r-b2")


def test_weighted_average_explains_found_versus_threshold():
    explanation = evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55"}), SIX_ECTS)
    assert explanation.met
    assert explanation.summary == "weighted average 0.62 >= 0.55"
    assert explanation.found == Decimal("0.62")
    assert explanation.contributing_event_ids == ("r-a1", "r-b1", "r-b2", "r-c1")


def test_weighted_average_is_exact_at_the_threshold():
    exact = facts(A={"ects": 3, "result": result("0.5")}, B={"ects": 3, "result": result("0.6")})
    assert evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55"}), exact).met
    below = facts(A={"ects": 3, "result": result("0.5")}, B={"ects": 3, "result": result("0.5999")})
    assert not evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55"}), below).met


def test_weighted_average_waits_for_every_result_in_scope():
    early = facts(A={"ects": 2, "result": result("0.9")}, B={"ects": 4})
    explanation = evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55"}), early)
    assert not explanation.met
    assert explanation.summary == "weighted average 0.9 >= 0.55; not yet known for B"
    scoped = evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55", "components": ["A"]}), early)
    assert scoped.met


def test_pass_fail_results_are_left_out_of_the_average():
    mixed = facts(A={"ects": 2, "result": result("0.6")}, B={"ects": 4, "result": result("1", kind="pass_fail")})
    explanation = evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.7"}), mixed)
    assert not explanation.met and explanation.found == Decimal("0.6")
    assert explanation.summary == "weighted average 0.6 < 0.7; pass/fail components not averaged: B"
    assert evaluate(criteria({"kind": "ects_passed", "minimum": "6"}), mixed).met


def test_component_conditions():
    passed = evaluate(criteria({"kind": "component_passed", "component": "B"}), SIX_ECTS)
    assert passed.met and passed.summary == "component B passed (attempt 2, grade 0.5)"
    grade = evaluate(criteria({"kind": "component_minimum_grade", "component": "A", "minimum": "0.75"}), SIX_ECTS)
    assert not grade.met and grade.summary == "component A grade 0.7 < 0.75 (attempt 1)"
    failed = facts(A={"ects": 2, "result": result("0.3", events=["r-x"])})
    assert not evaluate(criteria({"kind": "component_passed", "component": "A"}), failed).met
    unknown = evaluate(criteria({"kind": "component_passed", "component": "Z"}), SIX_ECTS)
    assert not unknown.met and unknown.missing == ("Z",) and unknown.summary == "component Z has no result yet"


def test_attendance():
    explanation = evaluate(criteria({"kind": "attendance", "minimum": "80", "components": ["C"]}), SIX_ECTS)
    assert explanation.met and explanation.summary == "attendance 85% >= 80%"
    assert explanation.contributing_event_ids == ("att-c",)
    overall = evaluate(criteria({"kind": "attendance", "minimum": "80"}), SIX_ECTS)
    assert not overall.met and overall.missing == ("A", "B")


def test_composition_tree_with_all_values():
    explanation = evaluate(JOINT, SIX_ECTS)
    assert explanation.met
    assert explanation.summary == "4 of 4 criteria met (4 required)"
    assert [child.met for child in explanation.children] == [True, True, True, True]
    at_least = explanation.children[3]
    assert at_least.summary == "1 of 2 criteria met (1 required)"
    assert [c.path for c in at_least.children] == ["rule.criteria[3].criteria[0]", "rule.criteria[3].criteria[1]"]
    assert explanation.contributing_event_ids == ("r-a1", "r-b1", "r-b2", "r-c1", "att-c")


def test_resit_failure_is_not_met():
    failed_resit = facts(
        **{**SIX_ECTS.components, "A": {"ects": 2, "result": result("0.4", attempt=2, events=["r-a2"])}}
    )
    explanation = evaluate(JOINT, failed_resit)
    assert not explanation.met
    assert explanation.children[0].summary == "component A not passed (attempt 2, grade 0.4)"
    assert explanation.children[1].summary == "4 of 6 ECTS passed (5 required)"


def test_evaluation_is_deterministic_and_json_serialisable():
    reordered = facts(**dict(reversed(list(SIX_ECTS.components.items()))))
    first, second = evaluate(JOINT, SIX_ECTS), evaluate(JOINT, reordered)
    assert first == second
    data = json.loads(json.dumps(first.model_dump(mode="json")))
    assert data["children"][2]["found"] == "0.62"
    assert Explanation.model_validate(data) == first


def test_float_scores_from_the_assessment_contract_compare_exactly():
    floats = facts(
        A={"ects": 3, "result": {"score": 0.1 + 0.45, "passed": True}},
        B={"ects": 3, "result": {"score": 0.55, "passed": True}},
    )
    assert floats.components["B"].result.score == Decimal("0.55")
    assert evaluate(criteria({"kind": "weighted_average_grade", "minimum": "0.55"}), floats).met


# ------------------------------------------------------------------------------------ pathways

MEMBERS = [
    PathwayMember(micro_credential_id="mc-1", title={"en": "Data Ethics"}, ects=Decimal(5)),
    PathwayMember(micro_credential_id="mc-2", title={"en": "Privacy"}, ects=Decimal(6)),
    PathwayMember(micro_credential_id="mc-3", title={"en": "AI", "fr": "IA"}, ects=Decimal(4)),
]


@pytest.mark.parametrize(
    ("rule", "held", "met", "summary"),
    [
        ({"kind": "all_of"}, ["mc-1", "mc-2"], False, "2 of 3 micro-credentials held (3 required)"),
        ({"kind": "at_least", "count": 2}, ["mc-1", "mc-3"], True, "2 of 3 micro-credentials held (2 required)"),
        ({"kind": "ects_total", "minimum": "10"}, ["mc-1", "mc-3"], False, "9 of 15 ECTS held (10 required)"),
        ({"kind": "ects_total", "minimum": "10"}, ["mc-2", "mc-3"], True, "10 of 15 ECTS held (10 required)"),
    ],
)
def test_pathway_rules(rule, held, met, summary):
    explanation = evaluate_pathway(
        TypeAdapter(PathwayRule).validate_python(rule), MEMBERS, {i: [f"award-{i}"] for i in held}
    )
    assert (explanation.met, explanation.summary) == (met, summary)
    assert explanation.contributing_event_ids == tuple(f"award-{i}" for i in held)
    assert explanation.missing == tuple(m.micro_credential_id for m in MEMBERS if m.micro_credential_id not in held)


def test_unreachable_pathway_rules_are_problems():
    assert validate_pathway_rule(AtLeastMicroCredentials(count=4), MEMBERS) == [
        "rule.count: 4 required but only 3 micro-credentials listed"
    ]
    assert validate_pathway_rule(EctsTotal(minimum=Decimal(16)), MEMBERS) == [
        "rule.minimum: 16 ECTS required but only 15 ECTS listed"
    ]
    assert validate_pathway_rule(EctsTotal(minimum=Decimal(15)), MEMBERS) == []


def test_pathway_narrative():
    assert pathway_narrative(AtLeastMicroCredentials(count=2), MEMBERS, "fr") == (
        "Pour obtenir cette certification, l'apprenant doit détenir au moins 2 des microcertifications suivantes :\n"
        "- Data Ethics (5 ECTS)\n- Privacy (6 ECTS)\n- IA (4 ECTS)"
    )
