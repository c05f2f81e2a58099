"""What one issuance batch asks of PostgreSQL: under a trickle of awards (the mixed steady load)
most batches hold one credential, and each round trip is latency and server CPU on its path."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.credential.integration.test_credential_issuance_pipeline import one_issued
from tests.credential.integration.test_credential_issuance_world import award, credential_of, pipeline, seed_learner

pytestmark = pytest.mark.integration


def _count_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement any pooled connection sends from now on (asyncpg's two ways of sending one)."""
    sent: list[str] = []
    connection = asyncpg.connection.Connection
    with_arguments, plain = connection._execute, connection.execute

    async def _execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(" ".join(query.split())[:60])
        return await with_arguments(self, query, *args, **kwargs)

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args:  # with arguments it goes through _execute, counted there
            sent.append(" ".join(query.split())[:60])
        return await plain(self, query, *args, **kwargs)

    monkeypatch.setattr(connection, "_execute", _execute)
    monkeypatch.setattr(connection, "execute", execute)
    return sent


async def test_a_batch_of_one_credential_claims_and_reads_what_its_award_stands_on_in_one_statement(pool, monkeypatch):
    await one_issued(pool)  # the consortium's keys and open status list exist, as in a running service
    issuance = pipeline(pool)
    async with pool.acquire() as conn:
        await seed_learner(conn, "ben")
        await seed_learner(conn, "cleo")
        await award(conn, "ben")
    assert await issuance.drain(pool) == 1  # the pipeline has kept the definition since
    async with pool.acquire() as conn:
        award_id = await award(conn, "cleo")
    sent = _count_round_trips(monkeypatch)
    assert await issuance.drain(pool) == 1
    monkeypatch.undo()
    async with pool.acquire() as conn:
        assert (await credential_of(conn, award_id))["status"] == "active"
    assert [s.split()[0] for s in sent] == [
        "BEGIN;",
        "WITH",  # the claim, the award, its credentials (locked), the causing event, the learner
        "SELECT",  # the awarding bodies and their keys
        "BEGIN;",  # the reservation's own transaction:
        "SET",
        "WITH",  # the open list's entries counted and drawn
        "COMMIT;",
        "INSERT",  # the signed credential
        "WITH",  # its event and outbox row
        "WITH",  # the queue row done
        "COMMIT;",
    ], sent
