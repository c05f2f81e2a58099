"""Commands shared by the two signed-off, versioned definitions (micro-credentials and pathways):
draft, edit, propose, withdraw, approve, reject, publish — each in one transaction.

The domain leaves two lookups to the application: the directory of registered institutions (for the
partners' names and countries) and, for pathways, the published micro-credentials. Both are loaded
from the event store in the command's own transaction, so a command decides on a consistent view
and never on a read model that may lag.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.application.unit_of_work import UnitOfWork, expect
from tessera_catalogue.domain.actors import CATALOGUE_EDITOR, OPERATOR, Actor
from tessera_catalogue.domain.sign_off import SignedOff
from tessera_shared.kernel.aggregate import Conflict, Forbidden, NotFound

S = TypeVar("S", bound=SignedOff[Any, Any])
Content = Any
View = dict[str, Any]


def ensure_can_view(actor: Actor, aggregate: SignedOff[Any, Any]) -> None:
    """The operator, and catalogue editors of the coordinator or of a partner named by the draft or by
    a published version, may see the working state (drafts are not public)."""
    if actor.has(OPERATOR):
        return
    involved = {aggregate.coordinator_id}
    if aggregate.draft is not None:
        involved.update(aggregate.draft.partner_ids())
    for definition in aggregate.published.values():
        involved.update(p.institution_id for p in definition.partners)
    if not actor.has(CATALOGUE_EDITOR) or actor.institution_id not in involved:
        raise Forbidden(f"{aggregate.noun} {aggregate.stream_id} is not a programme of your institution")


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class SignOffCommands(ABC, Generic[S]):
    kind: type[S]
    id_prefix: str

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    # --- what differs between micro-credentials and pathways -----------------------------------

    @abstractmethod
    async def _problems(self, repo: Repository, aggregate: S) -> list[str]:
        """Every reason the open draft cannot be published yet (sign-off aside)."""

    @abstractmethod
    async def _propose(self, repo: Repository, aggregate: S, actor: Actor) -> None: ...

    @abstractmethod
    async def _publish(self, repo: Repository, aggregate: S, actor: Actor) -> None: ...

    async def _extra_view(self, repo: Repository, aggregate: S) -> View:
        return {}

    # --- commands ---------------------------------------------------------------------------------

    async def _command(
        self, aggregate_id: str, expected: int | None, decide: Callable[[Repository, S], Awaitable[None]]
    ) -> View:
        async def work(repo: Repository) -> View:
            aggregate = await repo.load(self.kind, aggregate_id)
            expect(aggregate, expected, f"{self.kind.noun} {aggregate_id}")
            await decide(repo, aggregate)
            await repo.save(aggregate)
            return await self._view(repo, aggregate)

        return await self.uow.run(work)

    async def start(self, actor: Actor, aggregate_id: str | None, content: Content) -> View:
        """Draft version 1 of a new definition; the editor's institution becomes its coordinator."""
        new = aggregate_id or new_id(self.id_prefix)

        async def decide(repo: Repository, aggregate: S) -> None:
            if aggregate.version:
                raise Conflict(f"{self.kind.noun} {new} already exists", field=self.kind.id_field)
            aggregate.start_draft(actor, content)

        return await self._command(new, None, decide)

    async def edit(self, actor: Actor, aggregate_id: str, content: Content, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            aggregate.edit(actor, content, expected)

        return await self._command(aggregate_id, expected, decide)

    async def propose(self, actor: Actor, aggregate_id: str, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            await self._propose(repo, aggregate, actor)

        return await self._command(aggregate_id, expected, decide)

    async def withdraw(self, actor: Actor, aggregate_id: str, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            aggregate.withdraw_proposal(actor)

        return await self._command(aggregate_id, expected, decide)

    async def approve(self, actor: Actor, aggregate_id: str, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            aggregate.approve(actor)

        return await self._command(aggregate_id, expected, decide)

    async def reject(self, actor: Actor, aggregate_id: str, reason: str, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            aggregate.reject(actor, reason)

        return await self._command(aggregate_id, expected, decide)

    async def publish(self, actor: Actor, aggregate_id: str, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: S) -> None:
            await self._publish(repo, aggregate, actor)

        return await self._command(aggregate_id, expected, decide)

    async def state(self, actor: Actor, aggregate_id: str) -> View:
        """The working state from the event store: draft, sign-off, problems, published versions."""

        async def work(repo: Repository) -> View:
            aggregate = await repo.load(self.kind, aggregate_id)
            if aggregate.coordinator_id is None:
                raise NotFound(f"{self.kind.noun} {aggregate_id} does not exist")
            ensure_can_view(actor, aggregate)
            return await self._view(repo, aggregate)

        return await self.uow.read(work)

    async def _view(self, repo: Repository, aggregate: S) -> View:
        draft = aggregate.draft
        partners = draft.partner_ids() if draft is not None else []
        rejection = aggregate.last_rejection
        return {
            aggregate.id_field: aggregate.stream_id,
            "coordinator_id": aggregate.coordinator_id,
            "status": aggregate.status,
            "version": aggregate.version,
            "draft_version": aggregate.draft_version,
            "published_versions": sorted(aggregate.published),
            "latest_version": aggregate.latest_version,
            "draft": draft.model_dump(mode="json") if draft is not None else None,
            "approvals": [{"institution_id": i, "approved_by": u} for i, u in aggregate.approvals.items()],
            "awaiting_approval": [p for p in partners if p not in aggregate.approvals] if aggregate.proposed else [],
            "last_rejection": {"institution_id": rejection[0], "reason": rejection[1]} if rejection else None,
            "problems": await self._problems(repo, aggregate) if draft is not None else [],
            **(await self._extra_view(repo, aggregate)),
        }
