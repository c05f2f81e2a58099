"""The enrolment service's integration events (public contract).

Personal data (name, email, European Student Identifier) travels only in the learner
registered/updated events, so that a later data-protection change (crypto-shredding) touches one
place; every other event carries the learner id only. A declared diploma stays inside the
enrolment service: its events carry only the declared EQF level.

Lifecycle of an enrolment (one stream per enrolment, ``enrolment-<id>``)::

    requested -> admitted | waitlisted | pending review | rejected
    pending review -> admitted | waitlisted | rejected | cancelled
    waitlisted -> promoted + admitted | cancelled
    admitted -> cancelled | withdrawn | completed | not completed
    not completed -> completed (an award that arrives after the offering finished)

Amounts are euro as decimal strings (``"375.00"``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import EmailStr, Field

from tessera_shared.contract.base import Event
from tessera_shared.contract.values import ContractModel, EqfLevel, Eur


class LearnerProfile(ContractModel):
    learner_id: str
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    email_verified: bool = False
    european_student_identifier: str | None = Field(default=None, max_length=200)
    home_institution: str | None = None


class LearnerRegistered(Event, type="tessera.enrolment.learner.registered", version=1):
    learner: LearnerProfile
    registered_by: str  # the token subject: the learner themself or a registrar


class LearnerUpdated(Event, type="tessera.enrolment.learner.updated", version=1):
    """The learner's full profile after the change."""

    learner: LearnerProfile
    updated_by: str


class Consent(ContractModel):
    """The learner accepted that their data is shared with every partner of the programme."""

    terms_version: str
    accepted_at: datetime
    partners: tuple[str, ...]


class AdmissionRoute(StrEnum):
    DIRECT = "direct"  # no requirement, or required credentials held
    REVIEW = "review"  # declared diploma accepted by the coordinator's registrar
    WAITLIST = "waitlist"  # promoted when a seat freed


class RefundRuleApplied(StrEnum):
    """Which refund the cancellation earned (mirrors ``terms.RefundKind``, plus the offering's own
    cancellation)."""

    FULL = "full"
    SECOND_SEMESTER_CREDITS = "second_semester_credits"
    NONE = "none"
    OFFERING_CANCELLED = "offering_cancelled"
    NOTHING_CHARGED = "nothing_charged"  # cancelled before admission: no fee was due


class _EnrolmentEvent(Event):
    enrolment_id: str
    learner_id: str
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int


class EnrolmentRequested(_EnrolmentEvent, type="tessera.enrolment.enrolment.requested", version=1):
    """Always followed, in the same commit, by admitted, waitlisted, pending review or rejected."""

    requested_at: datetime
    requested_by: str
    consent: Consent
    declared_eqf_level: EqfLevel | None = None
    batch_id: str | None = None  # set when the request came in a registrar's bulk upload


class EnrolmentAdmitted(_EnrolmentEvent, type="tessera.enrolment.enrolment.admitted", version=1):
    admitted_at: datetime
    route: AdmissionRoute
    fee_eur: Eur
    admitted_by: str | None = None  # the reviewing registrar for route ``review``


class EnrolmentWaitlisted(_EnrolmentEvent, type="tessera.enrolment.enrolment.waitlisted", version=1):
    """``position`` is the learner's waitlist ticket in the offering: 1 for the first learner ever
    waitlisted, in arrival order; promotions go to the lowest ticket still waiting."""

    waitlisted_at: datetime
    position: int = Field(ge=1)


class EnrolmentPromoted(_EnrolmentEvent, type="tessera.enrolment.enrolment.promoted", version=1):
    """A waitlisted learner got a freed seat (an ``EnrolmentAdmitted`` follows in the same commit)."""

    promoted_at: datetime
    position: int = Field(ge=1)


class EnrolmentPendingReview(_EnrolmentEvent, type="tessera.enrolment.enrolment.pending-review", version=1):
    """A diploma-level programme: the coordinator's registrar reviews the declared diploma."""

    declared_eqf_level: EqfLevel
    required_eqf_level: EqfLevel


class EnrolmentRejected(_EnrolmentEvent, type="tessera.enrolment.enrolment.rejected", version=1):
    rejected_at: datetime
    reason: str
    rejected_by: str | None = None  # None: rejected by the admission rules (a credential missing)


class EnrolmentCancelled(_EnrolmentEvent, type="tessera.enrolment.enrolment.cancelled", version=1):
    cancelled_at: datetime
    cancellation_date: date
    cancelled_by: str
    fee_eur: Eur | None = None  # None: the learner was never admitted, so nothing was charged
    refund_eur: Eur
    refund_rule: RefundRuleApplied
    reason: str | None = None
    offering_cancelled: bool = False


class EnrolmentWithdrawn(_EnrolmentEvent, type="tessera.enrolment.enrolment.withdrawn", version=1):
    """A partner institution withdrew an admitted learner (e.g. compulsory attendance not met); the
    fee stays due."""

    withdrawn_at: datetime
    withdrawn_by: str
    reason: str | None = None


class EnrolmentCompleted(_EnrolmentEvent, type="tessera.enrolment.enrolment.completed", version=1):
    completed_at: datetime
    award_id: str


class EnrolmentNotCompleted(_EnrolmentEvent, type="tessera.enrolment.enrolment.not-completed", version=1):
    """The offering finished without an award for this learner."""

    recorded_at: datetime


ENROLMENT_EVENTS: tuple[type[Event], ...] = (
    LearnerRegistered,
    LearnerUpdated,
    EnrolmentRequested,
    EnrolmentAdmitted,
    EnrolmentWaitlisted,
    EnrolmentPromoted,
    EnrolmentPendingReview,
    EnrolmentRejected,
    EnrolmentCancelled,
    EnrolmentWithdrawn,
    EnrolmentCompleted,
    EnrolmentNotCompleted,
)
