"""The credential service with issuance wired in, on real NATS JetStream and PostgreSQL: events of the
other contexts -> awards -> signed credentials served, verified, revoked; keys rotated; hostile input
to POST /verify gets a 4xx."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tessera_credential.bootstrap import build
from tessera_credential.config import CredentialSettings
from tessera_credential.entrypoints import public
from tessera_credential.issuance.wiring import SERVICE_KEY, wire_issuance
from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.keys.sealing import KeyEncryptionError
from tessera_credential.proofs import BitstringStatusList, verify_document
from tessera_shared.testing.apps import RunningService, eventually
from tests.credential.integration.credential_award_support import (
    AMSTERDAM,
    GENT,
    Assessment,
    credential_events,
    enrolment_event,
    learner_registered,
    offering_scheduled,
    publish,
    publish_envelopes,
)
from tests.credential.integration.test_credential_issuance_world import (
    BASE,
    DIDS,
    issuance_settings,
    issuing_service,
    version_published,
)

pytestmark = pytest.mark.integration
ISSUED, REVOKED = "tessera.credential.credential.issued.v1", "tessera.credential.credential.revoked.v1"


async def credential_row(svc: RunningService, learner_id: str) -> dict[str, Any] | None:
    assert svc.runtime.pool is not None
    row = await svc.runtime.pool.fetchrow(
        "SELECT * FROM issued_credentials WHERE learner_id = $1 AND status = 'active'", learner_id
    )
    return dict(row) if row is not None else None


async def award_learner(servers, namespace, assessment: Assessment, learner_id: str) -> None:
    await publish(servers, namespace, [learner_registered(learner_id)])
    await publish(servers, namespace, [enrolment_event("admitted", learner_id, "off-1")])
    await publish_envelopes(servers.nats_url, namespace, assessment.passes(learner_id, "off-1"))


async def issued_credential(svc: RunningService, learner_id: str) -> dict[str, Any]:
    row = await eventually(lambda: credential_row(svc, learner_id), seconds=30)
    assert row is not None, f"no credential issued for {learner_id}"
    return row


def json_path(credential_id: str) -> str:
    return "/credentials/" + credential_id.rsplit("/", 1)[-1] + ".json"


async def served_bit(svc: RunningService, row: dict[str, Any]) -> int:
    response = await svc.client.get(f"/status-lists/{row['status_list_id']}")
    assert response.status_code == 200
    return BitstringStatusList.decode(response.json()["credentialSubject"]["encodedList"]).get(row["status_index"])


async def test_an_award_is_issued_served_verified_and_revoked_within_seconds(servers, namespace, tokens):
    async with issuing_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [version_published(), (offering_scheduled("off-1"), "off-1")])
        a = Assessment()
        await award_learner(servers, namespace, a, "ana")
        row = await issued_credential(svc, "ana")

        response = await svc.client.get(json_path(row["credential_id"]))
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/vc")
        credential = response.json()
        assert list(credential)[:3] == ["@context", "id", "type"] and credential["id"] == row["credential_id"]
        assert [p["verificationMethod"] for p in credential["proof"]] == [
            DIDS.verification_method(GENT, 1),
            DIDS.verification_method(AMSTERDAM, 1),
        ]
        assert (await svc.client.get(json_path(row["credential_id"]).replace("-", "0", 1))).status_code == 404

        report = (await svc.client.post("/verify", content=response.content)).json()
        assert report["verdict"] == "valid", report["problems"]
        assert [p["key_resolution"]["outcome"] for p in report["proofs"]] == ["resolved", "resolved"]
        assert report["issuer_proof"] == {"present": True, "first_is_issuer": True, "valid": True}
        assert report["status"]["status"] == "active"

        listed = await svc.client.get(f"/status-lists/{row['status_list_id']}")
        assert listed.status_code == 200 and "max-age=10" in listed.headers["cache-control"]
        etag = listed.headers["etag"]
        again = await svc.client.get(f"/status-lists/{row['status_list_id']}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        async with svc.runtime.pool.acquire() as conn:
            keys = await ConsortiumKeys.load(conn, DIDS)
        assert verify_document(listed.json(), keys.resolve_key).verified
        assert listed.json()["issuer"] == DIDS.did(GENT)
        assert await served_bit(svc, row) == 0

        # a withdrawn result: the award is revoked, and the served list says so within seconds
        started = time.monotonic()
        await publish_envelopes(servers.nats_url, namespace, [a.withdraw("ana", "off-1", "C2")])
        assert await eventually(lambda: _bit_is_set(svc, row), seconds=10), "the bit was not set within 10 s"
        assert time.monotonic() - started < 10
        revoked_list = await svc.client.get(f"/status-lists/{row['status_list_id']}", headers={"If-None-Match": etag})
        assert revoked_list.status_code == 200 and revoked_list.headers["etag"] != etag
        assert verify_document(revoked_list.json(), keys.resolve_key).verified

        report = (await svc.client.post("/verify", content=response.content)).json()
        assert report["verdict"] == "invalid" and report["status"]["status"] == "revoked"
        assert any(p["valid"] for p in report["proofs"])  # still genuine, but revoked

        events = await eventually(lambda: _credential_events(servers, namespace, {ISSUED, REVOKED}), seconds=15)
        assert [e.type for e in events] == [ISSUED, REVOKED]
        assert events[0].data["credential_id"] == row["credential_id"] == events[1].data["credential_id"]
        assert events[0].data["status_index"] == row["status_index"]


async def _bit_is_set(svc: RunningService, row: dict[str, Any]) -> bool:
    return await served_bit(svc, row) == 1


async def _credential_events(servers, namespace, types: set[str]) -> list[Any]:
    events = [e for e in await credential_events(servers.nats_url, namespace) if e.type in types]
    return events if len(events) == len(types) else []


async def test_rotation_keeps_old_credentials_verifiable_and_signs_new_ones_with_the_new_key(
    servers, namespace, tokens
):
    async with issuing_service(servers, namespace, tokens) as svc:
        await publish(servers, namespace, [version_published(), (offering_scheduled("off-1"), "off-1")])
        a = Assessment()
        await award_learner(servers, namespace, a, "ana")
        old = await issued_credential(svc, "ana")
        before = (await svc.client.get(f"/institutions/{GENT}/did.json")).json()
        assert [m["id"] for m in before["verificationMethod"]] == [DIDS.verification_method(GENT, 1)]

        path = f"/institutions/{GENT}/keys/rotate"
        assert (await svc.client.post(path)).status_code == 401
        assert (await svc.client.post(path, headers=tokens.headers("ana", ["learner"]))).status_code == 403
        operator = tokens.headers("op-1", ["operator"])
        assert (await svc.client.post("/institutions/unknown.example/keys/rotate", headers=operator)).status_code == 404
        rotated = await svc.client.post(path, headers=operator)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["active_verification_method"] == DIDS.verification_method(GENT, 2)

        served = await svc.client.get(f"/institutions/{GENT}/did.json")
        assert served.status_code == 200 and served.headers["content-type"].startswith("application/did+ld+json")
        document = served.json()
        assert document["id"] == DIDS.did(GENT) == f"did:web:creds.tessera.test:institutions:{GENT}"
        methods = [DIDS.verification_method(GENT, 2), DIDS.verification_method(GENT, 1)]
        assert [m["id"] for m in document["verificationMethod"]] == methods and document["assertionMethod"] == methods
        assert all(
            m["controller"] == DIDS.did(GENT) and m["publicKeyMultibase"].startswith("z6Mk")
            for m in document["verificationMethod"]
        )

        report = (await svc.client.post("/verify", json=old["document"])).json()
        assert report["verdict"] == "valid", report["problems"]  # signed with the retired key-1

        await award_learner(servers, namespace, a, "ben")
        new = await issued_credential(svc, "ben")
        assert new["document"]["proof"][0]["verificationMethod"] == DIDS.verification_method(GENT, 2)
        assert (await svc.client.post("/verify", json=new["document"])).json()["verdict"] == "valid"
        status_list = (await svc.client.get(f"/status-lists/{old['status_list_id']}")).json()
        assert status_list["proof"]["verificationMethod"] == DIDS.verification_method(GENT, 2)  # re-signed
        assert (await svc.client.get("/institutions/nobody.example/did.json")).status_code == 404


async def test_verify_refuses_hostile_input_with_4xx_and_reports_forgeries(servers, namespace, tokens):
    settings = issuance_settings(verify_max_bytes=64_000, verify_max_depth=24)
    async with issuing_service(servers, namespace, tokens, settings=settings) as svc:
        await publish(servers, namespace, [version_published(), (offering_scheduled("off-1"), "off-1")])
        await award_learner(servers, namespace, Assessment(), "ana")
        genuine = (await issued_credential(svc, "ana"))["document"]

        async def chunks() -> Any:  # no Content-Length: the cap applies while reading
            for _ in range(100):
                yield b" " * 1000

        hostile: list[tuple[str, dict[str, Any], int]] = [
            ("too large", {"content": b"{" + b" " * 70_000 + b"}"}, 413),
            ("too large, streamed", {"content": chunks()}, 413),
            ("too deep", {"content": b"[" * 30 + b"]" * 30}, 422),
            ("too deep object", {"content": b'{"a":' * 30 + b"1" + b"}" * 30}, 422),
            ("not JSON", {"content": b"<credential/>"}, 400),
            ("not UTF-8", {"content": b'{"a": "\xff"}'}, 400),
            ("duplicate keys", {"content": b'{"id": "a", "id": "b"}'}, 400),
            ("NaN", {"content": b'{"a": NaN}'}, 400),
            ("lone surrogate", {"content": b'{"a": "\\ud800"}'}, 400),
            ("an array", {"content": b"[]"}, 422),
            ("a string", {"content": b'"hello"'}, 422),
            ("empty", {"content": b""}, 400),
            ("bad Content-Length", {"content": b"{}", "headers": {"Content-Length": "abc"}}, 400),
        ]
        for name, request, expected in hostile:
            response = await svc.client.post("/verify", **request)
            assert response.status_code == expected, (name, response.status_code, response.text[:300])
            assert response.headers["content-type"].startswith("application/problem+json"), name

        def tampered(**changes: Any) -> dict[str, Any]:
            return {**json.loads(json.dumps(genuine)), **changes}

        forged_subject = tampered()
        forged_subject["credentialSubject"]["name"] = "Mallory"
        forgeries: list[tuple[str, dict[str, Any], str]] = [
            ("a signed field changed", forged_subject, "signature does not match"),
            ("issuer proof removed", tampered(proof=genuine["proof"][1:]), "first proof is not the issuer"),
            ("co-awarder proof removed", tampered(proof=genuine["proof"][:1]), "has no valid proof"),
            ("no proof", {k: v for k, v in genuine.items() if k != "proof"}, "has no proof"),
            (
                "a key swapped",
                tampered(
                    proof=[
                        {**genuine["proof"][0], "verificationMethod": DIDS.verification_method(AMSTERDAM, 1)},
                        genuine["proof"][1],
                    ]
                ),
                "signature does not match",
            ),
            (
                "unknown context",
                tampered(**{"@context": [*genuine["@context"], "https://evil.example/ctx"]}),
                "outside the allow-list",
            ),
            (
                "other host's key",
                tampered(
                    proof=[
                        {
                            **genuine["proof"][0],
                            "verificationMethod": "did:web:evil.example:institutions:ugent.be#key-1",
                        },
                        genuine["proof"][1],
                    ]
                ),
                "is not valid",
            ),
            ("undefined term", tampered(mallory="extra"), "no signature covers"),
            ("many proofs", tampered(proof=genuine["proof"] * 20), "more than the"),
            (
                "status of another host",
                tampered(
                    credentialStatus={
                        **genuine["credentialStatus"],
                        "statusListCredential": "https://evil.example/list",
                    }
                ),
                "signature does not match",
            ),
        ]
        for name, document, problem in forgeries:
            response = await svc.client.post("/verify", json=document)
            assert response.status_code == 200, (name, response.text[:300])
            report = response.json()
            assert report["verdict"] == "invalid", name
            assert any(problem in p for p in report["problems"]), (name, report["problems"])

        # hostile but well-formed garbage of every JSON type in every field: a report or a 4xx, never a 5xx
        values: list[Any] = [None, True, 0, -1, 1e308, "x" * 500, [], {}, [{}], {"id": {}}, [None] * 50]
        for field in (
            "@context",
            "id",
            "type",
            "issuer",
            "validFrom",
            "credentialSubject",
            "credentialStatus",
            "proof",
            "credentialSchema",
            "evidence",
        ):
            for value in values:
                response = await svc.client.post("/verify", json={**genuine, field: value})
                assert response.status_code < 500, (field, value, response.text[:300])

        responses = await asyncio.gather(*(svc.client.post("/verify", json=genuine) for _ in range(4)))
        assert [r.json()["verdict"] for r in responses] == ["valid"] * 4


async def test_the_service_refuses_to_start_without_a_key_encryption_key(servers, namespace, tokens):
    settings = issuance_settings(credential_key_encryption_key=None)
    with pytest.raises(KeyEncryptionError, match="CREDENTIAL_KEY_ENCRYPTION_KEY is not set"):
        async with issuing_service(servers, namespace, tokens, settings=settings):
            pass


async def test_the_service_refuses_keys_sealed_with_another_key_encryption_key(servers, namespace, tokens):
    async with issuing_service(servers, namespace, tokens, drop_database=False) as svc:
        assert svc.runtime.pool is not None
        async with svc.runtime.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO award_institutions (institution_id, profile, at, event_id) VALUES ($1, '{}', now(), 'e')",
                GENT,
            )
        assert await eventually(lambda: _has_key(svc, GENT), seconds=10)  # registered institutions get keys
    other = issuance_settings(credential_key_encryption_key="A" * 43 + "=")
    with pytest.raises(KeyEncryptionError, match="sealed with another"):
        async with issuing_service(servers, namespace, tokens, settings=other):
            pass


async def _has_key(svc: RunningService, institution_id: str) -> bool:
    assert svc.runtime.pool is not None
    return bool(
        await svc.runtime.pool.fetchval("SELECT 1 FROM institution_keys WHERE institution_id = $1", institution_id)
    )


@pytest.mark.unit
def test_wiring_twice_adds_the_routes_and_the_hook_once_and_keeps_the_latest_settings():
    definition = build(CredentialSettings(public_base_url=BASE))
    wire_issuance(definition)  # (bootstrap may already have wired it: then this changes nothing either)
    wire_issuance(definition, settings=issuance_settings(issuance_batch_size=3))
    context = definition.services[SERVICE_KEY]
    assert [r for r in definition.routers if r is public.router] == [public.router]
    assert [h for h in definition.on_start if h == context.start] == [context.start]
    assert context.settings.issuance_batch_size == 3
    assert context.dids.did(GENT) == f"did:web:creds.tessera.test:institutions:{GENT}"
