"""Admission rules: requirements of the micro-credential version, consent, valid credentials.

Pure functions; the application feeds them what the read models know.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from tessera_shared.contract.catalogue import PrerequisiteKind, Prerequisites
from tessera_shared.contract.enrolment import Consent
from tessera_shared.kernel.aggregate import DomainError


class Decision(StrEnum):
    ADMIT = "admit"  # a seat if one is free, else the waitlist
    REVIEW = "review"  # the coordinator's registrar reviews the declared diploma
    REJECT = "reject"


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    reason: str | None = None
    required_eqf_level: int | None = None


def admission_outcome(
    prerequisites: Prerequisites, held_micro_credentials: Iterable[str], declared_eqf_level: int | None
) -> Outcome:
    """What the rules say before seats are considered.

    * no requirement -> admit;
    * required micro-credentials -> admit if a valid credential is held for each, else reject naming
      the missing ones;
    * diploma level -> the learner must declare a diploma of at least that EQF level (422 otherwise),
      then it goes to review.
    """
    if prerequisites.kind is PrerequisiteKind.MICRO_CREDENTIALS:
        held = set(held_micro_credentials)
        missing = [mc for mc in prerequisites.micro_credential_ids if mc not in held]
        if missing:
            return Outcome(Decision.REJECT, f"requires a valid credential for: {', '.join(missing)}")
        return Outcome(Decision.ADMIT)
    if prerequisites.kind is PrerequisiteKind.DIPLOMA_LEVEL:
        required = prerequisites.diploma_eqf_level or 1
        if declared_eqf_level is None:
            raise DomainError(
                f"this programme requires a diploma of at least EQF level {required}: declare it",
                field="diploma",
            )
        if declared_eqf_level < required:
            raise DomainError(
                f"this programme requires a diploma of at least EQF level {required}; "
                f"the declared diploma is level {declared_eqf_level}",
                field="diploma.eqf_level",
            )
        return Outcome(Decision.REVIEW, required_eqf_level=required)
    return Outcome(Decision.ADMIT)


def consent_for(
    *,
    accepted: bool,
    terms_version: str,
    presented_partners: Sequence[str] | None,
    partners: Sequence[str],
    current_terms_version: str,
    at: datetime,
) -> Consent:
    """The consent to record, or a 422 naming the part that is missing or out of date.

    The learner accepts that their data is shared with *every* partner of the programme; when the
    request lists the partners it showed the learner, that list must be the programme's.
    """
    if not accepted:
        raise DomainError(
            "the learner must accept that their data is shared with every partner", field="consent.accepted"
        )
    if terms_version != current_terms_version:
        raise DomainError(
            f"consent was given to terms {terms_version!r}; the current terms are {current_terms_version!r}",
            field="consent.terms_version",
        )
    ordered = tuple(sorted(set(partners)))
    if presented_partners is not None and tuple(sorted(set(presented_partners))) != ordered:
        raise DomainError(
            f"consent must cover exactly the programme's partners: {', '.join(ordered)}", field="consent.partners"
        )
    return Consent(terms_version=terms_version, accepted_at=at, partners=ordered)


@dataclass(frozen=True)
class AwardRecord:
    """What the credential service told us about one award (fields may still be missing)."""

    award_id: str
    micro_credential_id: str
    awarded: bool  # CredentialAwarded seen
    revoked: bool
    superseded_by: str | None


def valid_micro_credentials(awards: Iterable[AwardRecord]) -> set[str]:
    """Micro-credentials for which the learner holds a valid credential.

    An award counts when it was awarded and not revoked. A superseded award still counts while its
    successor is not known to be revoked or to be of another micro-credential: the successor replaces
    it, so the learner holds the micro-credential either way, whichever of the two events came first.
    """
    by_id = {a.award_id: a for a in awards}
    held: set[str] = set()
    for a in by_id.values():
        if not a.awarded or a.revoked:
            continue
        if a.superseded_by is not None:
            successor = by_id.get(a.superseded_by)
            if successor is not None and (successor.revoked or successor.micro_credential_id != a.micro_credential_id):
                continue
        held.add(a.micro_credential_id)
    return held
