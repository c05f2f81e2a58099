"""Fees per ECTS or flat, and dated refund rules (the seed policy's dates as examples)."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from tessera_shared.contract.terms import (
    ComponentTerms,
    FlatTariff,
    PerEctsTariff,
    RefundKind,
    RefundPolicy,
    fee_for,
    refund_for,
    refund_kind_on,
    seed_refund_policy,
    to_cents,
)

pytestmark = pytest.mark.unit


def component(code, ects, semester, institution="ugent.be"):
    return ComponentTerms(code=code, ects=Decimal(ects), semester=semester, teaching_institution=institution)


# 10 ECTS: 4 first semester, 6 second semester
MIXED = [component("A", "4", "first"), component("B", "3", "second", "uva.nl"), component("C", "3", "second")]
RATE = PerEctsTariff(rate=Decimal("37.50"))
SEED = seed_refund_policy("2025-2026")


def test_ten_ects_at_37_50_is_375():
    assert fee_for(RATE, MIXED) == Decimal("375.00")


def test_per_institution_rates_and_cents():
    tariff = PerEctsTariff(rate=Decimal("37.50"), institution_rates={"uva.nl": Decimal("41.333")})
    assert fee_for(tariff, MIXED) == Decimal("386.50")  # 7 x 37.50 + 3 x 41.333 = 386.499 -> 386.50
    assert to_cents(Decimal("0.005")) == Decimal("0.01")


def test_flat_fee_ignores_credits():
    assert fee_for(FlatTariff(amount=Decimal("250")), MIXED) == Decimal("250.00")


def test_the_seed_policy_dates():
    assert [(r.before, r.refund) for r in SEED.rules] == [
        (date(2025, 12, 1), RefundKind.FULL),
        (date(2026, 3, 15), RefundKind.SECOND_SEMESTER_CREDITS),
        (None, RefundKind.NONE),
    ]


@pytest.mark.parametrize(
    ("cancelled_on", "refund"),
    [
        (date(2025, 9, 1), Decimal("375.00")),
        (date(2025, 11, 30), Decimal("375.00")),  # before 1 December: full
        (date(2025, 12, 1), Decimal("225.00")),  # from 1 December: the 6 second-semester ECTS
        (date(2026, 3, 14), Decimal("225.00")),  # until 14 March
        (date(2026, 3, 15), Decimal("0.00")),  # from 15 March: none
        (date(2026, 6, 30), Decimal("0.00")),
    ],
)
def test_seed_refunds_on_the_example_dates(cancelled_on, refund):
    assert refund_for(SEED, fee_for(RATE, MIXED), MIXED, cancelled_on, RATE) == refund


def test_second_semester_refund_is_full_when_every_credit_is_second_semester():
    second_only = [component("B", "3", "second"), component("C", "3", "second")]
    assert refund_for(SEED, Decimal("225.00"), second_only, date(2026, 2, 1)) == Decimal("225.00")


def test_full_year_and_first_semester_components_are_not_refunded_after_1_december():
    started = [component("A", "4", "first"), component("Y", "6", "full_year")]
    assert refund_for(SEED, Decimal("375.00"), started, date(2026, 1, 10)) == Decimal("0.00")


def test_second_semester_share_follows_institution_rates():
    tariff = PerEctsTariff(rate=Decimal("30"), institution_rates={"uva.nl": Decimal("60")})
    fee = fee_for(tariff, MIXED)  # 4 x 30 + 3 x 60 + 3 x 30 = 390
    assert fee == Decimal("390.00")
    assert refund_for(SEED, fee, MIXED, date(2026, 1, 10), tariff) == Decimal("270.00")  # 180 + 90
    assert refund_for(SEED, fee, MIXED, date(2026, 1, 10)) == Decimal("234.00")  # without tariff: by ECTS, 6/10


def test_flat_fee_second_semester_share_is_by_ects_and_rounded_to_cents():
    thirds = [component("A", "1", "first"), component("B", "2", "second")]
    assert refund_for(SEED, Decimal("100.00"), thirds, date(2026, 1, 10), FlatTariff(amount=Decimal(100))) == Decimal(
        "66.67"
    )


def test_refund_policies_are_ordered_and_only_the_last_is_open_ended():
    with pytest.raises(ValidationError, match="ascending"):
        RefundPolicy.model_validate(
            {"rules": [{"before": "2026-03-15", "refund": "full"}, {"before": "2025-12-01", "refund": "none"}]}
        )
    with pytest.raises(ValidationError, match="open-ended"):
        RefundPolicy.model_validate(
            {"rules": [{"before": None, "refund": "full"}, {"before": "2025-12-01", "refund": "none"}]}
        )
    with pytest.raises(ValidationError):
        RefundPolicy.model_validate({"rules": []})


def test_a_date_no_rule_covers_refunds_nothing():
    policy = RefundPolicy.model_validate({"rules": [{"before": "2025-12-01", "refund": "full"}]})
    assert refund_kind_on(policy, date(2025, 12, 1)) is RefundKind.NONE
    assert refund_for(policy, Decimal(375), MIXED, date(2025, 12, 1)) == Decimal("0.00")
