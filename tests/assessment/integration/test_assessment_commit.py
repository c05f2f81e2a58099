"""Commands write their events, outbox rows and read models in one statement
(``records.commit_records``) instead of ``EventStore.append`` followed by ``save_records``: the rows
must be the same, so that the relay, the projection and every consumer see no difference — and a
change to the kernel's append that this service does not follow shows up here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tessera_assessment.adapters.records import Saved, commit_records, save_records
from tessera_assessment.domain.grading import get_scheme
from tessera_assessment.domain.result import ComponentKey, ComponentResults
from tessera_shared.kernel import context
from tessera_shared.kernel.eventstore import ConcurrencyError
from tests.assessment.integration.assessment_world import GENT, JAN, OFFERING, World, running_world

pytestmark = pytest.mark.integration

GRADE = get_scheme("be-flemish-0-20").parse("14", field="grade")


@pytest.fixture
async def world(servers, tokens) -> AsyncIterator[World]:
    async with running_world(servers, tokens) as w:
        yield w


def recorded(learner: str, attempts: int = 1) -> ComponentResults:
    key = ComponentKey(learner, OFFERING, "DATA102", "mc-data", 1)
    record = ComponentResults(key.stream_id)
    for attempt in range(1, attempts + 1):
        record.record(
            f"result-{attempt}-{learner}",
            key=key,
            attempt=attempt,
            grade=GRADE,
            assessed_on=JAN,
            assessor_id=f"assessor@{GENT}",
            assessor_institution=GENT,
        )
    return record


def same(value: Any, learner: str) -> Any:
    """``value`` as JSON with the learner's name (and so the stream and result ids) made neutral."""
    return orjson.loads(orjson.dumps(value, default=str).replace(learner.encode(), b"LEARNER"))


async def rows_of(world: World, learner: str) -> dict[str, Any]:
    stream = f"assessment-record:{OFFERING}:DATA102:{learner}"
    events = await world.fetch(
        """SELECT e.stream_id, e.stream_version, e.event_type, e.data, e.metadata, o.event_type AS outbox_type, o.body
           FROM events e LEFT JOIN outbox o ON o.event_id = e.event_id
           WHERE e.stream_id = $1 ORDER BY e.stream_version""",
        stream,
    )
    found: dict[str, Any] = {"events": [], "outbox": []}
    for e in events:
        event = dict(e)
        envelope = orjson.loads(event.pop("body"))
        envelope.pop("id")
        envelope.pop("time")
        found["events"].append(event)
        found["outbox"].append(envelope)
    found["records"] = [
        {k: v for k, v in dict(r).items() if k != "updated_at"}
        for r in await world.fetch("SELECT * FROM records WHERE stream_id = $1", stream)
    ]
    found["results"] = [
        {k: v for k, v in dict(r).items() if k != "updated_at"}
        for r in await world.fetch("SELECT * FROM results WHERE stream_id = $1 ORDER BY attempt", stream)
    ]
    return same(found, learner)


async def test_one_statement_writes_the_rows_of_the_kernels_append_and_the_read_model_upserts(world: World) -> None:
    runtime = world.service.runtime
    assert runtime.pool is not None and runtime.store is not None
    token = context.bind(
        context.MessageContext("corr-1", "cause-1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    )
    try:
        async with runtime.pool.acquire() as conn:
            await commit_records(conn, runtime.store, [recorded("fast", attempts=2)])
            async with conn.transaction():
                kernel = recorded("kernel", attempts=2)
                events = kernel.take_pending()
                await runtime.store.append(conn, kernel.stream_id, kernel.expected_version, events)
                await save_records(conn, [Saved(kernel, kernel.version + len(events))])
    finally:
        context.reset(token)
    fast, reference = await rows_of(world, "fast"), await rows_of(world, "kernel")
    assert len(fast["events"]) == 2 and fast["events"][0]["metadata"]["correlationid"] == "corr-1"
    assert fast == reference

    # two commands that loaded the record at the same version: the second is refused, writing nothing
    def third_attempt() -> ComponentResults:
        record = recorded("fast", attempts=2)
        record.take_pending()
        record.version = 2  # as loaded from the two stored events
        record.record(
            "result-3-fast",
            key=ComponentKey("fast", OFFERING, "DATA102", "mc-data", 1),
            attempt=3,
            grade=GRADE,
            assessed_on=JAN,
            assessor_id=f"assessor@{GENT}",
            assessor_institution=GENT,
        )
        return record

    first, second = third_attempt(), third_attempt()
    async with runtime.pool.acquire() as conn:
        await commit_records(conn, runtime.store, [first])
        with pytest.raises(ConcurrencyError):
            await commit_records(conn, runtime.store, [second])
    after = await rows_of(world, "fast")
    assert [(e["stream_version"], e["outbox_type"] is not None) for e in after["events"]] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    assert [r["record_version"] for r in after["results"]] == [3, 3, 3]
