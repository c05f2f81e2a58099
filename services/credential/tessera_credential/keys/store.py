"""SQL of the institutions' key pairs (table ``institution_keys``, migration 0100).

One active key per institution (partial unique index), key numbers never reused (primary key),
retired keys kept forever so the credentials they signed keep verifying. Creation and rotation run
under a transaction-level advisory lock per institution, so two replicas never race each other
into a rotation; the unique indexes would refuse the loser anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tessera_credential.keys.did import PublicKeyRecord
from tessera_credential.keys.sealing import KeyEncryptionError, KeyEncryptionKey
from tessera_credential.proofs.multikey import Ed25519Multikey
from tessera_shared.kernel.db import Conn


@dataclass(frozen=True)
class SigningKey:
    """An institution's active key, opened for signing. ``repr`` never shows the secret."""

    institution_id: str
    key_number: int
    key: Ed25519Multikey


async def _lock(conn: Conn, institution_id: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('tessera-institution-key'), hashtext($1))", institution_id
    )


async def _insert_key(conn: Conn, kek: KeyEncryptionKey, institution_id: str, key_number: int) -> None:
    key = Ed25519Multikey.generate()
    await conn.execute(
        """INSERT INTO institution_keys (institution_id, key_number, public_key, sealed_secret, kek_id)
           VALUES ($1, $2, $3, $4, $5)""",
        institution_id,
        key_number,
        key.public_key,
        kek.seal(key, institution_id, key_number),
        kek.kek_id,
    )


async def ensure_keys(conn: Conn, kek: KeyEncryptionKey, institution_ids: list[str]) -> list[str]:
    """Give every institution in the list an active key if it has none; returns those created.

    Runs in the caller's transaction (the lock is released at its end)."""
    created = []
    for institution_id in sorted(set(institution_ids)):  # fixed lock order
        has = await conn.fetchval(
            "SELECT 1 FROM institution_keys WHERE institution_id = $1 AND retired_at IS NULL", institution_id
        )
        if has:
            continue
        await _lock(conn, institution_id)
        number = await conn.fetchval(
            """SELECT CASE WHEN bool_or(retired_at IS NULL) THEN NULL ELSE coalesce(max(key_number), 0) + 1 END
               FROM institution_keys WHERE institution_id = $1""",
            institution_id,
        )
        if number is None:  # created by someone else while we waited for the lock
            continue
        await _insert_key(conn, kek, institution_id, number)
        created.append(institution_id)
    return created


async def rotate(conn: Conn, kek: KeyEncryptionKey, institution_id: str) -> tuple[int, int | None]:
    """Retire the active key (if any) and create the next one; ``(new number, retired number)``.

    Runs in the caller's transaction."""
    await _lock(conn, institution_id)
    retired = await conn.fetchval(
        """UPDATE institution_keys SET retired_at = clock_timestamp()
           WHERE institution_id = $1 AND retired_at IS NULL RETURNING key_number""",
        institution_id,
    )
    number = await conn.fetchval(
        "SELECT coalesce(max(key_number), 0) + 1 FROM institution_keys WHERE institution_id = $1", institution_id
    )
    await _insert_key(conn, kek, institution_id, number)
    return int(number), (int(retired) if retired is not None else None)


async def signing_keys(conn: Conn, kek: KeyEncryptionKey, institution_ids: list[str]) -> dict[str, SigningKey]:
    """The active key of each institution, opened; institutions without a key are left out."""
    rows = await conn.fetch(
        """SELECT institution_id, key_number, public_key, sealed_secret, kek_id FROM institution_keys
           WHERE institution_id = ANY($1::text[]) AND retired_at IS NULL""",
        sorted(set(institution_ids)),
    )
    return open_keys(kek, rows)


def open_keys(kek: KeyEncryptionKey, rows: Iterable[Any]) -> dict[str, SigningKey]:
    """Open active key rows (``institution_id, key_number, public_key, sealed_secret, kek_id``) read
    by :func:`signing_keys` or by a statement of the caller's that reads them with more."""
    keys = {}
    for r in rows:
        if r["kek_id"] != kek.kek_id:
            raise KeyEncryptionError(
                f"the key of {r['institution_id']} was sealed with another key-encryption key "
                f"(kek_id {r['kek_id']}, this one is {kek.kek_id})"
            )
        key = kek.open(bytes(r["sealed_secret"]), r["institution_id"], r["key_number"], bytes(r["public_key"]))
        keys[r["institution_id"]] = SigningKey(r["institution_id"], r["key_number"], key)
    return keys


async def public_keys(conn: Conn, institution_id: str) -> list[PublicKeyRecord]:
    rows = await conn.fetch(
        """SELECT institution_id, key_number, public_key, retired_at IS NULL AS active FROM institution_keys
           WHERE institution_id = $1 ORDER BY key_number""",
        institution_id,
    )
    return [PublicKeyRecord(r["institution_id"], r["key_number"], bytes(r["public_key"]), r["active"]) for r in rows]


async def all_public_keys(conn: Conn) -> list[PublicKeyRecord]:
    """Every key of every institution (a few per institution: small enough to load per request)."""
    rows = await conn.fetch(
        "SELECT institution_id, key_number, public_key, retired_at IS NULL AS active FROM institution_keys"
    )
    return [PublicKeyRecord(r["institution_id"], r["key_number"], bytes(r["public_key"]), r["active"]) for r in rows]


async def foreign_kek_ids(conn: Conn, kek: KeyEncryptionKey) -> list[str]:
    """Fingerprints of other KEKs that sealed stored keys (startup refuses to run with any)."""
    rows = await conn.fetch("SELECT DISTINCT kek_id FROM institution_keys WHERE kek_id <> $1", kek.kek_id)
    return [r["kek_id"] for r in rows]


# Institutions the catalogue registered (the awarding engine's read model) that have no key yet.
INSTITUTIONS_WITHOUT_KEY = """SELECT i.institution_id FROM award_institutions i
   WHERE NOT EXISTS (SELECT 1 FROM institution_keys k
                     WHERE k.institution_id = i.institution_id AND k.retired_at IS NULL)
   ORDER BY i.institution_id"""


async def is_known_institution(conn: Conn, institution_id: str) -> bool:
    found = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM award_institutions WHERE institution_id = $1)
               OR EXISTS (SELECT 1 FROM institution_keys WHERE institution_id = $1)""",
        institution_id,
    )
    return bool(found)
