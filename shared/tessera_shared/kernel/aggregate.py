"""Event-sourced aggregate base: decide, record, apply.

Domain aggregates are pure: a command method checks the rules against current state and calls
:meth:`Aggregate._record` with the event(s) it decides; ``_record`` applies the event to the state
and queues it. State is rebuilt from history with :meth:`Aggregate.rehydrate`. No I/O here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Self

from tessera_shared.contract.base import Event


class DomainError(Exception):
    """A business rule refused a command. ``field`` names the input at fault, when there is one."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None, problems: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.problems = problems or []


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class Forbidden(DomainError):
    status = 403


class Aggregate(ABC):
    """Base for aggregates. Subclasses implement ``apply(event)`` (state change only, no checks)."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.version = 0  # number of events applied; the expected version for the next append
        self.pending: list[Event] = []

    @classmethod
    def rehydrate(cls, stream_id: str, history: Iterable[Event]) -> Self:
        agg = cls(stream_id)
        for event in history:
            agg.apply(event)
            agg.version += 1
        return agg

    @abstractmethod
    def apply(self, event: Event) -> None:
        """Change state for ``event``; never refuse (history is fact)."""

    def _record(self, event: Event) -> None:
        self.apply(event)
        self.pending.append(event)

    @property
    def expected_version(self) -> int:
        """The stream version the store must still have for the pending events to be appended."""
        return self.version

    def take_pending(self) -> list[Event]:
        events, self.pending = self.pending, []
        return events
