"""Correlation and W3C trace context: continued across messages and visible in logs."""

import pytest
import structlog

from tessera_shared.kernel import context

pytestmark = pytest.mark.unit


def test_message_context_continues_the_trace_and_logs_carry_its_ids():
    parent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    child = context.new_traceparent(parent)
    assert child.split("-")[1] == "a" * 32 and child.split("-")[2] != "b" * 16
    token = context.bind(context.MessageContext(correlation_id="c-1", traceparent=child))
    try:
        assert structlog.contextvars.get_contextvars() == {"correlation_id": "c-1", "trace_id": "a" * 32}
        assert context.current().correlation_id == "c-1"
    finally:
        context.reset(token)
    assert "trace_id" not in structlog.contextvars.get_contextvars()
