"""Correlation, causation and trace context carried from an HTTP request into events and on.

A contextvar holds the current :class:`MessageContext`; the HTTP middleware sets it from request
headers, consumers set it from the envelope of the message they handle, and the event store stamps
it on every event it appends. Work that is not handling one message (e.g. a background worker acting
on a batch of stored events) gives each append the context of its own cause with :func:`following`
instead of binding one.
"""

from __future__ import annotations

import os
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, replace

import structlog


@dataclass(frozen=True)
class MessageContext:
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None

    def caused_by(self, event_id: str) -> MessageContext:
        return replace(self, causation_id=event_id)


_current: ContextVar[MessageContext | None] = ContextVar("tessera_message_context", default=None)


def new_traceparent(parent: str | None = None) -> str:
    """A W3C traceparent continuing ``parent``'s trace with a new span id, or a new trace."""
    trace_id = None
    if parent:
        parts = parent.split("-")
        if len(parts) == 4 and len(parts[1]) == 32:
            trace_id = parts[1]
    return f"00-{trace_id or os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def following(event_id: str, correlation_id: str | None, traceparent: str | None) -> MessageContext:
    """The context of work caused by event ``event_id`` (whose metadata carried ``correlation_id`` and
    ``traceparent``): the same correlation id (else the event's own id, as a consumer does), causation
    = the event, and a new span in the event's trace (a new trace when it had none)."""
    return MessageContext(
        correlation_id=correlation_id or event_id, causation_id=event_id, traceparent=new_traceparent(traceparent)
    )


def current() -> MessageContext:
    ctx = _current.get()
    if ctx is None:
        ctx = MessageContext(correlation_id=str(uuid.uuid4()), traceparent=new_traceparent())
    return ctx


def bind(ctx: MessageContext) -> object:
    """Make ``ctx`` current (and visible in logs); returns a token for :func:`reset`."""
    trace = ctx.traceparent.split("-") if ctx.traceparent else []
    structlog.contextvars.bind_contextvars(
        correlation_id=ctx.correlation_id,
        trace_id=trace[1] if len(trace) == 4 else None,  # lets logs join the W3C trace of the request
    )
    return _current.set(ctx)


def reset(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]
    structlog.contextvars.unbind_contextvars("correlation_id", "trace_id")
