"""Enrolment commands: request (one or many), review, cancel, withdraw, and promotion from the waitlist.

Every command that touches seats or the waitlist of an offering first locks that offering's seats row
(``offering_seats``, ``FOR UPDATE``), then the enrolment rows it changes: one lock order everywhere,
so commands on one offering are serialised and never deadlock each other. Arrival order is the order
in which requests obtain the seats lock; the first ``capacity`` admissible requests get seats, the
rest get waitlist tickets in that order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tessera_enrolment.adapters import enrolments_sql, offerings_sql
from tessera_enrolment.adapters.awards_sql import held_micro_credentials
from tessera_enrolment.adapters.learners_sql import existing_learner_ids
from tessera_enrolment.application import access, learners
from tessera_enrolment.application.deps import Deps, persist
from tessera_enrolment.domain.admission import Decision, admission_outcome, consent_for
from tessera_enrolment.domain.enrolment import Enrolment, EnrolmentStatus
from tessera_enrolment.domain.learner import Learner
from tessera_enrolment.domain.offering import OfferingStatus, OfferingView
from tessera_enrolment.domain.seats import SeatLedger
from tessera_shared.contract.enrolment import AdmissionRoute
from tessera_shared.kernel.aggregate import Conflict, DomainError, NotFound
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import ConcurrencyError, EventStore


@dataclass
class EnrolRequest:
    offering_id: str
    learner_id: str
    consent_accepted: bool
    consent_terms_version: str
    consent_partners: Sequence[str] | None = None
    diploma: dict[str, Any] | None = None  # {"title": ..., "eqf_level": ..., ...}; personal data
    row: int = 1

    @property
    def declared_eqf_level(self) -> int | None:
        level = (self.diploma or {}).get("eqf_level")
        return int(level) if level is not None else None


@dataclass
class RowOutcome:
    request: EnrolRequest
    enrolment: Enrolment | None = None
    error: DomainError | None = None


@dataclass
class _Batch:
    now: datetime
    today: date
    offerings: dict[str, OfferingView]
    ledgers: dict[str, SeatLedger]
    learners: set[str]
    held: dict[str, set[str]]
    active: dict[tuple[str, str], tuple[str, str]]
    diplomas: dict[str, Any] = field(default_factory=dict)


async def enrol(
    conn: Conn,
    store: EventStore,
    deps: Deps,
    principal: Principal,
    requests: Sequence[EnrolRequest],
    *,
    batch_id: str | None = None,
    register: Mapping[str, Learner] | None = None,
) -> list[RowOutcome]:
    """Decide every request in order, in the caller's transaction; a refused row writes nothing and
    carries its error. All state rows, seats and events are written with a few statements at the end.

    ``register`` holds learners not yet registered (bulk uploads name new learners by email): they
    count as known while deciding, and only those with an enrolled row are then registered.
    """
    register = register or {}
    ledgers = await offerings_sql.lock_seats(conn, {r.offering_id for r in requests})
    learner_ids = {r.learner_id for r in requests}
    batch = _Batch(
        now=deps.clock.now(),
        today=deps.clock.today(),
        offerings=await offerings_sql.load_offerings(conn, {r.offering_id for r in requests}),
        ledgers=ledgers,
        learners=await existing_learner_ids(conn, learner_ids) | set(register),
        held=await held_micro_credentials(conn, learner_ids),
        active=await enrolments_sql.active_pairs(conn, {(r.learner_id, r.offering_id) for r in requests}),
    )
    outcomes: list[RowOutcome] = []
    for request in requests:
        outcome = RowOutcome(request)
        try:
            outcome.enrolment = _decide(deps, principal, request, batch, batch_id)
        except DomainError as exc:
            outcome.error = exc
        outcomes.append(outcome)
    created = [o.enrolment for o in outcomes if o.enrolment is not None]
    used = sorted({e.learner_id for e in created if e.learner_id in register})
    try:
        learner_appends = await learners.save_registrations(conn, principal, deps, [register[i] for i in used])
    except Conflict as exc:  # registered concurrently by someone else: decide again, finding them
        raise ConcurrencyError("learners", None) from exc
    await offerings_sql.save_seats(conn, list(ledgers.values()))
    await persist(conn, store, created, now=batch.now, diplomas=batch.diplomas, batch_appends=learner_appends)
    return outcomes


def _decide(deps: Deps, principal: Principal, request: EnrolRequest, batch: _Batch, batch_id: str | None) -> Enrolment:
    offering = batch.offerings.get(request.offering_id)
    if offering is None:
        raise NotFound(f"offering {request.offering_id} is not known", field="offering_id")
    access.ensure_may_enrol(principal, request.learner_id, offering)
    if request.learner_id not in batch.learners:
        raise NotFound(f"learner {request.learner_id} is not registered", field="learner_id")
    offering.ensure_open_for_enrolment(batch.today)
    assert offering.prerequisites is not None and offering.partners is not None
    consent = consent_for(
        accepted=request.consent_accepted,
        terms_version=request.consent_terms_version,
        presented_partners=request.consent_partners,
        partners=offering.partners,
        current_terms_version=deps.settings.consent_terms_version,
        at=batch.now,
    )
    pair = (request.learner_id, request.offering_id)
    if pair in batch.active:
        enrolment_id, status = batch.active[pair]
        raise Conflict(
            f"learner {request.learner_id} already has an active enrolment {enrolment_id} ({status}) "
            f"in offering {request.offering_id}",
            field="learner_id",
        )
    rules = admission_outcome(
        offering.prerequisites, batch.held.get(request.learner_id, set()), request.declared_eqf_level
    )
    enrolment = Enrolment.request(
        str(uuid.uuid4()),
        learner_id=request.learner_id,
        offering=offering,
        consent=consent,
        requested_by=principal.subject,
        at=batch.now,
        declared_eqf_level=request.declared_eqf_level,
        batch_id=batch_id,
    )
    if rules.decision is Decision.REJECT:
        enrolment.reject(reason=rules.reason or "admission requirements not met", at=batch.now)
    elif rules.decision is Decision.REVIEW:
        assert request.declared_eqf_level is not None and rules.required_eqf_level is not None
        enrolment.await_review(
            declared_eqf_level=request.declared_eqf_level, required_eqf_level=rules.required_eqf_level
        )
    else:
        _seat_or_waitlist(enrolment, offering, batch.ledgers[offering.offering_id], batch.now)
    batch.active[pair] = (enrolment.enrolment_id, str(enrolment.status))
    if request.diploma:
        batch.diplomas[enrolment.enrolment_id] = request.diploma
    return enrolment


def _seat_or_waitlist(
    enrolment: Enrolment,
    offering: OfferingView,
    ledger: SeatLedger,
    now: datetime,
    *,
    route: AdmissionRoute = AdmissionRoute.DIRECT,
    by: str | None = None,
) -> None:
    if ledger.take():
        enrolment.admit(fee=offering.fee(), at=now, route=route, by=by)
    elif offering.waitlist:
        enrolment.waitlist(ticket=ledger.next_ticket(), at=now)
    else:
        raise Conflict(
            f"offering {offering.offering_id} is full ({ledger.capacity} seats) and keeps no waitlist",
            field="offering_id",
        )


async def fill_freed_seats(
    conn: Conn, offering: OfferingView, ledger: SeatLedger, now: datetime, *, exclude: Sequence[str] = ()
) -> list[Enrolment]:
    """Promote waitlisted learners, lowest ticket first, into the seats now free."""
    promoted: list[Enrolment] = []
    if not offering.seats_may_be_filled:
        return promoted
    while ledger.free > 0:
        skip = [*exclude, *(p.enrolment_id for p in promoted)]
        next_id = await enrolments_sql.next_waitlisted(conn, offering.offering_id, skip)
        if next_id is None:
            break
        enrolment = (await enrolments_sql.load_aggregates(conn, [next_id]))[next_id]
        if not ledger.take():  # pragma: no cover - guarded by the loop condition
            break
        enrolment.promote(fee=offering.fee(), at=now)
        promoted.append(enrolment)
    return promoted


@dataclass
class _Locked:
    enrolment: Enrolment
    offering: OfferingView
    ledger: SeatLedger


async def _lock_one(conn: Conn, enrolment_id: str) -> _Locked:
    offering_id = await enrolments_sql.offering_of(conn, enrolment_id)
    if offering_id is None:
        raise NotFound(f"enrolment {enrolment_id} does not exist")
    ledgers = await offerings_sql.lock_seats(conn, [offering_id])
    await enrolments_sql.lock_enrolments(conn, [enrolment_id])
    enrolment = (await enrolments_sql.load_aggregates(conn, [enrolment_id]))[enrolment_id]
    offering = await offerings_sql.load_offering(conn, offering_id)
    assert offering is not None and offering_id in ledgers
    return _Locked(enrolment, offering, ledgers[offering_id])


def _ensure_not_over(offering: OfferingView) -> None:
    if offering.status in (OfferingStatus.FINISHED, OfferingStatus.CANCELLED):
        raise Conflict(f"offering {offering.offering_id} is {offering.status.value}", field="offering_id")


async def review(
    conn: Conn,
    store: EventStore,
    deps: Deps,
    principal: Principal,
    enrolment_id: str,
    *,
    admit: bool,
    reason: str | None,
) -> Enrolment:
    """The coordinator's registrar decides on a declared diploma: admitted (a seat, else the
    waitlist) or rejected with a reason."""
    locked = await _lock_one(conn, enrolment_id)
    enrolment, offering, ledger = locked.enrolment, locked.offering, locked.ledger
    access.ensure_may_review(principal, offering)
    if enrolment.status is not EnrolmentStatus.PENDING_REVIEW:
        raise Conflict(f"enrolment {enrolment_id} is {enrolment.status}, not pending review", field="status")
    now = deps.clock.now()
    if admit:
        _ensure_not_over(offering)
        _seat_or_waitlist(enrolment, offering, ledger, now, route=AdmissionRoute.REVIEW, by=principal.subject)
    else:
        if not reason or not reason.strip():
            raise DomainError("a rejection needs a reason", field="reason")
        enrolment.reject(reason=reason, at=now, by=principal.subject)
    await offerings_sql.save_seats(conn, [ledger])
    await persist(conn, store, [enrolment], now=now)
    return enrolment


async def cancel(
    conn: Conn, store: EventStore, deps: Deps, principal: Principal, enrolment_id: str, *, reason: str | None
) -> Enrolment:
    """The learner or a registrar cancels: refund from the offering's dated policy on today's date; a
    freed seat goes to the waitlist."""
    locked = await _lock_one(conn, enrolment_id)
    enrolment, offering, ledger = locked.enrolment, locked.offering, locked.ledger
    access.ensure_may_cancel(principal, enrolment.learner_id, offering)
    _ensure_not_over(offering)
    now = deps.clock.now()
    held_seat = enrolment.holds_seat
    enrolment.cancel(
        offering=offering, by=principal.subject, at=now, cancellation_date=deps.clock.today(), reason=reason
    )
    promoted: list[Enrolment] = []
    if held_seat:
        ledger.release()
        promoted = await fill_freed_seats(conn, offering, ledger, now, exclude=[enrolment_id])
    await offerings_sql.save_seats(conn, [ledger])
    await persist(conn, store, [enrolment, *promoted], now=now)
    return enrolment


async def withdraw(
    conn: Conn, store: EventStore, deps: Deps, principal: Principal, enrolment_id: str, *, reason: str | None
) -> Enrolment:
    """A partner institution withdraws an admitted learner (no refund); the seat goes to the waitlist."""
    locked = await _lock_one(conn, enrolment_id)
    enrolment, offering, ledger = locked.enrolment, locked.offering, locked.ledger
    access.ensure_may_withdraw(principal, offering)
    _ensure_not_over(offering)
    now = deps.clock.now()
    enrolment.withdraw(by=principal.subject, at=now, reason=reason)
    ledger.release()
    promoted = await fill_freed_seats(conn, offering, ledger, now, exclude=[enrolment_id])
    await offerings_sql.save_seats(conn, [ledger])
    await persist(conn, store, [enrolment, *promoted], now=now)
    return enrolment
