"""The credential service's integration events (public contract).

Part 1, the awarding engine: an award is the decision that a learner met a micro-credential
version's criteria (one *active* award per learner × micro-credential version, enforced by the
database);
revocation and supersession follow corrections. Part 2 turns awards into signed Open Badges 3.0
credentials and publishes their status. The engine's rules (ordering, ids, dates, lineage) are in
docs/awarding.md.

Award events are published on subject ``award-<award_id>`` (pathway awards: ``pathway-award-<id>``),
under event ids derived from the award id, so the same decision is always the same event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from tessera_shared.contract.base import Event
from tessera_shared.contract.values import ContractModel


class ComponentGrade(ContractModel):
    """The effective result of one component as the credential states it (added in part 1, additive)."""

    ects: str  # the component's ECTS as Decimal text
    grade: str  # in the teaching institution's native scheme ("14", "B", "pass")
    scheme_id: str
    scheme_kind: Literal["numeric", "letter", "pass_fail"]
    normalised_score: float
    passed: bool
    attempt: int
    result_id: str


class GradeSummary(ContractModel):
    """What the credential states about performance: ECTS earned and the weighted average.

    Computed from the effective result of every component of the offering that has one (failed
    optional components included): ``ects_earned`` is the ECTS of the passed ones; ``weighted_average``
    the ECTS-weighted normalised score over results not graded pass/fail, rounded half-even to 4
    decimals (``None`` when there is none). A correction that changes any of this supersedes the award.
    """

    ects_earned: str  # a Decimal as text, like every ECTS figure in the contract
    weighted_average: float | None = None  # ECTS-weighted normalised score in [0, 1]
    components: dict[str, float] = Field(default_factory=dict)  # component code -> normalised score
    component_grades: dict[str, ComponentGrade] = Field(default_factory=dict)  # code -> native grade etc.


class CredentialAwarded(Event, type="tessera.credential.award.awarded", version=1):
    award_id: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    enrolment_id: str | None = None
    awarded_at: datetime
    explanation: dict[str, Any]  # the criteria explanation at award time (becomes the evidence)
    grade_summary: GradeSummary
    supersedes: str | None = None  # the award this one replaces after a correction


class AwardRevoked(Event, type="tessera.credential.award.revoked", version=1):
    award_id: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    revoked_at: datetime
    reason: str
    explanation: dict[str, Any] | None = None  # the criteria explanation that no longer holds (additive)


class AwardSuperseded(Event, type="tessera.credential.award.superseded", version=1):
    award_id: str
    superseded_by: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    superseded_at: datetime
    reason: str


class PathwayAwarded(Event, type="tessera.credential.pathway.awarded", version=1):
    award_id: str
    learner_id: str
    pathway_id: str
    pathway_version: int
    constituent_award_ids: tuple[str, ...]
    awarded_at: datetime
    explanation: dict[str, Any] | None = None  # evaluate_pathway's explanation at award time (additive)


class PathwayRevoked(Event, type="tessera.credential.pathway.revoked", version=1):
    award_id: str
    learner_id: str
    pathway_id: str
    pathway_version: int
    revoked_at: datetime
    reason: str


class CredentialIssued(Event, type="tessera.credential.credential.issued", version=1):
    credential_id: str  # the VC's id (a URL on the credential service)
    award_id: str
    learner_id: str
    achievement_id: str
    issuer: str  # DID of the coordinating institution
    co_signers: tuple[str, ...]  # DIDs of the other awarding partners
    status_list: str
    status_index: int
    issued_at: datetime


class CredentialRevoked(Event, type="tessera.credential.credential.revoked", version=1):
    credential_id: str
    award_id: str
    learner_id: str
    reason: str
    revoked_at: datetime


class CredentialSuperseded(Event, type="tessera.credential.credential.superseded", version=1):
    credential_id: str
    superseded_by: str
    award_id: str
    learner_id: str
    superseded_at: datetime
