"""The enrolment aggregate (stream ``enrolment-<id>``): one learner in one offering.

    requested -> admitted | waitlisted | pending review | rejected
    pending review -> admitted | waitlisted | rejected | cancelled
    waitlisted -> promoted (+ admitted) | cancelled
    admitted -> cancelled | withdrawn | completed | not completed
    not completed -> completed (the award arrived after the offering finished)

Seats are not decided here: whether a seat is free is known only to the database (the offering's
seats row, locked by the command); the application passes the outcome in. The fee is fixed at
admission; the refund is computed on cancellation from the offering's dated policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tessera_enrolment.domain.offering import OfferingView
from tessera_shared.contract.base import Event
from tessera_shared.contract.enrolment import (
    AdmissionRoute,
    Consent,
    EnrolmentAdmitted,
    EnrolmentCancelled,
    EnrolmentCompleted,
    EnrolmentNotCompleted,
    EnrolmentPendingReview,
    EnrolmentPromoted,
    EnrolmentRejected,
    EnrolmentRequested,
    EnrolmentWaitlisted,
    EnrolmentWithdrawn,
    RefundRuleApplied,
)
from tessera_shared.contract.terms import RefundKind
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, NotFound


class EnrolmentStatus(StrEnum):
    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    WAITLISTED = "waitlisted"
    ADMITTED = "admitted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"


S = EnrolmentStatus
# Statuses that still count as "the" enrolment of a learner in an offering (one at a time; the
# database enforces it with a partial unique index over exactly these).
BLOCKING = frozenset({S.REQUESTED, S.PENDING_REVIEW, S.WAITLISTED, S.ADMITTED, S.COMPLETED, S.NOT_COMPLETED})
CANCELLABLE = frozenset({S.PENDING_REVIEW, S.WAITLISTED, S.ADMITTED})

_REFUND_RULE = {
    RefundKind.FULL: RefundRuleApplied.FULL,
    RefundKind.SECOND_SEMESTER_CREDITS: RefundRuleApplied.SECOND_SEMESTER_CREDITS,
    RefundKind.NONE: RefundRuleApplied.NONE,
}


def stream_id(enrolment_id: str) -> str:
    return f"enrolment-{enrolment_id}"


@dataclass(frozen=True)
class Refund:
    fee: Decimal | None
    amount: Decimal
    rule: RefundRuleApplied


class Enrolment(Aggregate):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.enrolment_id = stream_id.removeprefix("enrolment-")
        self.learner_id = ""
        self.offering_id = ""
        self.micro_credential_id = ""
        self.micro_credential_version = 0
        self.status: EnrolmentStatus | None = None
        self.fee: Decimal | None = None
        self.refund: Decimal | None = None
        self.route: AdmissionRoute | None = None
        self.waitlist_ticket: int | None = None
        self.declared_eqf_level: int | None = None
        self.award_id: str | None = None
        self.requested_at: datetime | None = None
        self.requested_by = ""
        self.consent: Consent | None = None
        self.batch_id: str | None = None
        self.admitted_at: datetime | None = None
        self.ended_at: datetime | None = None  # rejected, cancelled, withdrawn, completed or not completed
        self.ended_by: str | None = None
        self.cancellation_date: date | None = None
        self.refund_rule: RefundRuleApplied | None = None
        self.reason: str | None = None

    # ------------------------------------------------------------------------------- commands

    @classmethod
    def request(
        cls,
        enrolment_id: str,
        *,
        learner_id: str,
        offering: OfferingView,
        consent: Consent,
        requested_by: str,
        at: datetime,
        declared_eqf_level: int | None = None,
        batch_id: str | None = None,
    ) -> Enrolment:
        enrolment = cls(stream_id(enrolment_id))
        enrolment._record(
            EnrolmentRequested(
                enrolment_id=enrolment_id,
                learner_id=learner_id,
                offering_id=offering.offering_id,
                micro_credential_id=offering.micro_credential_id,
                micro_credential_version=offering.micro_credential_version,
                requested_at=at,
                requested_by=requested_by,
                consent=consent,
                declared_eqf_level=declared_eqf_level,
                batch_id=batch_id,
            )
        )
        return enrolment

    def admit(
        self, *, fee: Decimal, at: datetime, route: AdmissionRoute = AdmissionRoute.DIRECT, by: str | None = None
    ) -> None:
        self._require(S.REQUESTED, S.PENDING_REVIEW)
        self._record(EnrolmentAdmitted(**self._ids(), admitted_at=at, route=route, fee_eur=fee, admitted_by=by))

    def waitlist(self, *, ticket: int, at: datetime) -> None:
        self._require(S.REQUESTED, S.PENDING_REVIEW)
        self._record(EnrolmentWaitlisted(**self._ids(), waitlisted_at=at, position=ticket))

    def await_review(self, *, declared_eqf_level: int, required_eqf_level: int) -> None:
        self._require(S.REQUESTED)
        self._record(
            EnrolmentPendingReview(
                **self._ids(), declared_eqf_level=declared_eqf_level, required_eqf_level=required_eqf_level
            )
        )

    def reject(self, *, reason: str, at: datetime, by: str | None = None) -> None:
        self._require(S.REQUESTED, S.PENDING_REVIEW)
        if not reason.strip():
            raise DomainError("a rejection needs a reason", field="reason")
        self._record(EnrolmentRejected(**self._ids(), rejected_at=at, reason=reason, rejected_by=by))

    def promote(self, *, fee: Decimal, at: datetime) -> None:
        """A freed seat goes to this waitlisted learner: promoted, then admitted at today's fee."""
        self._require(S.WAITLISTED)
        assert self.waitlist_ticket is not None
        self._record(EnrolmentPromoted(**self._ids(), promoted_at=at, position=self.waitlist_ticket))
        self._record(EnrolmentAdmitted(**self._ids(), admitted_at=at, route=AdmissionRoute.WAITLIST, fee_eur=fee))

    def refund_on(self, offering: OfferingView, cancellation_date: date, *, offering_cancelled: bool = False) -> Refund:
        """What a cancellation now would refund: nothing charged before admission; the whole fee when
        the coordinator cancels the offering; otherwise the offering's dated policy."""
        if self.status is not S.ADMITTED or self.fee is None:
            return Refund(None, Decimal("0.00"), RefundRuleApplied.NOTHING_CHARGED)
        if offering_cancelled:
            return Refund(self.fee, self.fee, RefundRuleApplied.OFFERING_CANCELLED)
        kind = offering.refund_kind(cancellation_date)
        return Refund(self.fee, offering.refund(self.fee, cancellation_date), _REFUND_RULE[kind])

    def cancel(
        self,
        *,
        offering: OfferingView,
        by: str,
        at: datetime,
        cancellation_date: date,
        reason: str | None = None,
        offering_cancelled: bool = False,
    ) -> Refund:
        """Cancel with the refund the dated policy gives on ``cancellation_date``. Returns it."""
        self._require(*CANCELLABLE)
        refund = self.refund_on(offering, cancellation_date, offering_cancelled=offering_cancelled)
        self._record(
            EnrolmentCancelled(
                **self._ids(),
                cancelled_at=at,
                cancellation_date=cancellation_date,
                cancelled_by=by,
                fee_eur=refund.fee,
                refund_eur=refund.amount,
                refund_rule=refund.rule,
                reason=reason,
                offering_cancelled=offering_cancelled,
            )
        )
        return refund

    def withdraw(self, *, by: str, at: datetime, reason: str | None = None) -> None:
        self._require(S.ADMITTED)
        self._record(EnrolmentWithdrawn(**self._ids(), withdrawn_at=at, withdrawn_by=by, reason=reason))

    def complete(self, *, award_id: str, at: datetime) -> bool:
        """Completed by an award; False (no event) when already completed."""
        if self.status is S.COMPLETED:
            return False
        self._require(S.ADMITTED, S.NOT_COMPLETED)
        self._record(EnrolmentCompleted(**self._ids(), completed_at=at, award_id=award_id))
        return True

    def not_complete(self, *, at: datetime) -> None:
        self._require(S.ADMITTED)
        self._record(EnrolmentNotCompleted(**self._ids(), recorded_at=at))

    @property
    def holds_seat(self) -> bool:
        return self.status is S.ADMITTED

    # ---------------------------------------------------------------------------------- state

    def _ids(self) -> dict[str, Any]:
        return {
            "enrolment_id": self.enrolment_id,
            "learner_id": self.learner_id,
            "offering_id": self.offering_id,
            "micro_credential_id": self.micro_credential_id,
            "micro_credential_version": self.micro_credential_version,
        }

    def _require(self, *allowed: EnrolmentStatus) -> None:
        if self.status is None:
            raise NotFound(f"enrolment {self.enrolment_id} does not exist")
        if self.status not in allowed:
            names = " or ".join(s.value for s in allowed)
            raise Conflict(f"enrolment {self.enrolment_id} is {self.status.value}, not {names}", field="status")

    def apply(self, event: Event) -> None:
        match event:
            case EnrolmentRequested():
                self.learner_id = event.learner_id
                self.offering_id = event.offering_id
                self.micro_credential_id = event.micro_credential_id
                self.micro_credential_version = event.micro_credential_version
                self.declared_eqf_level = event.declared_eqf_level
                self.requested_at = event.requested_at
                self.requested_by = event.requested_by
                self.consent = event.consent
                self.batch_id = event.batch_id
                self.status = S.REQUESTED
            case EnrolmentAdmitted():
                self.status, self.fee, self.route = S.ADMITTED, event.fee_eur, event.route
                self.admitted_at = event.admitted_at
                self.reason = None
            case EnrolmentWaitlisted():
                self.status, self.waitlist_ticket = S.WAITLISTED, event.position
            case EnrolmentPendingReview():
                self.status = S.PENDING_REVIEW
            case EnrolmentRejected():
                self.status, self.reason = S.REJECTED, event.reason
                self.ended_at, self.ended_by = event.rejected_at, event.rejected_by
            case EnrolmentPromoted():
                pass  # the EnrolmentAdmitted that follows changes the state
            case EnrolmentCancelled():
                self.status, self.refund, self.refund_rule = S.CANCELLED, event.refund_eur, event.refund_rule
                self.ended_at, self.ended_by, self.reason = event.cancelled_at, event.cancelled_by, event.reason
                self.cancellation_date = event.cancellation_date
            case EnrolmentWithdrawn():
                self.status, self.reason = S.WITHDRAWN, event.reason
                self.ended_at, self.ended_by = event.withdrawn_at, event.withdrawn_by
            case EnrolmentCompleted():
                self.status, self.award_id = S.COMPLETED, event.award_id
                self.ended_at = event.completed_at
            case EnrolmentNotCompleted():
                self.status, self.ended_at = S.NOT_COMPLETED, event.recorded_at
