"""Admission rules, consent and the validity of held credentials (pure domain)."""

from datetime import UTC, datetime

import pytest

from tessera_enrolment.domain.admission import (
    AwardRecord,
    Decision,
    admission_outcome,
    consent_for,
    valid_micro_credentials,
)
from tessera_shared.contract.catalogue import Prerequisites
from tessera_shared.kernel.aggregate import DomainError

pytestmark = pytest.mark.unit
AT = datetime(2025, 6, 15, tzinfo=UTC)


def test_no_requirement_admits():
    assert admission_outcome(Prerequisites(), set(), None).decision is Decision.ADMIT


def test_required_credentials_admit_only_when_all_are_held():
    prereq = Prerequisites(kind="micro_credentials", micro_credential_ids=("mc-a", "mc-b"))
    assert admission_outcome(prereq, {"mc-a", "mc-b", "mc-c"}, None).decision is Decision.ADMIT
    outcome = admission_outcome(prereq, {"mc-b"}, None)
    assert (outcome.decision, outcome.reason) == (Decision.REJECT, "requires a valid credential for: mc-a")
    assert admission_outcome(prereq, set(), None).reason == "requires a valid credential for: mc-a, mc-b"


def test_a_diploma_level_needs_a_declaration_at_that_level_and_then_review():
    prereq = Prerequisites(kind="diploma_level", diploma_eqf_level=6)
    with pytest.raises(DomainError) as missing:
        admission_outcome(prereq, set(), None)
    assert missing.value.field == "diploma"
    with pytest.raises(DomainError) as low:
        admission_outcome(prereq, set(), 5)
    assert low.value.field == "diploma.eqf_level" and low.value.status == 422
    outcome = admission_outcome(prereq, set(), 6)
    assert (outcome.decision, outcome.required_eqf_level) == (Decision.REVIEW, 6)


def _consent(**kw):
    args = {
        "accepted": True,
        "terms_version": "2025-1",
        "presented_partners": None,
        "partners": ["uva.nl", "ugent.be"],
        "current_terms_version": "2025-1",
        "at": AT,
    }
    return consent_for(**{**args, **kw})


def test_consent_records_terms_time_and_every_partner():
    consent = _consent()
    assert (consent.terms_version, consent.accepted_at, consent.partners) == ("2025-1", AT, ("ugent.be", "uva.nl"))
    assert _consent(presented_partners=["ugent.be", "uva.nl"]).partners == ("ugent.be", "uva.nl")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"accepted": False}, "consent.accepted"),
        ({"terms_version": "2024-2"}, "consent.terms_version"),
        ({"presented_partners": ["ugent.be"]}, "consent.partners"),
        ({"presented_partners": ["ugent.be", "uva.nl", "kuleuven.be"]}, "consent.partners"),
    ],
)
def test_consent_is_refused_naming_what_is_wrong(change, field):
    with pytest.raises(DomainError) as refused:
        _consent(**change)
    assert refused.value.field == field


def _award(award_id, mc="mc-a", awarded=True, revoked=False, superseded_by=None):
    return AwardRecord(award_id, mc, awarded, revoked, superseded_by)


def test_valid_credentials_are_awarded_and_not_revoked():
    assert valid_micro_credentials([_award("1")]) == {"mc-a"}
    assert valid_micro_credentials([_award("1", revoked=True)]) == set()
    assert valid_micro_credentials([_award("1", awarded=False, revoked=True)]) == set()  # revocation came first
    assert valid_micro_credentials([_award("1", awarded=False)]) == set()


def test_a_superseded_award_counts_through_its_successor():
    # successor not known yet, or known and valid: the micro-credential is held
    assert valid_micro_credentials([_award("old", superseded_by="new")]) == {"mc-a"}
    assert valid_micro_credentials([_award("old", superseded_by="new"), _award("new")]) == {"mc-a"}
    # the successor was revoked: neither counts
    assert valid_micro_credentials([_award("old", superseded_by="new"), _award("new", revoked=True)]) == set()
    # replaced by an award of another micro-credential: the old one does not count for mc-a
    assert valid_micro_credentials([_award("old", superseded_by="new"), _award("new", mc="mc-b")]) == {"mc-b"}
