"""The context of work caused by an event: same correlation and trace, causation = the event."""

import pytest

from tessera_shared.kernel import context

pytestmark = pytest.mark.unit


def test_following_an_event_keeps_its_correlation_and_trace_with_a_new_span():
    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    ctx = context.following("evt-1", "corr-1", parent)
    assert ctx.correlation_id == "corr-1" and ctx.causation_id == "evt-1"
    assert ctx.traceparent is not None
    _, trace_id, span_id, _ = ctx.traceparent.split("-")
    assert trace_id == "a" * 32 and span_id != "b" * 16


def test_following_an_event_without_correlation_or_trace_starts_from_the_event():
    ctx = context.following("evt-2", None, None)
    assert ctx.correlation_id == "evt-2" and ctx.causation_id == "evt-2"  # as a consumer does
    assert ctx.traceparent is not None and len(ctx.traceparent.split("-")[1]) == 32
