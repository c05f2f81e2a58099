"""Stacking decisions: a pathway awarded once from valid awards, revoked when they no longer hold."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tessera_credential.domain.pathways import (
    ActivePathwayAward,
    HeldAward,
    PathwayGrant,
    PathwayRevocation,
    PathwayVersion,
    decide_pathway,
    pathway_award_id_for,
)
from tessera_shared.contract.criteria import AllMicroCredentials, EctsTotal, PathwayMember

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 10, tzinfo=UTC)
MEMBERS = tuple(
    PathwayMember(micro_credential_id=mc, title={"en": mc}, ects=Decimal(e))
    for mc, e in (("mc-a", "5"), ("mc-b", "5"), ("mc-c", "10"))
)
ALL = PathwayVersion("pw", 1, AllMicroCredentials(), MEMBERS, T0)


def held(*mcs, days=1):
    return [HeldAward(f"award-{mc}", mc, f"ev-{mc}", T0 + timedelta(days=days + i)) for i, mc in enumerate(mcs)]


def test_all_members_held_grants_once_with_constituents():
    [grant] = decide_pathway("l", [ALL], None, held("mc-a", "mc-b", "mc-c", "mc-other"))
    assert isinstance(grant, PathwayGrant)
    assert grant.constituent_award_ids == ("award-mc-a", "award-mc-b", "award-mc-c")
    assert grant.explanation.met and set(grant.explanation.contributing_event_ids) == {"ev-mc-a", "ev-mc-b", "ev-mc-c"}
    assert grant.awarded_at == T0 + timedelta(days=3)  # the last constituent, not a clock
    assert grant.award_id == pathway_award_id_for("l", "pw", 1, [])


def test_missing_member_grants_nothing():
    assert decide_pathway("l", [ALL], None, held("mc-a", "mc-b")) == []


def test_an_active_pathway_award_still_met_is_kept():
    active = ActivePathwayAward("p-1", "pw", 1)
    assert decide_pathway("l", [ALL], active, held("mc-a", "mc-b", "mc-c"), ["p-1"]) == []


def test_a_revoked_constituent_revokes_the_pathway():
    active = ActivePathwayAward("p-1", "pw", 1)
    [revocation] = decide_pathway("l", [ALL], active, held("mc-a", "mc-c"), ["p-1"])
    assert isinstance(revocation, PathwayRevocation)
    assert revocation.award_id == "p-1" and "mc-b" in revocation.reason


def test_ects_total_counts_any_members_and_the_highest_met_version_is_awarded():
    v2 = PathwayVersion("pw", 2, EctsTotal(minimum=Decimal("15")), MEMBERS, T0 + timedelta(days=10))
    [grant] = decide_pathway("l", [ALL, v2], None, held("mc-a", "mc-c"))
    assert grant.pathway_version == 2 and grant.awarded_at == v2.published_at


def test_after_a_revocation_another_version_still_met_is_awarded_anew():
    v2 = PathwayVersion("pw", 2, EctsTotal(minimum=Decimal("10")), MEMBERS, T0)
    active = ActivePathwayAward("p-1", "pw", 1)
    revocation, grant = decide_pathway("l", [ALL, v2], active, held("mc-c"), ["p-1"])
    assert isinstance(revocation, PathwayRevocation) and isinstance(grant, PathwayGrant)
    assert grant.pathway_version == 2 and grant.award_id != "p-1"


def test_pathway_award_ids_are_deterministic_and_skip_taken_ones():
    first = pathway_award_id_for("l", "pw", 1, [])
    assert first == pathway_award_id_for("l", "pw", 1, ())
    assert pathway_award_id_for("l", "pw", 1, [first]) != first
