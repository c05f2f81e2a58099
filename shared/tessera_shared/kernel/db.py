"""PostgreSQL connection pools (asyncpg) and database creation."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

# What handlers get: a plain connection or one borrowed from a pool.
Conn = asyncpg.Connection | PoolConnectionProxy


def _dumps(value: Any) -> bytes:
    # orjson: ~5x faster than json.dumps on the documents and events every service writes;
    # non-string keys are written as strings, as json.dumps does.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def _jsonb_out(value: Any) -> bytes:
    return b"\x01" + _dumps(value)  # jsonb's binary format: a version byte, then the JSON text


def _jsonb_in(data: bytes) -> Any:
    return orjson.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects: the event store and read models speak JSON. In binary
    # format, so that rows of a table with jsonb columns also decode as composite values
    # (``array_agg(t)``: several tables in one round trip); asyncpg decodes composites only binary.
    await conn.set_type_codec("jsonb", encoder=_jsonb_out, decoder=_jsonb_in, schema="pg_catalog", format="binary")
    await conn.set_type_codec("json", encoder=_dumps, decoder=orjson.loads, schema="pg_catalog", format="binary")


async def _release(conn: asyncpg.Connection) -> None:
    """What a pooled connection runs when it is released: nothing.

    asyncpg's default release sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` after every use: four statements for PostgreSQL to parse and run, on every
    ``pool.acquire()``. Measured under the benchmark's steady load, those were 45 % of all the
    statements PostgreSQL ran (docs/benchmarks.md). Tessera's pooled connections never change session
    state, so there is nothing to undo: settings are ``SET LOCAL``, advisory locks are
    transaction-scoped (``pg_advisory_xact_lock*``), and LISTEN and session advisory locks live on
    dedicated connections (``leader.py``, ``projections.py``, ``migrations.py``). asyncpg still rolls
    back a transaction left open and drops the connection's listeners before calling this.
    """


async def create_pool(dsn: str, *, size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=size, init=_init_connection, reset=_release)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


def database_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/") or "postgres"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def ensure_database(dsn: str) -> None:
    """Create the database named in ``dsn`` if it does not exist (needs CREATEDB on the server)."""
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            # another replica may create it at the same moment
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(dsn: str) -> None:
    name = database_name(dsn)
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
