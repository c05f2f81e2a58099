"""Grading schemes: boundaries, formats, normalisation properties, registry and descriptions."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import pairwise

import pytest
from pydantic import TypeAdapter

from tessera_assessment.domain.grading import (
    REGISTRY,
    GradeResult,
    InvalidGrade,
    Letter,
    LetterScale,
    NumericScale,
    PassFailScale,
    SchemeRegistry,
    UnknownScheme,
    get_scheme,
    parse_grade,
    scheme_from_description,
)
from tessera_shared.contract.assessment import GradingSchemeDescription, NumericSchemeDescription
from tessera_shared.kernel.aggregate import DomainError

pytestmark = pytest.mark.unit

NAMED = ["be-flemish-0-20", "nl-1-10", "de-1-5", "de-1-5-mean", "ects-letter", "pass-fail"]


# --- boundaries and accepted formats ----------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme_id", "text", "native", "score", "passed"),
    [
        # Flemish 0–20, whole marks, pass >= 10
        ("be-flemish-0-20", "0", "0", 0.0, False),
        ("be-flemish-0-20", "9", "9", 0.45, False),
        ("be-flemish-0-20", "10", "10", 0.5, True),
        ("be-flemish-0-20", "11", "11", 0.55, True),
        ("be-flemish-0-20", "20", "20", 1.0, True),
        ("be-flemish-0-20", " 14 ", "14", 0.7, True),
        ("be-flemish-0-20", "14.0", "14", 0.7, True),
        ("be-flemish-0-20", "14,0", "14", 0.7, True),
        ("be-flemish-0-20", "014", "14", 0.7, True),
        ("be-flemish-0-20", "-0", "0", 0.0, False),
        # Dutch 1–10, one decimal, pass >= 5.5
        ("nl-1-10", "1", "1.0", 0.0, False),
        ("nl-1-10", "5.4", "5.4", 0.488888, False),
        ("nl-1-10", "5,4", "5.4", 0.488888, False),
        ("nl-1-10", "5.5", "5.5", 0.5, True),
        ("nl-1-10", "5,5", "5.5", 0.5, True),
        ("nl-1-10", "5.6", "5.6", 0.511111, True),
        ("nl-1-10", "7,50", "7.5", 0.722222, True),
        ("nl-1-10", "10", "10.0", 1.0, True),
        # German 1.0–5.0 steps, lower is better, pass <= 4.0
        ("de-1-5", "1.0", "1.0", 1.0, True),
        ("de-1-5", "1", "1.0", 1.0, True),
        ("de-1-5", "1,3", "1.3", 0.95, True),
        ("de-1-5", "2,3", "2.3", 0.783333, True),
        ("de-1-5", "2.30", "2.3", 0.783333, True),
        ("de-1-5", "3.7", "3.7", 0.55, True),
        ("de-1-5", "4.0", "4.0", 0.5, True),
        ("de-1-5", "4,0", "4.0", 0.5, True),
        ("de-1-5", "5", "5.0", 0.0, False),
        # German computed mean: any one-decimal value
        ("de-1-5-mean", "3.9", "3.9", 0.516666, True),
        ("de-1-5-mean", "4,0", "4.0", 0.5, True),
        ("de-1-5-mean", "4.1", "4.1", 0.45, False),
        ("de-1-5-mean", "2,4", "2.4", 0.766666, True),
        ("de-1-5-mean", "5.0", "5.0", 0.0, False),
        # percentages
        ("percentage-50", "0", "0.0", 0.0, False),
        ("percentage-50", "49.9", "49.9", 0.499, False),
        ("percentage-50", "50", "50.0", 0.5, True),
        ("percentage-50", "50,1", "50.1", 0.501, True),
        ("percentage-50", "100", "100.0", 1.0, True),
        ("percentage-60", "30", "30.0", 0.25, False),
        ("percentage-60", "59.9", "59.9", 0.499166, False),
        ("percentage-60", "60", "60.0", 0.5, True),
        ("percentage-60", "60.1", "60.1", 0.50125, True),
        ("percentage-60", "80", "80.0", 0.75, True),
        ("percentage-55.5", "55.4", "55.4", 0.499099, False),
        ("percentage-55.5", "55.5", "55.5", 0.5, True),
        # ECTS letters
        ("ects-letter", "A", "A", 1.0, True),
        ("ects-letter", "b", "B", 0.875, True),
        ("ects-letter", "C", "C", 0.75, True),
        ("ects-letter", "D", "D", 0.625, True),
        ("ects-letter", " E ", "E", 0.5, True),
        ("ects-letter", "FX", "FX", 0.25, False),
        ("ects-letter", "Fx", "FX", 0.25, False),
        ("ects-letter", "F", "F", 0.0, False),
        # pass / fail
        ("pass-fail", "pass", "pass", 1.0, True),
        ("pass-fail", "PASSED", "pass", 1.0, True),
        ("pass-fail", "Bestanden", "pass", 1.0, True),
        ("pass-fail", "fail", "fail", 0.0, False),
        ("pass-fail", "Niet   geslaagd", "fail", 0.0, False),
        ("pass-fail", "nicht bestanden", "fail", 0.0, False),
    ],
)
def test_grade_parses_to_native_score_and_pass_flag(
    scheme_id: str, text: str, native: str, score: float, passed: bool
) -> None:
    result = parse_grade(scheme_id, text)
    assert result == GradeResult(
        native=native,
        scheme_id=scheme_id,
        scheme_kind=get_scheme(scheme_id).kind,
        normalised_score=score,
        passed=passed,
    )


@pytest.mark.parametrize(
    ("scheme_id", "text", "reason"),
    [
        ("be-flemish-0-20", "-1", "out_of_range"),
        ("be-flemish-0-20", "21", "out_of_range"),
        ("be-flemish-0-20", "20.5", "out_of_range"),
        ("be-flemish-0-20", "14.5", "precision"),
        ("be-flemish-0-20", "9,5", "precision"),
        ("be-flemish-0-20", "", "format"),
        ("be-flemish-0-20", "   ", "format"),
        ("be-flemish-0-20", "abc", "format"),
        ("be-flemish-0-20", "1e1", "format"),
        ("be-flemish-0-20", "14/20", "format"),
        ("be-flemish-0-20", "+5", "format"),
        ("be-flemish-0-20", "1 4", "format"),
        ("be-flemish-0-20", ".5", "format"),
        ("be-flemish-0-20", "5.", "format"),
        ("be-flemish-0-20", "1.000,5", "format"),
        ("be-flemish-0-20", "NaN", "format"),
        ("be-flemish-0-20", "inf", "format"),
        ("be-flemish-0-20", "\u0661\u0664", "format"),  # Arabic-Indic digits
        ("nl-1-10", "0", "out_of_range"),
        ("nl-1-10", "0.9", "out_of_range"),
        ("nl-1-10", "10.1", "out_of_range"),
        ("nl-1-10", "5.55", "precision"),
        ("nl-1-10", "5,45", "precision"),
        ("nl-1-10", "zes", "format"),
        ("de-1-5", "4.3", "not_allowed"),
        ("de-1-5", "4,7", "not_allowed"),
        ("de-1-5", "2.5", "not_allowed"),
        ("de-1-5", "1.15", "not_allowed"),
        ("de-1-5", "0.7", "out_of_range"),
        ("de-1-5", "5.3", "out_of_range"),
        ("de-1-5", "6", "out_of_range"),
        ("de-1-5-mean", "2.45", "precision"),
        ("de-1-5-mean", "0.9", "out_of_range"),
        ("de-1-5-mean", "5.1", "out_of_range"),
        ("percentage-50", "100.1", "out_of_range"),
        ("percentage-50", "-0.1", "out_of_range"),
        ("percentage-50", "50.05", "precision"),
        ("percentage-50", "50%", "format"),
        ("ects-letter", "G", "not_allowed"),
        ("ects-letter", "A+", "not_allowed"),
        ("ects-letter", "FXX", "not_allowed"),
        ("ects-letter", "", "not_allowed"),
        ("pass-fail", "yes", "not_allowed"),
        ("pass-fail", "passs", "not_allowed"),
        ("pass-fail", "", "not_allowed"),
    ],
)
def test_bad_grade_is_refused_with_typed_reason(scheme_id: str, text: str, reason: str) -> None:
    with pytest.raises(InvalidGrade) as caught:
        parse_grade(scheme_id, text)
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.status == 422
    assert error.reason == reason
    assert error.field == "grade"
    assert error.scheme_id == scheme_id
    assert error.value == text.strip()
    assert repr(text.strip()) in str(error)


def test_error_names_the_caller_field_and_explains() -> None:
    with pytest.raises(InvalidGrade) as caught:
        parse_grade("de-1-5", "4.3", field="rows[17].grade")
    assert caught.value.field == "rows[17].grade"
    message = str(caught.value)
    assert "allowed: 1.0, 1.3, 1.7, 2.0, 2.3, 2.7, 3.0, 3.3, 3.7, 4.0, 5.0" in message
    with pytest.raises(InvalidGrade, match="must be a whole number"):
        parse_grade("be-flemish-0-20", "14.5")
    with pytest.raises(InvalidGrade, match="more than 1 decimal"):
        parse_grade("nl-1-10", "7.55")
    with pytest.raises(InvalidGrade, match=r"outside the scale 1\.0–10\.0"):
        parse_grade("nl-1-10", "11")


def test_non_text_inputs() -> None:
    assert parse_grade("be-flemish-0-20", 14).native == "14"
    assert parse_grade("nl-1-10", Decimal("7.50")).native == "7.5"
    with pytest.raises(TypeError):
        parse_grade("be-flemish-0-20", True)


# --- unknown schemes and the percentage family -----------------------------------------------


@pytest.mark.parametrize(
    "scheme_id",
    [
        "xx",
        "",
        "nl-1-10 ",
        "NL-1-10",
        "percentage",
        "percentage-",
        "percentage-0",
        "percentage-100",
        "percentage-150",
        "percentage-050",
        "percentage-50.0",
        "percentage-55.55",
        "percentage-abc",
        "percentage--5",
    ],
)
def test_unknown_scheme(scheme_id: str) -> None:
    with pytest.raises(UnknownScheme) as caught:
        parse_grade(scheme_id, "10")
    assert caught.value.status == 422
    assert caught.value.field == "scheme_id"
    assert caught.value.scheme_id == scheme_id


def test_unknown_scheme_hints() -> None:
    with pytest.raises(UnknownScheme, match=r"write percentage-50$"):
        get_scheme("percentage-050")
    with pytest.raises(UnknownScheme, match="strictly between 0 and 100"):
        get_scheme("percentage-100")
    with pytest.raises(UnknownScheme, match=r"known: be-flemish-0-20, .*percentage-<pass mark>") as caught:
        get_scheme("nope", field="rows[3].scheme")
    assert caught.value.field == "rows[3].scheme"


def test_percentage_family_builds_a_scheme_per_pass_mark() -> None:
    scheme = get_scheme("percentage-57.5")
    assert isinstance(scheme, NumericScale)
    assert (scheme.scheme_id, scheme.pass_mark, scheme.minimum, scheme.maximum) == (
        "percentage-57.5",
        Decimal("57.5"),
        Decimal(0),
        Decimal(100),
    )
    assert "57.5" in scheme.label
    assert parse_grade("percentage-57.5", "57.4").passed is False
    assert parse_grade("percentage-57.5", "57.5").passed is True


# --- properties over every valid value --------------------------------------------------------


def _valid_values(scheme: NumericScale) -> list[Decimal]:
    if scheme.allowed_values is not None:
        return list(scheme.allowed_values)
    count = int((scheme.maximum - scheme.minimum) / scheme.step)
    return [scheme.minimum + i * scheme.step for i in range(count + 1)]


NUMERIC = ["be-flemish-0-20", "nl-1-10", "de-1-5", "de-1-5-mean", "percentage-50", "percentage-60"]
_rng = random.Random(20240905)
RANDOM_PERCENTAGE = [f"percentage-{_rng.randint(1, 999) / 10:g}" for _ in range(25)]


@pytest.mark.parametrize("scheme_id", NUMERIC + RANDOM_PERCENTAGE)
def test_normalisation_is_monotone_and_pins_the_pass_mark(scheme_id: str) -> None:
    scheme = get_scheme(scheme_id)
    assert isinstance(scheme, NumericScale)
    values = _valid_values(scheme)
    # order from worst to best: ascending, or descending when lower is better (German)
    worst_to_best = values if scheme.higher_is_better else list(reversed(values))
    results = [scheme.parse(str(v).replace(".", ",")) for v in worst_to_best]
    scores = [r.normalised_score for r in results]
    assert all(a < b for a, b in pairwise(scores)), "strictly increasing with quality"
    assert scores[0] == 0.0 and scores[-1] == 1.0
    assert all(0.0 <= s <= 1.0 for s in scores)
    flags = [r.passed for r in results]
    first_pass = flags.index(True)
    assert flags == [False] * first_pass + [True] * (len(flags) - first_pass), "fails then passes"
    assert Decimal(results[first_pass].native) == scheme.pass_mark
    assert results[first_pass].normalised_score == 0.5
    assert all(r.passed == (r.normalised_score >= 0.5) for r in results)


def test_german_lower_is_better() -> None:
    order = ["1.0", "1.3", "1.7", "2.0", "2.3", "2.7", "3.0", "3.3", "3.7", "4.0", "5.0"]
    scores = [parse_grade("de-1-5", g).normalised_score for g in order]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    assert parse_grade("de-1-5", "1.3").normalised_score > parse_grade("de-1-5", "1.7").normalised_score
    assert [parse_grade("de-1-5", g).passed for g in ("3.7", "4.0", "5.0")] == [True, True, False]


def test_letters_and_pass_fail_are_ordered() -> None:
    letters = ["F", "FX", "E", "D", "C", "B", "A"]
    scores = [parse_grade("ects-letter", x).normalised_score for x in letters]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)
    assert [parse_grade("ects-letter", x).passed for x in letters] == [False, False, *[True] * 5]
    assert parse_grade("pass-fail", "fail").normalised_score < parse_grade("pass-fail", "pass").normalised_score


@pytest.mark.parametrize("scheme_id", ["be-flemish-0-20", "nl-1-10", "de-1-5-mean", "percentage-60"])
def test_random_text_is_accepted_exactly_when_in_range_and_on_step(scheme_id: str) -> None:
    scheme = get_scheme(scheme_id)
    assert isinstance(scheme, NumericScale)
    rng = random.Random(scheme_id)
    for _ in range(2000):
        whole = rng.randint(-3, int(scheme.maximum) + 3)
        decimals = rng.randint(0, 3)
        frac = "".join(rng.choice("0123456789") for _ in range(decimals))
        text = f"{whole}{rng.choice('.,')}{frac}" if decimals else str(whole)
        value = Decimal(text.replace(",", "."))
        expected_ok = scheme.minimum <= value <= scheme.maximum and value % scheme.step == 0
        try:
            result = scheme.parse(text)
        except InvalidGrade:
            assert not expected_ok, text
        else:
            assert expected_ok, text
            assert Decimal(result.native) == value
            assert result.passed == (
                value >= scheme.pass_mark if scheme.higher_is_better else value <= scheme.pass_mark
            )


def test_bare_pass_best_and_worst_coincide_across_schemes() -> None:
    bare_pass = {
        "be-flemish-0-20": "10",
        "nl-1-10": "5.5",
        "de-1-5": "4.0",
        "de-1-5-mean": "4.0",
        "percentage-50": "50",
        "percentage-70": "70",
        "ects-letter": "E",
    }
    best = {
        "be-flemish-0-20": "20",
        "nl-1-10": "10",
        "de-1-5": "1.0",
        "percentage-70": "100",
        "ects-letter": "A",
    }
    worst = {
        "be-flemish-0-20": "0",
        "nl-1-10": "1",
        "de-1-5": "5.0",
        "percentage-70": "0",
        "ects-letter": "F",
    }
    assert {parse_grade(s, g).normalised_score for s, g in bare_pass.items()} == {0.5}
    assert {parse_grade(s, g).normalised_score for s, g in best.items()} == {1.0}
    assert {parse_grade(s, g).normalised_score for s, g in worst.items()} == {0.0}


# --- schemes as data --------------------------------------------------------------------------


def test_registry_holds_the_named_schemes() -> None:
    assert sorted(REGISTRY.schemes) == sorted(NAMED)
    assert [d.scheme_id for d in REGISTRY.describe()] == sorted(NAMED)
    assert {get_scheme(s).kind for s in NAMED} == {"numeric", "letter", "pass_fail"}
    with pytest.raises(ValueError, match="registered twice"):
        REGISTRY.register(get_scheme("nl-1-10"))


@pytest.mark.parametrize("scheme_id", [*NAMED, "percentage-65"])
def test_description_round_trips_through_json(scheme_id: str) -> None:
    scheme = get_scheme(scheme_id)
    adapter: TypeAdapter[GradingSchemeDescription] = TypeAdapter(GradingSchemeDescription)
    description = adapter.validate_json(adapter.dump_json(scheme.describe()))
    assert description == scheme.describe()
    assert scheme_from_description(description) == scheme


def test_a_scheme_from_data_behaves_like_code() -> None:
    data = {
        "kind": "numeric",
        "scheme_id": "fr-0-20",
        "label": "French 0–20, pass ≥ 10, half points",
        "minimum": "0",
        "maximum": "20",
        "pass_mark": "10",
        "step": "0.5",
    }
    description = TypeAdapter(GradingSchemeDescription).validate_python(data)
    registry = SchemeRegistry()
    registry.register(scheme_from_description(description))
    scheme = registry.get("fr-0-20")
    assert scheme.parse("12,5").native == "12.5"
    assert scheme.parse("12,5").normalised_score == 0.625
    with pytest.raises(InvalidGrade, match=r"not a multiple of 0\.5") as caught:
        scheme.parse("12.2")
    assert caught.value.reason == "precision"
    with pytest.raises(UnknownScheme):
        registry.get("nl-1-10")


def _numeric(**changes: object) -> NumericSchemeDescription:
    base = NumericSchemeDescription(
        scheme_id="x",
        label="x",
        minimum=Decimal(0),
        maximum=Decimal(10),
        pass_mark=Decimal(5),
        step=Decimal(1),
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    "description",
    [
        _numeric(pass_mark=Decimal(0)),
        _numeric(pass_mark=Decimal(10)),
        _numeric(pass_mark=Decimal(11)),
        _numeric(step=Decimal(0)),
        _numeric(step=Decimal(3)),
        _numeric(allowed_values=(Decimal(0), Decimal(7), Decimal(5), Decimal(10))),
        _numeric(allowed_values=(Decimal(0), Decimal(5))),
        _numeric(step=Decimal("0.5"), allowed_values=(Decimal(0), Decimal("2.25"), Decimal(10))),
    ],
)
def test_inconsistent_numeric_descriptions_are_refused(description: NumericSchemeDescription) -> None:
    with pytest.raises(ValueError):
        scheme_from_description(description)


@pytest.mark.parametrize(
    "letters",
    [
        (Letter("A", 1.0, True), Letter("B", 0.6, True), Letter("F", 0.0, False)),  # lowest pass not 0.5
        (Letter("A", 0.9, True), Letter("B", 0.5, True), Letter("F", 0.0, False)),  # best not 1.0
        (Letter("A", 1.0, True), Letter("B", 0.5, True), Letter("F", 0.1, False)),  # worst fail not 0.0
        (Letter("A", 1.0, True), Letter("F", 0.0, False), Letter("B", 0.5, True)),  # fail ranked above pass
        (Letter("A", 1.0, True), Letter("B", 0.5, True), Letter("C", 0.5, True)),  # not strictly falling
        (Letter("A", 1.0, True), Letter("a", 0.5, True), Letter("F", 0.0, False)),  # duplicate letter
        (Letter("A", 1.0, True),),
    ],
)
def test_inconsistent_letter_scales_are_refused(letters: tuple[Letter, ...]) -> None:
    with pytest.raises(ValueError):
        LetterScale("bad", "bad", letters)


def test_pass_fail_words_must_be_disjoint() -> None:
    with pytest.raises(ValueError):
        PassFailScale("bad", "bad", ("ok", "pass"), ("PASS",))
