"""Learner commands: register (self or by a registrar) and update the profile."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from tessera_enrolment.adapters import learners_sql
from tessera_enrolment.application import access
from tessera_enrolment.application.deps import Deps
from tessera_enrolment.domain.learner import Learner, stream_id
from tessera_shared.contract.base import parse_data
from tessera_shared.contract.enrolment import LearnerProfile
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden, NotFound
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore


@dataclass
class LearnerInput:
    given_name: str
    family_name: str
    email: str
    email_verified: bool = False
    european_student_identifier: str | None = None
    home_institution: str | None = None
    learner_id: str | None = None


def new_learner_id(principal: Principal, requested: str | None) -> str:
    """A learner registering themself is their token's subject; staff may name the id or get one."""
    if principal.is_operator or principal.has("registrar"):
        return requested or str(uuid.uuid4())
    if requested is not None and requested != principal.subject:
        raise Forbidden(
            "a learner registers only themself: learner_id must be your token's subject", field="learner_id"
        )
    return principal.subject


def prepare_registration(principal: Principal, data: LearnerInput, learner_id: str) -> Learner:
    """The new learner aggregate with its pending ``LearnerRegistered`` (pure: no I/O)."""
    home = data.home_institution
    if home is None and not (principal.is_operator or principal.has("registrar")):
        home = principal.institution  # a learner's token may name their home institution
    profile = LearnerProfile(
        learner_id=learner_id,
        given_name=data.given_name,
        family_name=data.family_name,
        email=data.email,
        email_verified=data.email_verified,
        european_student_identifier=data.european_student_identifier,
        home_institution=home,
    )
    learner = Learner(stream_id(learner_id))
    learner.register(access.actor(principal), profile)
    return learner


async def save_registrations(conn: Conn, principal: Principal, deps: Deps, learners: Sequence[Learner]) -> list[Append]:
    """Insert the learners' rows; returns the appends of their events (for the caller's ``append_many``)."""
    profiles = [learner.existing for learner in learners]
    await learners_sql.insert_learners(
        conn, profiles, by=principal.subject, by_institution=principal.institution, at=deps.clock.now()
    )
    return [Append(learner.stream_id, 0, learner.take_pending()) for learner in learners]


async def register(
    conn: Conn, store: EventStore, deps: Deps, principal: Principal, data: LearnerInput
) -> LearnerProfile:
    learner_id = new_learner_id(principal, data.learner_id)
    if await learners_sql.get_learner(conn, learner_id) is not None:
        raise Conflict(f"learner {learner_id} is already registered", field="learner_id")
    learner = prepare_registration(principal, data, learner_id)
    await store.append_many(conn, await save_registrations(conn, principal, deps, [learner]))
    return learner.existing


async def _load(conn: Conn, store: EventStore, learner_id: str) -> Learner:
    history = await store.load(conn, stream_id(learner_id))
    return Learner.rehydrate(stream_id(learner_id), [parse_data(e.event_type, e.data) for e in history])


async def ensure_may_see(conn: Conn, principal: Principal, learner_id: str) -> dict[str, Any]:
    row = await learners_sql.get_learner(conn, learner_id)
    if row is None:
        raise NotFound(f"learner {learner_id} is not registered")
    if principal.is_operator or (principal.is_learner and principal.subject == learner_id):
        return row
    if principal.has("registrar") and await learners_sql.registrar_may_see(conn, learner_id, principal.institution):
        return row
    raise Forbidden("this learner is outside your own data")


def _may_change(principal: Principal, row: dict[str, Any]) -> bool:
    if principal.is_operator or (principal.is_learner and principal.subject == row["learner_id"]):
        return True
    return (
        principal.has("registrar")
        and principal.institution is not None
        and principal.institution
        in (
            row["home_institution"],
            row["registered_by_institution"],
        )
    )


async def update(
    conn: Conn, store: EventStore, deps: Deps, principal: Principal, learner_id: str, changes: dict[str, Any]
) -> LearnerProfile:
    """Apply the given fields (absent = unchanged; null clears an optional one)."""
    row = await ensure_may_see(conn, principal, learner_id)
    if not _may_change(principal, row):
        raise Forbidden(
            "a learner's profile is changed by the learner, a registrar of their home or registering "
            "institution, or an operator"
        )
    await conn.execute("SELECT 1 FROM learners WHERE learner_id = $1 FOR UPDATE", learner_id)
    learner = await _load(conn, store, learner_id)
    current = learner.existing
    if "learner_id" in changes and changes["learner_id"] != learner_id:
        raise DomainError("the learner id cannot change", field="learner_id")
    merged = {**current.model_dump(), **changes, "learner_id": learner_id}
    try:
        profile = LearnerProfile.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DomainError(first["msg"], field=".".join(str(p) for p in first["loc"])) from exc
    if learner.update(access.actor(principal), profile):
        await learners_sql.update_learner(conn, learner.existing, version=learner.version + 1, at=deps.clock.now())
        await store.append(conn, learner.stream_id, learner.expected_version, learner.take_pending())
    return learner.existing
