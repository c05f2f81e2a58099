"""Which lifecycle steps an offering's own dates make due on a given day.

Offerings move by explicit commands (the coordinator's catalogue editors, or the operator). A
consortium may also let the catalogue's clock take the steps its terms date (``OFFERING_CLOCK_SECONDS``):

- scheduled -> open   from ``enrolment.opens_on``
- open -> closed      after ``enrolment.closes_on``
- closed -> running   from ``starts_on`` (and only once enrolment has closed)
- running -> finished after ``ends_on``

Steps chain: an offering whose window has already passed is opened and closed in one go, so every
consumer still sees the whole lifecycle. The clock never cancels and never moves an offering back.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from tessera_catalogue.domain.offering import OfferingStatus
from tessera_shared.contract.terms import OfferingTerms

Step = Literal["open", "close", "start", "finish"]


def due_steps(status: OfferingStatus | None, terms: OfferingTerms, today: date) -> list[Step]:
    steps: list[Step] = []
    current = status
    if current is OfferingStatus.SCHEDULED and today >= terms.enrolment.opens_on:
        steps.append("open")
        current = OfferingStatus.OPEN
    if current is OfferingStatus.OPEN and today > terms.enrolment.closes_on:
        steps.append("close")
        current = OfferingStatus.CLOSED
    if current is OfferingStatus.CLOSED and today >= terms.starts_on:
        steps.append("start")
        current = OfferingStatus.RUNNING
    if current is OfferingStatus.RUNNING and today > terms.ends_on:
        steps.append("finish")
    return steps
