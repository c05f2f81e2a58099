"""Who may act on whose data. Operators see and do everything; registrars act for their institution
within offerings it takes part in; learners only on their own data."""

from __future__ import annotations

from tessera_enrolment.domain.learner import Actor
from tessera_enrolment.domain.offering import OfferingView
from tessera_shared.kernel.aggregate import Forbidden
from tessera_shared.kernel.auth import Principal


def actor(principal: Principal) -> Actor:
    return Actor(
        subject=principal.subject,
        institution=principal.institution,
        is_operator=principal.is_operator,
        is_registrar=principal.has("registrar"),
    )


def ensure_may_enrol(principal: Principal, learner_id: str, offering: OfferingView) -> None:
    if principal.is_operator:
        return
    if principal.has("registrar"):
        if not offering.takes_part(principal.institution):
            raise Forbidden(
                f"registrars of {principal.institution} enrol learners only in offerings their institution "
                f"takes part in; {offering.offering_id} is not one",
                field="offering_id",
            )
        return
    if principal.is_learner and learner_id == principal.subject:
        return
    raise Forbidden("a learner enrols only themself", field="learner_id")


def ensure_may_cancel(principal: Principal, learner_id: str, offering: OfferingView) -> None:
    if principal.is_operator:
        return
    if principal.has("registrar") and offering.takes_part(principal.institution):
        return
    if principal.is_learner and learner_id == principal.subject:
        return
    raise Forbidden("only the learner, a registrar of a partner institution or an operator can cancel this enrolment")


def ensure_may_withdraw(principal: Principal, offering: OfferingView) -> None:
    if principal.is_operator:
        return
    if principal.has("registrar") and offering.takes_part(principal.institution):
        return
    raise Forbidden("only a registrar of a partner institution or an operator can withdraw a learner")


def ensure_may_review(principal: Principal, offering: OfferingView) -> None:
    if principal.is_operator:
        return
    if principal.has("registrar") and principal.institution == offering.coordinator_id:
        return
    raise Forbidden(f"declared diplomas are reviewed by the registrars of the coordinator, {offering.coordinator_id}")


def ensure_may_see_enrolment(principal: Principal, learner_id: str, institutions: list[str]) -> None:
    if principal.is_operator:
        return
    if principal.has("registrar") and principal.institution in institutions:
        return
    if principal.is_learner and learner_id == principal.subject:
        return
    raise Forbidden("this enrolment is outside your own data")
