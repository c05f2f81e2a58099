"""Public texts: the seed's dated refund rules with example amounts, fees, in four languages."""

from datetime import date
from decimal import Decimal

import pytest

from tessera_catalogue.adapters.texts import fee_text, format_date, format_eur, refund_rules, text_language
from tessera_shared.contract.terms import (
    ComponentTerms,
    FlatTariff,
    PerEctsTariff,
    RefundPolicy,
    seed_refund_policy,
)

pytestmark = pytest.mark.unit

COMPONENTS = [
    ComponentTerms(code="DE1", ects=Decimal(4), semester="first", teaching_institution="ugent.be"),
    ComponentTerms(code="DE2", ects=Decimal(3), semester="second", teaching_institution="uva.nl"),
    ComponentTerms(code="DE3", ects=Decimal(3), semester="second", teaching_institution="uni-heidelberg.de"),
]
TARIFF = PerEctsTariff(rate=Decimal("37.50"))
FEE = Decimal("375.00")


def test_the_seed_policy_as_dated_periods_with_example_refunds():
    rules = refund_rules(seed_refund_policy("2025-2026"), FEE, COMPONENTS, TARIFF, "en", date(2025, 9, 22))
    assert [(r["from"], r["until"], r["refund"], r["amount"]) for r in rules] == [
        (None, "2025-11-30", "full", "375.00"),
        ("2025-12-01", "2026-03-14", "second_semester_credits", "225.00"),  # 6 of 10 ECTS
        ("2026-03-15", None, "none", "0.00"),
    ]
    assert [r["text"] for r in rules] == [
        "Cancellation before 1 December 2025: full refund (€375.00).",
        "Cancellation from 1 December 2025 to 14 March 2026: refund of the second-semester credits (€225.00).",
        "Cancellation from 15 March 2026: no refund.",
    ]


@pytest.mark.parametrize(
    ("lang", "first", "second"),
    [
        ("nl", "Annulering vóór 1 december 2025: volledige terugbetaling (€ 375,00).", "tot en met 14 maart 2026"),
        ("de", "Stornierung vor dem 1. Dezember 2025: volle Erstattung (375,00 €).", "bis zum 14. März 2026"),
        ("fr", "Annulation avant le 1er décembre 2025 : remboursement intégral (375,00 €).", "au 14 mars 2026"),
    ],
)
def test_refund_rules_are_localised(lang, first, second):
    rules = refund_rules(seed_refund_policy("2025-2026"), FEE, COMPONENTS, TARIFF, lang, date(2025, 9, 22))
    assert rules[0]["text"] == first
    assert second in rules[1]["text"]


def test_second_semester_refund_when_every_credit_is_second_semester_is_the_full_fee():
    second_only = [ComponentTerms.model_validate({**c.model_dump(), "semester": "second"}) for c in COMPONENTS]
    rules = refund_rules(seed_refund_policy("2025-2026"), FEE, second_only, TARIFF, "en", date(2026, 2, 1))
    assert rules[1]["amount"] == "375.00"
    assert "every credit is taught in the second semester" in rules[1]["text"]


def test_an_open_ended_policy_is_one_period():
    policy = RefundPolicy.model_validate({"rules": [{"before": None, "refund": "full"}]})
    [rule] = refund_rules(policy, FEE, COMPONENTS, TARIFF, "en", date(2025, 9, 22))
    assert (rule["from"], rule["until"], rule["amount"]) == (None, None, "375.00")
    assert rule["text"] == "Cancellation at any time: full refund (€375.00)."


def test_fee_texts():
    assert fee_text(TARIFF, Decimal(10), FEE, "en") == "Fee: €37.50 per ECTS credit; 10 ECTS = €375.00."
    rates = PerEctsTariff(rate=Decimal("37.50"), institution_rates={"uva.nl": Decimal(50)})
    assert "€ 50,00 per ECTS-studiepunt voor onderdelen gedoceerd door UvA" in fee_text(
        rates, Decimal(10), Decimal("412.50"), "nl", {"uva.nl": "UvA"}
    )
    assert fee_text(FlatTariff(amount=Decimal(1200)), Decimal(10), Decimal(1200), "de") == (
        "Gebühr: eine Pauschale von 1.200,00 €; 10 ECTS = 1.200,00 €."
    )


def test_formats_and_language_choice():
    assert format_eur(Decimal("1234.5"), "en") == "€1,234.50"
    assert format_date(date(2026, 3, 15), "de") == "15. März 2026"
    assert text_language(["es", "nl-BE", "en"]) == "nl"
    assert text_language(["es"]) == "en"
