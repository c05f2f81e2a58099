"""The issuance pipeline on a real PostgreSQL: awards in the awarding engine's tables -> signed,
stored credentials and their events, exactly once; supersession and revocation flip status bits."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.proofs import BitstringStatusList, verify_document
from tests.credential.integration.credential_award_support import AMSTERDAM, GENT
from tests.credential.integration.test_credential_issuance_world import (
    DIDS,
    award,
    awards_with_redelivered_requests,
    credential_of,
    migrate,
    pathway_award,
    pipeline,
    revoke,
    seed_catalogue,
    seed_learner,
    supersede,
)

pytestmark = pytest.mark.integration


async def resolver(pool: asyncpg.Pool) -> ConsortiumKeys:
    async with pool.acquire() as conn:
        return await ConsortiumKeys.load(conn, DIDS)


async def one_issued(pool: asyncpg.Pool) -> str:
    """The consortium, one learner's award and its credential issued; returns the award id."""
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana")
        award_id = await award(conn, "ana")
    assert await pipeline(pool).drain(pool) == 1
    return award_id


async def test_an_award_becomes_one_credential_signed_by_every_awarding_body(pool):
    award_id = await one_issued(pool)
    async with pool.acquire() as conn:
        row = await credential_of(conn, award_id)
        events = await conn.fetch("SELECT event_type, data FROM events ORDER BY global_position")
        queue = await conn.fetch("SELECT done_at, attempts FROM issuance_queue")
    assert row is not None and row["status"] == "active"
    document = row["document"]
    assert document["id"] == row["credential_id"] and row["credential_id"].startswith(
        f"{DIDS.public_base}/credentials/"
    )
    assert document["issuer"]["id"] == DIDS.did(GENT)
    methods = [p["verificationMethod"] for p in document["proof"]]
    assert methods == [DIDS.verification_method(GENT, 1), DIDS.verification_method(AMSTERDAM, 1)]
    keys = await resolver(pool)
    assert verify_document(document, keys.resolve_key).verified
    entry = document["credentialStatus"]
    assert entry["statusListIndex"] == str(row["status_index"])
    assert entry["statusListCredential"] == f"{DIDS.public_base}/status-lists/{row['status_list_id']}"
    [issued] = [e for e in events if e["event_type"] == "tessera.credential.credential.issued.v1"]
    assert issued["data"]["credential_id"] == row["credential_id"]
    assert issued["data"]["issuer"] == DIDS.did(GENT) and issued["data"]["co_signers"] == [DIDS.did(AMSTERDAM)]
    assert issued["data"]["status_index"] == row["status_index"]
    assert [q["done_at"] is not None for q in queue] == [True]


async def test_signed_documents_are_stored_compressed_with_lz4_and_read_back_whole(pool):
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.execute("CREATE TEMP TABLE lz4_probe (v text COMPRESSION lz4)")
        except asyncpg.FeatureNotSupportedError:
            pytest.skip("this PostgreSQL is built without lz4 (the migration keeps pglz)")
    award_id = await one_issued(pool)
    async with pool.acquire() as conn:
        row = await credential_of(conn, award_id)
        method = await conn.fetchval(
            "SELECT pg_column_compression(document) FROM issued_credentials WHERE award_id = $1", award_id
        )
    assert method == "lz4"  # stored out of line and compressed (an 11 KB document), with lz4
    assert row is not None and verify_document(row["document"], (await resolver(pool)).resolve_key).verified


async def test_exactly_one_credential_per_award_under_redelivery_and_concurrent_issuers(pool):
    award_ids = await awards_with_redelivered_requests(pool, 24, again_every=2)
    issuers = [pipeline(pool, batch_size=5) for _ in range(4)]
    await asyncio.gather(*(p.drain(pool) for p in issuers))
    async with pool.acquire() as conn:
        # a batch that lost a deadlock is retried row by row; let every issuer finish what is left
        await asyncio.gather(*(p.drain(pool) for p in issuers))
        per_award = await conn.fetch("SELECT award_id, count(*) AS n FROM issued_credentials GROUP BY award_id")
        issued = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_type = 'tessera.credential.credential.issued.v1'"
        )
        pending = await conn.fetchval("SELECT count(*) FROM issuance_queue WHERE done_at IS NULL")
        entries = await conn.fetchval("SELECT count(*) FROM status_list_entries")
        with pytest.raises(asyncpg.UniqueViolationError):  # and the database refuses a second one outright
            await conn.execute(
                "INSERT INTO issued_credentials SELECT 'https://x/credentials/dup', award_id, award_kind, learner_id, "
                "micro_credential_id, micro_credential_version, pathway_id, pathway_version, issuer_id, co_signer_ids, "
                "achievement_id, document, 'active', status_list_id, status_index + 0, NULL, NULL, NULL, issued_at, "
                "NULL FROM issued_credentials LIMIT 1"
            )
    assert sorted(r["award_id"] for r in per_award) == sorted(award_ids)
    assert {r["n"] for r in per_award} == {1}
    assert issued == 24 and pending == 0
    assert entries == 24  # indexes allocated by a losing issuer were given back


async def test_supersession_links_the_predecessor_and_sets_its_bit(pool):
    await migrate(pool)
    p = pipeline(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana")
        first = await award(conn, "ana")
    await p.drain(pool)
    async with pool.acquire() as conn:
        second = await supersede(conn, first, "ana")
    await p.drain(pool)
    async with pool.acquire() as conn:
        old = await credential_of(conn, first)
        new = await credential_of(conn, second)
        signed = await conn.fetchval("SELECT credential FROM status_lists WHERE list_id = $1", old["status_list_id"])
        events = await conn.fetch(
            "SELECT event_type, data FROM events WHERE event_type LIKE 'tessera.credential.credential.%' "
            "ORDER BY global_position"
        )
    assert old["status"] == "superseded" and old["superseded_by"] == new["credential_id"]
    assert new["status"] == "active" and new["supersedes"] == old["credential_id"]
    assert old["credential_id"] in [e["id"] for e in new["document"]["evidence"]]  # signed link to the predecessor
    keys = await resolver(pool)
    assert verify_document(signed, keys.resolve_key).verified
    bits = BitstringStatusList.decode(signed["credentialSubject"]["encodedList"])
    assert bits.get(old["status_index"]) == 1 and bits.get(new["status_index"]) == 0
    assert [e["event_type"].split(".")[3] for e in events] == ["issued", "issued", "superseded"]
    assert events[2]["data"]["superseded_by"] == new["credential_id"]


async def test_revocation_sets_the_bit_and_a_revoked_award_is_never_issued(pool):
    await migrate(pool)
    p = pipeline(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana")
        await seed_learner(conn, "ben")
        issued = await award(conn, "ana")
        never = await award(conn, "ben")
        await revoke(conn, never)  # revoked before the issuer ran: nothing to issue
    await p.drain(pool)
    async with pool.acquire() as conn:
        await revoke(conn, issued, "enrolment enr-1 was withdrawn")
    await p.drain(pool)
    async with pool.acquire() as conn:
        row = await credential_of(conn, issued)
        assert await credential_of(conn, never) is None
        signed = await conn.fetchval("SELECT credential FROM status_lists WHERE list_id = $1", row["status_list_id"])
        revoked = await conn.fetchrow(
            "SELECT data FROM events WHERE event_type = 'tessera.credential.credential.revoked.v1'"
        )
        pending = await conn.fetchval("SELECT count(*) FROM issuance_queue WHERE done_at IS NULL")
    assert row["status"] == "revoked" and row["revocation_reason"] == "enrolment enr-1 was withdrawn"
    assert BitstringStatusList.decode(signed["credentialSubject"]["encodedList"]).get(row["status_index"]) == 1
    assert revoked["data"]["credential_id"] == row["credential_id"]
    assert pending == 0


async def test_missing_inputs_defer_the_row_until_they_arrive(pool):
    await migrate(pool)
    p = pipeline(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_learner(conn, "ana", profile=False)  # the learner's profile has not been consumed yet
        award_id = await award(conn, "ana")
    await p.drain(pool)
    async with pool.acquire() as conn:
        queue = await conn.fetchrow("SELECT done_at, attempts, last_error FROM issuance_queue")
        assert await credential_of(conn, award_id) is None
        assert await conn.fetchval("SELECT count(*) FROM status_list_entries") == 0
        assert queue["done_at"] is None and queue["attempts"] == 1 and "profile of learner ana" in queue["last_error"]
        assert await p.run_once(pool) == 0  # not retried before its time
        await seed_learner(conn, "ana")
        await conn.execute("UPDATE issuance_deferrals SET not_before = now()")
    await p.drain(pool)
    async with pool.acquire() as conn:
        assert (await credential_of(conn, award_id))["status"] == "active"
        assert await conn.fetchval("SELECT count(*) FROM issuance_deferrals") == 0


async def test_a_pathway_award_becomes_a_clr_bundle_of_the_stacked_credentials(pool):
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        await seed_catalogue(conn, mc_id="mc-ml", offering_id="off-2")
        await seed_learner(conn, "ana")
        data = await award(conn, "ana")
        ml = await award(conn, "ana", mc_id="mc-ml", offering_id="off-2")
        # queued with its constituents: the same batch issues them first, then the bundle
        pathway = await pathway_award(conn, "ana", [data, ml])
    assert await pipeline(pool).drain(pool) == 3
    async with pool.acquire() as conn:
        row = await credential_of(conn, pathway)
        stacked = [await credential_of(conn, a) for a in (data, ml)]
    assert row["award_kind"] == "pathway" and row["pathway_id"] == "pw-data" and row["micro_credential_id"] is None
    document = row["document"]
    assert document["type"] == ["VerifiableCredential", "ClrCredential"]
    assert [c["id"] for c in document["credentialSubject"]["verifiableCredential"]] == [
        s["credential_id"] for s in stacked
    ]
    keys = await resolver(pool)
    assert verify_document(document, keys.resolve_key).verified
    assert [p["verificationMethod"] for p in document["proof"]] == [
        DIDS.verification_method(GENT, 1),
        DIDS.verification_method(AMSTERDAM, 1),
    ]
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE pathway_awards SET status = 'revoked', revoked_at = now(), revocation_reason = 'mc-ml revoked'"
        )
        await conn.execute(
            "INSERT INTO issuance_queue (award_kind, action, award_id, event_id) VALUES ('pathway', 'revoke', $1, $2)",
            uuid.UUID(pathway),
            uuid.uuid4(),
        )
    await pipeline(pool).drain(pool)
    async with pool.acquire() as conn:
        row = await credential_of(conn, pathway)
        signed = await conn.fetchval("SELECT credential FROM status_lists WHERE list_id = $1", row["status_list_id"])
    assert row["status"] == "revoked" and row["revocation_reason"] == "mc-ml revoked"
    assert BitstringStatusList.decode(signed["credentialSubject"]["encodedList"]).get(row["status_index"]) == 1


async def test_a_published_definition_is_read_once_by_a_pipeline_and_kept_for_its_later_batches(pool):
    await migrate(pool)
    issuer = pipeline(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        for learner in ("ana", "ben", "cid"):
            await seed_learner(conn, learner)
        first = await award(conn, "ana")
    assert await issuer.drain(pool) == 1
    async with pool.acquire() as conn:
        # a version's definition never changes once stored, so the pipeline does not read it again
        assert await conn.execute("DELETE FROM award_definitions") == "DELETE 1"
        second = await award(conn, "ben")
    assert await issuer.drain(pool) == 1
    async with pool.acquire() as conn:
        a, b = await credential_of(conn, first), await credential_of(conn, second)
        assert a is not None and b is not None
        assert b["document"]["credentialSubject"]["achievement"] == a["document"]["credentialSubject"]["achievement"]
        third = await award(conn, "cid")
    await pipeline(pool).drain(pool)  # a new pipeline has to read it: "not received yet", retried later
    async with pool.acquire() as conn:
        assert await credential_of(conn, third) is None
        assert "not received yet" in await conn.fetchval("SELECT last_error FROM issuance_queue WHERE done_at IS NULL")
