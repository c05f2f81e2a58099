"""The message envelope: CloudEvents 1.0 (structured JSON mode) plus Tessera's extensions.

Attributes: ``id`` (the event id, also ``Nats-Msg-Id``), ``source`` (``/tessera/<service>``),
``type`` (``tessera.<context>.<aggregate>.<event>.v<N>``), ``subject`` (the aggregate id),
``time``, ``dataschema`` (a URN naming the JSON Schema of ``data``), and the extensions
``streamversion`` (position of the event in its aggregate stream), ``correlationid``,
``causationid`` and ``traceparent`` (W3C trace context).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_URN_PREFIX = "urn:tessera:contract:"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1)
    type: str = Field(pattern=r"^tessera\.[a-z0-9-]+\.[a-z0-9-]+\.[a-z0-9-]+\.v[0-9]+$")
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    streamversion: int | None = None
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse a message body; raises ``ValueError`` (orjson) or ``ValidationError`` on bad input."""
        return cls.model_validate(orjson.loads(raw))


def dataschema_for(event_type: str) -> str:
    return SCHEMA_URN_PREFIX + event_type
