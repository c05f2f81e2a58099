"""Event base class, type registry and upcasters.

Every event payload subclasses :class:`Event` and declares its stable name and schema version::

    class InstitutionRegistered(Event, type="tessera.catalogue.institution.registered", version=1):
        institution_id: str

Its CloudEvents ``type`` (and NATS subject, under an optional namespace) is then
``tessera.catalogue.institution.registered.v1``.

Versioning rule: an additive change (a new optional field) keeps the version; a breaking change
declares a new class with ``version=2`` and an :func:`upcaster` from v1 so that stored v1 events load
as v2. :func:`parse_data` applies the upcaster chain, so handlers only ever see the newest version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type[Event]] = {}
_UPCASTERS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {}

E = TypeVar("E", bound="Event")


class UnknownEventType(LookupError):
    """A message names a type that is not part of the contract."""


class Event(BaseModel):
    """Base of every integration and domain event payload (the CloudEvents ``data``)."""

    # Consumers ignore fields they do not know yet: additive changes keep the version.
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_name: ClassVar[str]
    event_version: ClassVar[int]
    event_type: ClassVar[str]
    # Internal events stay in their service's event store; published ones also go to the outbox.
    published: ClassVar[bool] = True

    def __init_subclass__(
        cls, /, type: str | None = None, version: int = 1, internal: bool = False, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if type is None:  # an abstract intermediate base
            return
        parts = type.split(".")
        if len(parts) != 4 or parts[0] != "tessera" or not all(parts):
            raise ValueError(f"event name {type!r} must be tessera.<context>.<aggregate>.<event>")
        cls.event_name = type
        cls.event_version = version
        cls.event_type = f"{type}.v{version}"
        cls.published = not internal
        if cls.event_type in _REGISTRY and _REGISTRY[cls.event_type].__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {cls.event_type} registered twice")
        _REGISTRY[cls.event_type] = cls

    @property
    def context(self) -> str:
        """The producing bounded context (``catalogue``, ``enrolment`` ...)."""
        return self.event_name.split(".")[1]


def upcaster(
    from_type: str, to: type[Event]
) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Callable[[dict[str, Any]], dict[str, Any]]]:
    """Register ``fn(data_v_n) -> data_v_n+1`` turning a stored older payload into ``to``'s shape."""

    def register(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        _UPCASTERS[from_type] = (to.event_type, fn)
        return fn

    return register


def model_for(event_type: str) -> type[Event]:
    try:
        return _REGISTRY[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def is_known(event_type: str) -> bool:
    return event_type in _REGISTRY or event_type in _UPCASTERS


def parse_data(event_type: str, data: dict[str, Any]) -> Event:
    """Validate ``data`` as ``event_type``, upcasting older versions to the newest first."""
    seen: set[str] = set()
    while event_type in _UPCASTERS and event_type not in seen:
        seen.add(event_type)
        event_type, fn = _UPCASTERS[event_type]
        data = fn(data)
    return model_for(event_type).model_validate(data)


def event_type_of(event: Event | type[Event]) -> str:
    return event.event_type


def registered_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)
