"""The offering aggregate: an edition of one published micro-credential version.

scheduled -> open (for enrolment) -> closed -> running -> finished; the coordinator may cancel it
at any point before it finishes (enrolled learners are then refunded in full by the enrolment
service). Its terms and criteria are pinned when it is scheduled and never change.
"""

from __future__ import annotations

from enum import StrEnum

from tessera_catalogue.domain.actors import OPERATOR, Actor, require_coordinator_editor
from tessera_catalogue.domain.micro_credential import MicroCredential
from tessera_catalogue.domain.offering_terms import terms_problems
from tessera_catalogue.domain.problems import Problems
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.base import Event
from tessera_shared.contract.terms import OfferingTerms, fee_for
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, NotFound


class OfferingStatus(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"
    CLOSED = "closed"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


S = OfferingStatus
# event -> (status it requires, status it leads to)
_TRANSITIONS: dict[type[cat.OfferingLifecycleEvent], tuple[set[S], S]] = {
    cat.OfferingOpened: ({S.SCHEDULED}, S.OPEN),
    cat.OfferingClosed: ({S.OPEN}, S.CLOSED),
    cat.OfferingStarted: ({S.CLOSED}, S.RUNNING),
    cat.OfferingFinished: ({S.RUNNING}, S.FINISHED),
    cat.OfferingCancelled: ({S.SCHEDULED, S.OPEN, S.CLOSED, S.RUNNING}, S.CANCELLED),
}


class Offering(Aggregate):
    """Stream id = the offering id."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.scheduled: cat.OfferingScheduled | None = None
        self.status: OfferingStatus | None = None

    def schedule(self, actor: Actor, micro_credential: MicroCredential, version: int, terms: OfferingTerms) -> None:
        """Schedule an edition of published ``version``; refused with every problem in its terms."""
        if self.scheduled is not None:
            raise Conflict(f"offering {self.stream_id} already exists")
        if micro_credential.coordinator_id is None:
            raise NotFound(f"micro-credential {micro_credential.stream_id} does not exist", field="micro_credential_id")
        require_coordinator_editor(actor, micro_credential.coordinator_id, "schedule offerings of this programme")
        if micro_credential.retired:
            raise Conflict(f"micro-credential {micro_credential.stream_id} is retired: no new offerings")
        definition = micro_credential.version_definition(version)
        problems = Problems()
        problems.extend(terms_problems(terms, definition))
        problems.raise_if_any(f"offering {self.stream_id} cannot be scheduled")
        components = definition.component_terms
        self._record(
            cat.OfferingScheduled(
                offering_id=self.stream_id,
                micro_credential_id=micro_credential.stream_id,
                micro_credential_version=version,
                coordinator_id=definition.coordinator_id,
                title=definition.title,
                ects=definition.workload.ects,
                terms=terms,
                components=components,
                criteria=definition.criteria,
                prerequisites=definition.prerequisites,
                partners=tuple(
                    cat.Partner(institution_id=p.institution_id, roles=p.roles) for p in definition.partners
                ),
                fee=fee_for(terms.tariff, components),
                scheduled_by=actor.user_id,
            )
        )

    def _existing(self) -> cat.OfferingScheduled:
        if self.scheduled is None:
            raise NotFound(f"offering {self.stream_id} does not exist")
        return self.scheduled

    def _transition(self, actor: Actor, event_type: type[cat.OfferingLifecycleEvent], **extra: str) -> None:
        scheduled = self._existing()
        if event_type is cat.OfferingCancelled or not actor.has(OPERATOR):
            require_coordinator_editor(actor, scheduled.coordinator_id, "change this offering")
        allowed, _ = _TRANSITIONS[event_type]
        if self.status not in allowed:
            raise Conflict(f"offering {self.stream_id} is {self.status}", field="status")
        self._record(
            event_type(
                offering_id=self.stream_id,
                micro_credential_id=scheduled.micro_credential_id,
                micro_credential_version=scheduled.micro_credential_version,
                by=actor.user_id,
                **extra,
            )
        )

    def open(self, actor: Actor) -> None:
        """Open for enrolment (the coordinator, or the operator's scheduler)."""
        self._transition(actor, cat.OfferingOpened)

    def close(self, actor: Actor) -> None:
        self._transition(actor, cat.OfferingClosed)

    def start(self, actor: Actor) -> None:
        self._transition(actor, cat.OfferingStarted)

    def finish(self, actor: Actor) -> None:
        self._transition(actor, cat.OfferingFinished)

    def cancel(self, actor: Actor, reason: str) -> None:
        """Only the coordinator's catalogue editors cancel, with a reason."""
        require_coordinator_editor(actor, self._existing().coordinator_id, "cancel this offering")
        if not reason.strip():
            raise DomainError("a cancellation needs a reason", field="reason")
        self._transition(actor, cat.OfferingCancelled, reason=reason)

    def apply(self, event: Event) -> None:
        if isinstance(event, cat.OfferingScheduled):
            self.scheduled, self.status = event, OfferingStatus.SCHEDULED
        elif isinstance(event, cat.OfferingLifecycleEvent):
            self.status = _TRANSITIONS[type(event)][1]
