"""SQL migrations: the kernel's own tables, then the service's, applied once each, in order.

A migration is a ``NNNN_name.sql`` file. Applied names and checksums are kept in
``schema_migrations``; an advisory lock serialises concurrent starts of several replicas, and each
file runs in its own transaction. Changing an applied file is refused (write a new one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tessera_shared.kernel.db import Conn

KERNEL_SQL = Path(__file__).parent / "sql"
_LOCK_KEY = 0x7E55E4A0  # any constant shared by all replicas of all services


class MigrationChanged(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(*folders: tuple[str, Path]) -> list[Migration]:
    found: list[Migration] = []
    for prefix, folder in folders:
        for path in sorted(folder.glob("*.sql")):
            found.append(Migration(f"{prefix}/{path.name}", path.read_text()))
    return found


def for_service(service: str, folder: Path | None) -> list[Migration]:
    folders = [("kernel", KERNEL_SQL)]
    if folder is not None:
        folders.append((service, folder))
    return discover(*folders)


async def apply(conn: Conn, migrations: list[Migration]) -> list[str]:
    """Apply pending migrations; returns the names applied now."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_migrations")}
        applied: list[str] = []
        for m in migrations:
            if m.name in done:
                if done[m.name] != m.checksum:
                    raise MigrationChanged(f"{m.name} was changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)", m.name, m.checksum)
            applied.append(m.name)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


async def pending(conn: Conn, migrations: list[Migration]) -> list[str]:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return [m.name for m in migrations]
    done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
    return [m.name for m in migrations if m.name not in done]
