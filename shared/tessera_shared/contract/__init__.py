"""The public event contract of Tessera.

Partner institutions code against this package: every integration event is a pydantic model
registered here under a stable CloudEvents ``type`` (``tessera.<context>.<aggregate>.<event>.v<N>``).
"""

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
