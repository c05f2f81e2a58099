"""pytest fixtures over real servers; enabled by ``pytest_plugins`` in tests/conftest.py.

Every test gets its own database (``t_<hex>``) and NATS namespace, so runs never see each other's
data and can share one server; databases are dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tessera_shared.kernel import db, migrations
from tessera_shared.testing.apps import Tokens
from tessera_shared.testing.servers import LocalNats, Servers


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    s = Servers().start()
    yield s
    s.stop()


@pytest.fixture
def namespace() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    """A fresh, empty database with the kernel's tables."""
    url = db.with_database(servers.database_url, "t_" + uuid.uuid4().hex[:12])
    await db.ensure_database(url)
    conn = await asyncpg.connect(url)
    try:
        await migrations.apply(conn, migrations.for_service("test", None))
    finally:
        await conn.close()
    yield url
    await db.drop_database(url)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(database_url, size=20)
    yield p
    await p.close()


@pytest.fixture
def restartable_nats(tmp_path: Path) -> Iterator[LocalNats]:
    """A nats-server of the test's own, which the test may stop and start again."""
    server = LocalNats(tmp_path / "nats").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    """The operator's key pair for this test session (services get its public key)."""
    return Tokens.generate()
