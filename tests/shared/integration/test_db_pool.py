"""The kernel's connection pool against a real PostgreSQL: releasing a connection costs no statement,
and what a release must still undo (an open transaction) is undone."""

import asyncio

import pytest

pytestmark = pytest.mark.integration


async def test_releasing_a_pooled_connection_runs_no_statement(pool):
    sent: list[str] = []
    async with pool.acquire() as conn:
        conn.add_query_logger(lambda record: sent.append(record.query))
        await conn.fetchval("SELECT 1")
    await asyncio.sleep(0.05)  # query loggers are called soon after, not during, the statement
    assert sent == ["SELECT 1"]  # asyncpg's default release would add its RESET ALL / UNLISTEN * script


async def test_a_transaction_left_open_is_rolled_back_on_release(pool):
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("CREATE TABLE left_open (x int)")
    # the next user of the pool's connections sees no table and no open transaction
    for _ in range(3):
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('left_open')") is None
