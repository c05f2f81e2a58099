"""Read use cases with their access rules.

Who sees what:

* a learner (role ``learner``) sees their own awards and explanations (token subject = learner id);
* staff of a partner institution of the offering — roles ``assessor``, ``registrar`` or
  ``credential-officer`` with the institution in the offering's partners (coordinator included) —
  see every learner's awards of that offering and explanations; for a pathway award, the pathway's
  partners;
* an ``operator`` sees everything.

Anything else is 403; something unknown is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg

from tessera_credential.adapters import reads, state
from tessera_shared.kernel.aggregate import Forbidden, NotFound
from tessera_shared.kernel.auth import Principal

STAFF_ROLES = ("assessor", "registrar", "credential-officer")
READ_ROLES = ("learner", "operator", *STAFF_ROLES)


def is_own(principal: Principal, learner_id: str) -> bool:
    return principal.is_learner and principal.subject == learner_id


def is_partner_staff(principal: Principal, partner_ids: Iterable[str]) -> bool:
    return principal.has(*STAFF_ROLES) and principal.institution is not None and principal.institution in partner_ids


def may_see(principal: Principal, learner_id: str, partner_ids: Iterable[str]) -> bool:
    return principal.is_operator or is_own(principal, learner_id) or is_partner_staff(principal, partner_ids)


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise NotFound(f"no {what} {value!r}") from None


def _award_view(row: dict[str, Any], *, with_explanation: bool) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k != "partner_ids"}
    if not with_explanation:
        view.pop("explanation", None)
    return view


async def award(pool: asyncpg.Pool, principal: Principal, award_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await reads.award(conn, _uuid(award_id, "award"))
    if row is None:
        raise NotFound(f"no award {award_id!r}")
    if not may_see(principal, row["learner_id"], row["partner_ids"]):
        raise Forbidden("this award is not yours, nor of an offering of your institution")
    return _award_view(row, with_explanation=True)


async def pathway_award(pool: asyncpg.Pool, principal: Principal, award_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await reads.pathway_award(conn, _uuid(award_id, "pathway award"))
    if row is None:
        raise NotFound(f"no pathway award {award_id!r}")
    if not may_see(principal, row["learner_id"], row["partner_ids"]):
        raise Forbidden("this pathway award is not yours, nor of a pathway of your institution")
    return _award_view(row, with_explanation=True)


async def awards_of_learner(pool: asyncpg.Pool, principal: Principal, learner_id: str) -> dict[str, Any]:
    """Every award and pathway award of the learner, lineage included; staff see those of their
    institution's offerings and pathways only."""
    if not (principal.is_operator or is_own(principal, learner_id) or principal.has(*STAFF_ROLES)):
        raise Forbidden("learners see their own awards only")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await reads.awards_of_learner(conn, learner_id)
        pathway_rows = await reads.pathway_awards_of_learner(conn, learner_id)
    visible = [r for r in rows if may_see(principal, learner_id, r["partner_ids"])]
    visible_pathways = [r for r in pathway_rows if may_see(principal, learner_id, r["partner_ids"])]
    return {
        "learner_id": learner_id,
        "awards": [_award_view(r, with_explanation=False) for r in visible],
        "pathway_awards": [_award_view(r, with_explanation=False) for r in visible_pathways],
    }


async def explanation(pool: asyncpg.Pool, principal: Principal, learner_id: str, offering_id: str) -> dict[str, Any]:
    """Why (not): the latest evaluation of the learner in the offering, with the facts behind it."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        evaluation = await reads.evaluation(conn, learner_id, offering_id)
        lo = await state.load_learner_offering(conn, learner_id, offering_id)
        held = None
        if lo.offering is not None:
            held = await reads.active_award_id(
                conn, learner_id, lo.offering.micro_credential_id, lo.offering.micro_credential_version
            )
    partners = lo.offering.partner_ids if lo.offering is not None else frozenset()
    if not may_see(principal, learner_id, partners):
        raise Forbidden("learners see their own explanations; staff those of their institution's offerings")
    if evaluation is None:
        raise NotFound(f"nothing is known of learner {learner_id!r} in offering {offering_id!r}")
    enrolment = lo.enrolment
    components = []
    codes = list(lo.offering.components) if lo.offering is not None else sorted(lo.components)
    for code in codes:
        standing = lo.components.get(code)
        components.append(
            {
                "code": code,
                "ects": str(lo.offering.components[code]) if lo.offering is not None else None,
                "result": standing.result.model_dump(mode="json") if standing and standing.result else None,
                "result_event_ids": list(standing.result_event_ids) if standing else [],
                "attendance": str(standing.attendance) if standing and standing.attendance is not None else None,
                "attendance_event_ids": list(standing.attendance_event_ids) if standing else [],
            }
        )
    return {
        "learner_id": learner_id,
        "offering_id": offering_id,
        "micro_credential_id": lo.offering.micro_credential_id if lo.offering else None,
        "micro_credential_version": lo.offering.micro_credential_version if lo.offering else None,
        "outcome": evaluation["outcome"],
        "met": evaluation["met"],
        "enrolment": {"enrolment_id": enrolment.enrolment_id, "status": enrolment.status.value} if enrolment else None,
        "award_id": evaluation["award_id"],
        "held_award_id": held,
        "explanation": evaluation["explanation"],
        "components": components,
        "evaluated_by": evaluation["evaluated_by"],
        "evaluated_at": evaluation["evaluated_at"],
    }


async def evaluations_of_offering(pool: asyncpg.Pool, principal: Principal, offering_id: str) -> dict[str, Any]:
    """Every learner's standing in an offering (staff of its partners, operators)."""
    async with pool.acquire() as conn:
        offering = await state.load_offering(conn, offering_id)
        if offering is None:
            raise NotFound(f"offering {offering_id!r} is not known here")
        if not (principal.is_operator or is_partner_staff(principal, offering.partner_ids)):
            raise Forbidden("only staff of the offering's partner institutions see every learner")
        rows = await reads.evaluations_of_offering(conn, offering_id)
    return {
        "offering_id": offering_id,
        "micro_credential_id": offering.micro_credential_id,
        "micro_credential_version": offering.micro_credential_version,
        "learners": rows,
    }
