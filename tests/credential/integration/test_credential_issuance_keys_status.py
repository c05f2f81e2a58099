"""Institution keys (sealed at rest, rotation, did:web) and status-list index allocation, on a real
PostgreSQL through the adapters."""

from __future__ import annotations

import asyncio
import base64
import itertools

import pytest

from tessera_credential.issuance.settings import DEVELOPMENT_KEK, IssuanceSettings
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb, PublicKeyRecord
from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.keys.sealing import KeyEncryptionError, KeyEncryptionKey
from tessera_credential.proofs import Ed25519Multikey
from tessera_credential.status import lists as status_lists
from tessera_credential.status.lists import LIST_SIZE
from tests.credential.integration.test_credential_issuance_world import DIDS, kek_for_tests, migrate

GENT, AMSTERDAM = "ugent.be", "uva.nl"


# ------------------------------------------------------------------------------ did:web (no servers)


@pytest.mark.unit
def test_did_web_mapping_encodes_the_port_and_keeps_the_base_path():
    dids = DidWeb("https://creds.example.eu:8443/tessera/")
    assert dids.did(GENT) == "did:web:creds.example.eu%3A8443:tessera:institutions:ugent.be"
    assert dids.document_url(GENT) == "https://creds.example.eu:8443/tessera/institutions/ugent.be/did.json"
    method = dids.verification_method(GENT, 3)
    assert method == "did:web:creds.example.eu%3A8443:tessera:institutions:ugent.be#key-3"
    assert dids.parse_verification_method(method) == (GENT, 3)
    assert DidWeb("https://Creds.Example.eu").did(AMSTERDAM) == "did:web:creds.example.eu:institutions:uva.nl"
    for foreign in (
        "did:web:creds.example.eu:institutions:ugent.be#key-3",  # another port: another host
        f"{dids.did(GENT)}#key-0",
        f"{dids.did(GENT)}#keys-1",
        f"{dids.did(GENT)}",
        "did:web:creds.example.eu%3A8443:tessera:institutions:Not_A_Schac#key-1",
    ):
        assert dids.parse_verification_method(foreign) is None, foreign


@pytest.mark.unit
def test_resolver_answers_from_its_snapshot_and_never_raises():
    key = Ed25519Multikey.generate()
    keys = ConsortiumKeys.of(DIDS, [PublicKeyRecord(GENT, 1, key.public_key, False)])
    assert keys.resolve_key(DIDS.verification_method(GENT, 1)) == key.public_key  # retired keys still resolve
    assert keys.resolve_key(DIDS.verification_method(GENT, 2)) is None
    assert keys.resolve_key(key.did_key_verification_method) == key.public_key
    for hostile in (
        "did:key:zNotBase58!!",
        "did:key:z6Mk" + "1" * 5000,
        "did:web:evil.example:institutions:ugent.be#key-1",
        "did:example:123#k",
        "",
        "#key-1",
    ):
        assert keys.resolve_key(hostile) is None, hostile


@pytest.mark.unit
def test_key_encryption_key_is_required_outside_loopback_and_never_shown():
    with pytest.raises(KeyEncryptionError, match="CREDENTIAL_KEY_ENCRYPTION_KEY is not set"):
        IssuanceSettings(credential_key_encryption_key=None).key_encryption_key("https://creds.example.eu")
    with pytest.raises(KeyEncryptionError, match="32 bytes"):
        IssuanceSettings(credential_key_encryption_key=base64.b64encode(b"short").decode()).key_encryption_key(
            "https://creds.example.eu"
        )
    with pytest.raises(KeyEncryptionError, match="not valid base64"):
        IssuanceSettings(credential_key_encryption_key="***").key_encryption_key("https://creds.example.eu")
    assert IssuanceSettings(credential_key_encryption_key=None).key_encryption_key("http://127.0.0.1:8104") is (
        DEVELOPMENT_KEK
    )
    raw = bytes(range(32))
    settings = IssuanceSettings(credential_key_encryption_key=base64.b64encode(raw).decode())
    kek = settings.key_encryption_key("https://creds.example.eu")
    for shown in (repr(kek), str(kek), repr(settings), str(settings.model_dump())):
        assert base64.b64encode(raw).decode() not in shown and raw.hex() not in shown
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(kek)


# ------------------------------------------------------------------------------ keys at rest


async def test_private_keys_are_sealed_at_rest_and_open_only_with_their_kek_and_row(pool):
    await migrate(pool)
    kek = kek_for_tests()
    async with pool.acquire() as conn, conn.transaction():
        assert await key_store.ensure_keys(conn, kek, [AMSTERDAM, GENT]) == [GENT, AMSTERDAM]
        assert await key_store.ensure_keys(conn, kek, [GENT]) == []  # one active key each
    async with pool.acquire() as conn:
        rows = {r["institution_id"]: r for r in await conn.fetch("SELECT * FROM institution_keys")}
        signing = await key_store.signing_keys(conn, kek, [GENT, AMSTERDAM])
    for institution_id, row in rows.items():
        seed = signing[institution_id].key.seed
        sealed = bytes(row["sealed_secret"])
        assert seed not in sealed and seed.hex().encode() not in sealed and len(sealed) == 1 + 12 + 32 + 16
        assert signing[institution_id].key.public_key == bytes(row["public_key"])
        assert seed.hex() not in repr(signing[institution_id]) and signing[institution_id].key.secret_multibase not in (
            repr(signing[institution_id])
        )
    gent, uva = rows[GENT], rows[AMSTERDAM]
    with pytest.raises(KeyEncryptionError, match="does not open"):  # another KEK
        KeyEncryptionKey.generate().open(bytes(gent["sealed_secret"]), GENT, 1, bytes(gent["public_key"]))
    with pytest.raises(KeyEncryptionError, match="does not open"):  # a sealed key moved to another row
        kek.open(bytes(uva["sealed_secret"]), GENT, 1, bytes(gent["public_key"]))
    async with pool.acquire() as conn:
        with pytest.raises(KeyEncryptionError, match="another key-encryption key"):
            await key_store.signing_keys(conn, KeyEncryptionKey.generate(), [GENT])
        assert await key_store.foreign_kek_ids(conn, KeyEncryptionKey.generate()) == [kek.kek_id]


async def test_rotation_keeps_every_old_key_and_concurrent_first_keys_make_one(pool):
    await migrate(pool)
    kek = kek_for_tests()

    async def first_key() -> list[str]:
        async with pool.acquire() as conn, conn.transaction():
            return await key_store.ensure_keys(conn, kek, [GENT])

    created = await asyncio.gather(*(first_key() for _ in range(6)))
    assert sorted(len(c) for c in created) == [0, 0, 0, 0, 0, 1]
    async with pool.acquire() as conn, conn.transaction():
        before = (await key_store.signing_keys(conn, kek, [GENT]))[GENT]
        assert await key_store.rotate(conn, kek, GENT) == (2, 1)
        assert await key_store.rotate(conn, kek, GENT) == (3, 2)
    async with pool.acquire() as conn:
        after = (await key_store.signing_keys(conn, kek, [GENT]))[GENT]
        keys = await key_store.public_keys(conn, GENT)
        resolver = await ConsortiumKeys.load(conn, DIDS)
    assert after.key_number == 3 and after.key.public_key != before.key.public_key
    assert [(k.key_number, k.active) for k in keys] == [(1, False), (2, False), (3, True)]
    assert resolver.resolve_key(DIDS.verification_method(GENT, 1)) == before.key.public_key
    document = DIDS.did_document(GENT, keys)
    ids = [m["id"] for m in document["verificationMethod"]]
    assert ids == [DIDS.verification_method(GENT, n) for n in (3, 2, 1)] and document["assertionMethod"] == ids
    assert {m["type"] for m in document["verificationMethod"]} == {"Multikey"}
    assert document["verificationMethod"][2]["publicKeyMultibase"] == before.key.public_multibase


# ------------------------------------------------------------------------------ status indexes


async def test_status_indexes_are_random_and_unique_under_concurrency(pool):
    await migrate(pool)

    async def allocate(worker: int) -> dict[str, status_lists.StatusEntry]:
        async with pool.acquire() as conn, conn.transaction():
            return await status_lists.allocate(conn, GENT, [f"cred-{worker}-{n}" for n in range(40)])

    results = await asyncio.gather(*(allocate(w) for w in range(8)))
    entries = [e for r in results for e in r.values()]
    assert len(entries) == 320
    assert len({e.list_id for e in entries}) == 1  # one open list per issuer, shared by concurrent allocators
    indexes = [e.index for e in entries]
    assert len(set(indexes)) == 320 and all(0 <= i < LIST_SIZE for i in indexes)
    # random, not issuance order: spread over the list, and not increasing within one allocation
    assert max(indexes) - min(indexes) > LIST_SIZE // 2
    first = [e.index for e in results[0].values()]
    assert first != sorted(first)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT allocated FROM status_lists") == 320


async def test_an_index_drawn_twice_is_drawn_again(pool, monkeypatch):
    await migrate(pool)
    draws = itertools.chain([7, 7, 7, 9, 7, 9, 11], itertools.count(100))
    monkeypatch.setattr(status_lists.secrets, "randbelow", lambda _n: next(draws))
    async with pool.acquire() as conn, conn.transaction():
        got = await status_lists.allocate(conn, GENT, ["a", "b", "c"])
        more = await status_lists.allocate(conn, GENT, ["d"])
    assert sorted(e.index for e in got.values()) == [7, 9, 11]  # the UNIQUE key refused repeats; they were redrawn
    assert more["d"].index == 100


async def test_a_full_list_closes_and_the_next_allocation_opens_another(pool):
    await migrate(pool)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO status_lists (list_id, issuer_id, purpose, size, capacity) VALUES ($1, $2, 'revocation', $3, 3)",
            "0" * 32,
            GENT,
            LIST_SIZE,
        )
        got = await status_lists.allocate(conn, GENT, ["a", "b", "c", "d", "e"])
        lists = await conn.fetch("SELECT list_id, open, allocated FROM status_lists ORDER BY created_at, list_id")
    assert [e.list_id for e in got.values()].count("0" * 32) == 3
    assert [(r["open"], r["allocated"]) for r in lists] == [(False, 3), (True, 2)]
