"""What the enrolment service knows of an offering, learned from the catalogue's events.

The catalogue's ``OfferingScheduled`` carries the offering's complete terms and components; its
``MicroCredentialVersionPublished`` the admission requirements and partners of the pinned version.
The two may arrive in either order (and lifecycle events before either), so a view may be partial:
enrolment needs both halves.

Fees and refunds are computed with the contract's :func:`fee_for` / :func:`refund_for`, so the
enrolment service and every partner compute the same amounts from the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from tessera_shared.contract.catalogue import Prerequisites
from tessera_shared.contract.terms import ComponentTerms, OfferingTerms, RefundKind, fee_for, refund_for, refund_kind_on
from tessera_shared.kernel.aggregate import Conflict


class OfferingStatus(StrEnum):
    UNKNOWN = "unknown"  # only lifecycle events of it have arrived so far
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


# The catalogue's lifecycle only moves forward (scheduled -> open -> closed -> running -> finished,
# cancelled from any state before finished), so the highest rank seen is the current state whatever
# order the events arrive in.
STATUS_RANK: dict[OfferingStatus, int] = {
    OfferingStatus.UNKNOWN: 0,
    OfferingStatus.SCHEDULED: 1,
    OfferingStatus.OPEN: 2,
    OfferingStatus.CLOSED: 3,
    OfferingStatus.RUNNING: 4,
    OfferingStatus.FINISHED: 5,
    OfferingStatus.CANCELLED: 9,
}


@dataclass(frozen=True)
class OfferingView:
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    status: OfferingStatus
    coordinator_id: str | None = None
    terms: OfferingTerms | None = None
    components: tuple[ComponentTerms, ...] = ()
    prerequisites: Prerequisites | None = None  # None until the version's definition arrived
    partners: tuple[str, ...] | None = None  # institution ids of the version's partners

    @property
    def institutions(self) -> frozenset[str]:
        """Every institution taking part: coordinator, teaching institutions and partners."""
        found = {c.teaching_institution for c in self.components} | set(self.partners or ())
        if self.coordinator_id:
            found.add(self.coordinator_id)
        return frozenset(found)

    def takes_part(self, institution: str | None) -> bool:
        return institution is not None and institution in self.institutions

    def scheduled_terms(self) -> OfferingTerms:
        if self.terms is None:
            raise Conflict(f"offering {self.offering_id} has not been scheduled yet", field="offering_id")
        return self.terms

    def ensure_open_for_enrolment(self, today: date) -> None:
        """Enrolment needs an open offering, today inside its enrolment window, and the version known."""
        terms = self.scheduled_terms()
        if self.status is not OfferingStatus.OPEN:
            raise Conflict(
                f"offering {self.offering_id} is {self.status.value}: enrolment needs an open offering",
                field="offering_id",
            )
        window = terms.enrolment
        if not window.opens_on <= today <= window.closes_on:
            raise Conflict(
                f"the enrolment window of offering {self.offering_id} is {window.opens_on} to {window.closes_on}; "
                f"today is {today}",
                field="offering_id",
            )
        if self.prerequisites is None or self.partners is None:
            raise Conflict(
                f"the definition of {self.micro_credential_id} v{self.micro_credential_version} has not reached "
                "the enrolment service yet; try again shortly",
                field="offering_id",
            )

    @property
    def waitlist(self) -> bool:
        return self.scheduled_terms().waitlist

    @property
    def capacity(self) -> int:
        return self.scheduled_terms().capacity

    @property
    def seats_may_be_filled(self) -> bool:
        """Waitlisted learners are promoted into freed seats until the offering finishes."""
        return self.status not in (OfferingStatus.FINISHED, OfferingStatus.CANCELLED)

    def fee(self) -> Decimal:
        """The fee of the whole offering under its tariff (per ECTS or flat), in euro cents."""
        return fee_for(self.scheduled_terms().tariff, self.components)

    def refund_kind(self, cancellation_date: date) -> RefundKind:
        return refund_kind_on(self.scheduled_terms().refund_policy, cancellation_date)

    def refund(self, fee: Decimal, cancellation_date: date) -> Decimal:
        """The refund of ``fee`` under the offering's dated policy for a cancellation on that date."""
        terms = self.scheduled_terms()
        return refund_for(terms.refund_policy, fee, self.components, cancellation_date, terms.tariff)
