"""The named grading schemes, as data (public descriptions from the contract).

Adding a partner's scheme means adding a description here, not code. :mod:`grading` interprets
them; docs/grading.md explains each one and the normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal as D

from tessera_shared.contract.assessment import (
    GradingSchemeDescription,
    LetterGradeDescription,
    LetterSchemeDescription,
    NumericSchemeDescription,
    PassFailSchemeDescription,
)

GERMAN_STEPS = tuple(D(v) for v in ("1.0", "1.3", "1.7", "2.0", "2.3", "2.7", "3.0", "3.3", "3.7", "4.0", "5.0"))

SCHEMES: tuple[GradingSchemeDescription, ...] = (
    # Flemish universities state the final course mark as a whole number out of 20 (the
    # examination codes of UGent, KU Leuven, UAntwerpen ...); credit ("credit behaald") from 10.
    NumericSchemeDescription(
        scheme_id="be-flemish-0-20",
        label="Flemish 0–20, whole marks, pass ≥ 10",
        minimum=D(0),
        maximum=D(20),
        pass_mark=D(10),
        step=D(1),
    ),
    # Dutch 1–10 with one decimal; 5.5 is the lowest pass (a rounded 6).
    NumericSchemeDescription(
        scheme_id="nl-1-10",
        label="Dutch 1–10, one decimal, pass ≥ 5.5",
        minimum=D("1.0"),
        maximum=D("10.0"),
        pass_mark=D("5.5"),
        step=D("0.1"),
    ),
    # German: lower is better; examination grades only take the KMK/HRK steps (4.3 and 4.7 do not
    # exist: everything worse than 4.0 is 5.0 "nicht ausreichend").
    NumericSchemeDescription(
        scheme_id="de-1-5",
        label="German 1.0–5.0, lower is better, pass ≤ 4.0, steps 1.0 1.3 1.7 … 4.0 5.0",
        minimum=D("1.0"),
        maximum=D("5.0"),
        pass_mark=D("4.0"),
        higher_is_better=False,
        step=D("0.1"),
        allowed_values=GERMAN_STEPS,
    ),
    # German module/overall grades computed as weighted means are truncated to one decimal and
    # take any value (2.4, 3.8 ...); a partner that reports such means uses this scheme.
    NumericSchemeDescription(
        scheme_id="de-1-5-mean",
        label="German 1.0–5.0 computed mean, one decimal, lower is better, pass ≤ 4.0",
        minimum=D("1.0"),
        maximum=D("5.0"),
        pass_mark=D("4.0"),
        higher_is_better=False,
        step=D("0.1"),
    ),
    # ECTS grading scale letters, best first. The ECTS percentiles (top 10 % A, next 25 % B ...)
    # describe a cohort, not one grade, so letters take evenly spaced places: E, the lowest pass, at
    # the pass mark 0.5, A at 1.0; FX ("some more work required") half-way through the fail range.
    LetterSchemeDescription(
        scheme_id="ects-letter",
        label="ECTS letters A–E pass, FX/F fail",
        letters=(
            LetterGradeDescription(letter="A", normalised_score=1.0, passed=True),
            LetterGradeDescription(letter="B", normalised_score=0.875, passed=True),
            LetterGradeDescription(letter="C", normalised_score=0.75, passed=True),
            LetterGradeDescription(letter="D", normalised_score=0.625, passed=True),
            LetterGradeDescription(letter="E", normalised_score=0.5, passed=True),
            LetterGradeDescription(letter="FX", normalised_score=0.25, passed=False),
            LetterGradeDescription(letter="F", normalised_score=0.0, passed=False),
        ),
    ),
    PassFailSchemeDescription(
        scheme_id="pass-fail",
        label="Pass / fail",
        pass_words=("pass", "passed", "geslaagd", "voldaan", "bestanden", "réussi"),
        fail_words=("fail", "failed", "niet geslaagd", "niet voldaan", "nicht bestanden", "échec"),
    ),
)


@dataclass(frozen=True)
class FamilySpec:
    """A parameterised family: ``<prefix><pass mark>`` is ``template`` with that pass mark."""

    prefix: str
    template: NumericSchemeDescription
    label_template: str


FAMILIES: tuple[FamilySpec, ...] = (
    # Percentages with the pass mark in the id: percentage-50, percentage-60, percentage-55.5.
    FamilySpec(
        prefix="percentage-",
        template=NumericSchemeDescription(
            scheme_id="percentage-50",
            label="Percentage 0–100, pass ≥ 50",
            minimum=D(0),
            maximum=D(100),
            pass_mark=D(50),
            step=D("0.1"),
        ),
        label_template="Percentage 0–100, one decimal, pass ≥ {mark}",
    ),
)
