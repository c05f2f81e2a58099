"""The public event contract of Tessera.

Partner institutions code against this package: every integration event is a pydantic model
registered here under a stable CloudEvents ``type`` (``tessera.<context>.<aggregate>.<event>.v<N>``).
"""

# Importing every context's module registers all event types, so any consumer can tell a known
# type (that it may not handle) from a type that is not part of the contract at all.
from tessera_shared.contract import assessment, catalogue, credential, enrolment  # noqa: F401
from tessera_shared.contract.base import (
    Event,
    UnknownEventType,
    event_type_of,
    model_for,
    parse_data,
    registered_types,
    upcaster,
)

__all__ = [
    "Event",
    "UnknownEventType",
    "event_type_of",
    "model_for",
    "parse_data",
    "registered_types",
    "upcaster",
]
