"""Versioned definitions (micro-credentials, pathways): drafting, editing, published versions.

Version N, once published, is kept as the immutable snapshot of its published event and never
changes; editing after publication opens draft N+1. Only the coordinator's catalogue editors draft
and edit; the institution of the editor who starts a draft becomes its coordinator for good.
"""

from __future__ import annotations

from typing import ClassVar, Generic, Protocol, TypeVar

from tessera_catalogue.domain import events as ev
from tessera_catalogue.domain.actors import CATALOGUE_EDITOR, Actor, require_coordinator_editor
from tessera_catalogue.domain.partners import check_coordinator_kept
from tessera_shared.contract.base import Event
from tessera_shared.contract.catalogue import Partner
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, Forbidden, NotFound


class Content(Protocol):
    @property
    def partners(self) -> tuple[Partner, ...]: ...

    def partner_ids(self) -> list[str]: ...


C = TypeVar("C", bound=Content)
P = TypeVar("P")


class Versioned(Aggregate, Generic[C, P]):
    noun: ClassVar[str]
    id_field: ClassVar[str]
    events: ClassVar[dict[type[Event], type[Event]]]  # generic step -> this aggregate's event class

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.coordinator_id: str | None = None
        self.draft: C | None = None
        self.draft_version: int | None = None
        self.proposed = False
        self.approvals: dict[str, str] = {}  # institution -> approving user
        self.published: dict[int, P] = {}
        self.retired = False

    @property
    def status(self) -> str:
        if self.retired:
            return "retired"
        if self.draft_version is not None:
            return "proposed" if self.proposed else "draft"
        return "published" if self.published else "new"

    @property
    def latest_version(self) -> int | None:
        return max(self.published) if self.published else None

    def _step(self, step: type[Event], **fields: object) -> None:
        self._record(self.events[step](**{self.id_field: self.stream_id}, **fields))

    def _require_exists(self) -> None:
        if self.coordinator_id is None:
            raise NotFound(f"{self.noun} {self.stream_id} does not exist")

    def _open_version(self) -> int:
        if self.draft_version is None:
            raise Conflict(f"{self.noun} {self.stream_id} has no open draft")
        return self.draft_version

    def _check_coordinator(self, content: C, coordinator_id: str) -> None:
        problems = check_coordinator_kept(content.partners, coordinator_id)
        if problems:
            raise DomainError(problems[0], field="partners", problems=problems)

    def _start(self, actor: Actor, content: C) -> None:
        if self.coordinator_id is not None:
            raise Conflict(f"{self.noun} {self.stream_id} already exists")
        if not actor.has(CATALOGUE_EDITOR) or actor.institution_id is None:
            raise Forbidden(f"only an institution's catalogue editors may draft a {self.noun}")
        self._check_coordinator(content, actor.institution_id)
        coordinator = actor.institution_id
        self._step(ev._Drafted, version=1, coordinator_id=coordinator, content=content, by=actor.user_id)

    def start_draft(self, actor: Actor, content: C) -> None:
        """Draft version 1; the actor's institution becomes the coordinator."""
        self._start(actor, content)

    def edit(self, actor: Actor, content: C, expected_version: int | None = None) -> None:
        """Replace the open draft, or open draft N+1 when version N is published.

        ``expected_version`` is the stream version the editor saw; a stale one is a conflict."""
        self._require_exists()
        require_coordinator_editor(actor, self.coordinator_id, f"edit this {self.noun}")
        if self.retired:
            raise Conflict(f"{self.noun} {self.stream_id} is retired")
        if expected_version is not None and expected_version != self.version:
            raise Conflict(f"edit based on version {expected_version}, but it is at {self.version}", field="version")
        coordinator = self.coordinator_id or ""
        self._check_coordinator(content, coordinator)
        if self.draft_version is None:
            version = (self.latest_version or 0) + 1
            self._step(ev._Drafted, version=version, coordinator_id=coordinator, content=content, by=actor.user_id)
        elif self.proposed:
            raise Conflict(f"version {self.draft_version} is proposed for sign-off; withdraw the proposal to edit it")
        else:
            self._step(ev._Edited, version=self.draft_version, content=content, by=actor.user_id)

    def _apply_step(self, event: Event) -> bool:
        """Apply a drafting step; False when ``event`` is not one."""
        if isinstance(event, ev._Drafted):
            self.coordinator_id = event.coordinator_id
            self.draft_version = event.version
        if not isinstance(event, ev._Drafted | ev._Edited):
            return False
        self.draft = event.content  # type: ignore[union-attr]  # each concrete class types it
        self._reset(proposed=False)
        return True

    def _reset(self, proposed: bool) -> None:
        self.proposed = proposed
        self.approvals = {}

    def _published(self, version: int, definition: P) -> None:
        self.published[version] = definition
        self.draft, self.draft_version = None, None
        self._reset(proposed=False)
