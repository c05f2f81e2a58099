"""The event store's metadata: the bound context, or the context an append carries (e.g. the cause
of a background worker's events), on the stored event and on the envelope in the outbox."""

import pytest

from tessera_shared.contract.envelope import Envelope
from tessera_shared.kernel import context
from tessera_shared.kernel.eventstore import Append, EventStore
from tests.shared.kernel_events import ThingHappened

pytestmark = pytest.mark.integration

PARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def trace(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


async def test_each_append_carries_its_own_context_or_the_bound_one(pool):
    store = EventStore(pool, source="/tessera/test")
    own = context.MessageContext(correlation_id="corr-own", causation_id="cause-1", traceparent=PARENT)
    bound = context.MessageContext(correlation_id="corr-bound", causation_id="cause-0")
    token = context.bind(bound)
    try:
        async with pool.acquire() as conn, conn.transaction():
            stored = await store.append_many(
                conn,
                [
                    Append("a", 0, [ThingHappened(thing_id="a", n=1)], context=own),
                    Append("b", 0, [ThingHappened(thing_id="b", n=1), ThingHappened(thing_id="b", n=2)]),
                ],
            )
    finally:
        context.reset(token)
    by_stream = {e.stream_id: e.metadata for e in stored}
    assert by_stream["a"] == {"correlationid": "corr-own", "causationid": "cause-1", "traceparent": PARENT}
    assert by_stream["b"]["correlationid"] == "corr-bound" and by_stream["b"]["causationid"] == "cause-0"
    async with pool.acquire() as conn:
        bodies = [bytes(r["body"]) for r in await conn.fetch("SELECT body FROM outbox ORDER BY event_id")]
    envelopes = {e.subject: e for e in map(Envelope.from_bytes, bodies)}
    assert envelopes["a"].correlationid == "corr-own" and envelopes["a"].traceparent == PARENT
    assert envelopes["a"].causationid == "cause-1"
    assert envelopes["b"].correlationid == "corr-bound"


async def test_following_a_stored_event_continues_its_correlation_and_trace(pool):
    store = EventStore(pool, source="/tessera/test")
    cause = context.MessageContext(correlation_id="corr-1", traceparent=PARENT)
    async with pool.acquire() as conn:
        [first] = await store.append_many(conn, [Append("c", 0, [ThingHappened(thing_id="c", n=1)], context=cause)])
        [untraced] = await store.append_many(
            conn, [Append("d", 0, [ThingHappened(thing_id="d", n=1)], context=context.MessageContext("corr-2"))]
        )
        unknown = "0b0e6a49-1111-4c3e-9d2a-00000000000f"
        found = await store.following(conn, [first.event_id, untraced.event_id, unknown])
    assert set(found) == {first.event_id, untraced.event_id}  # an event not in the store is left out
    ctx = found[first.event_id]
    assert ctx.correlation_id == "corr-1" and ctx.causation_id == first.event_id
    assert ctx.traceparent is not None
    assert trace(ctx.traceparent)[0] == "a" * 32 and trace(ctx.traceparent)[1] != "b" * 16  # same trace, new span
    other = found[untraced.event_id]
    assert other.correlation_id == "corr-2" and other.causation_id == untraced.event_id
    assert other.traceparent is not None and len(trace(other.traceparent)[0]) == 32  # a new trace
