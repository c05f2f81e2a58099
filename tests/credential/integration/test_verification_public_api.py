"""The credential service's public API against its own OpenAPI document (media types, schemas,
problem+json errors), and POST /verify through the service's worker processes and memo: identical
bytes are answered from the memo, yet a revocation shows at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tessera_credential.entrypoints.public import VERIFIER_KEY
from tessera_credential.verification.engine import Verifier
from tessera_shared.testing.apps import eventually
from tests.credential.integration.credential_award_support import (
    GENT,
    Assessment,
    offering_scheduled,
    publish,
    publish_envelopes,
)
from tests.credential.integration.test_credential_issuance_service import award_learner, issued_credential, json_path
from tests.credential.integration.test_credential_issuance_world import issuing_service, version_published

pytestmark = pytest.mark.integration
CHECKS = [response_schema_conformance, content_type_conformance]


@schemathesis.deserializer("application/vc")
def _verifiable_credential(ctx: Any, response: Any) -> Any:
    """application/vc is JSON(-LD) without a +json suffix: without this schemathesis skips its body."""
    return response.json()


def conforms(schema: Any, method: str, path: str, response: Any, **parameters: Any) -> None:
    """The response is one the document declares: status, media type and schema."""
    case = schema[path][method].Case(path_parameters=parameters or None)
    case.validate_response(response, checks=CHECKS)


async def test_public_responses_match_the_document_and_verify_uses_the_workers_and_memo(
    servers, namespace, tokens, monkeypatch
):
    monkeypatch.setenv("VERIFY_PROCESSES", "1")
    async with issuing_service(servers, namespace, tokens) as svc:
        schema = schemathesis.openapi.from_dict(svc.app.openapi())
        await publish(servers, namespace, [version_published(), (offering_scheduled("off-1"), "off-1")])
        assessment = Assessment()
        await award_learner(servers, namespace, assessment, "ana")
        row = await issued_credential(svc, "ana")
        uuid_part = row["credential_id"].rsplit("/", 1)[-1]

        credential = await svc.client.get(json_path(row["credential_id"]))
        assert credential.headers["content-type"] == "application/vc"
        conforms(schema, "GET", "/credentials/{credential_uuid}.json", credential, credential_uuid=uuid_part)
        cached = await svc.client.get(
            json_path(row["credential_id"]), headers={"If-None-Match": credential.headers["etag"]}
        )
        assert cached.status_code == 304
        conforms(schema, "GET", "/credentials/{credential_uuid}.json", cached, credential_uuid=uuid_part)
        missing = await svc.client.get("/credentials/00000000-0000-4000-8000-000000000000.json")
        assert missing.status_code == 404
        conforms(schema, "GET", "/credentials/{credential_uuid}.json", missing, credential_uuid="0")

        did = await svc.client.get(f"/institutions/{GENT}/did.json")
        assert did.headers["content-type"] == "application/did+ld+json"
        conforms(schema, "GET", "/institutions/{institution_id}/did.json", did, institution_id=GENT)
        status_list = await svc.client.get(f"/status-lists/{row['status_list_id']}")
        assert status_list.headers["content-type"] == "application/vc"
        conforms(schema, "GET", "/status-lists/{list_id}", status_list, list_id=row["status_list_id"])

        verifier = svc.app.state.services[VERIFIER_KEY]
        assert isinstance(verifier, Verifier) and verifier.processes == 1 and verifier.memo is not None
        first = await svc.client.post("/verify", content=credential.content)
        conforms(schema, "POST", "/verify", first)
        assert first.json()["verdict"] == "valid", first.json()["problems"]
        again = await svc.client.post("/verify", content=credential.content)
        assert again.json()["verdict"] == "valid" and verifier.memo.hits == 1
        assert verifier._executor is not None and len(verifier._executor._processes) == 1  # type: ignore[attr-defined]

        for body, status in [(b"", 400), (b"[1]", 422), (b"[" * 40 + b"]" * 40, 422), (b"x" * 1_100_000, 413)]:
            refused = await svc.client.post("/verify", content=body)
            assert refused.status_code == status, refused.text
            conforms(schema, "POST", "/verify", refused)

        # revoked: the same bytes (a memo hit for the signatures), but the status is looked up now
        await publish_envelopes(servers.nats_url, namespace, [assessment.withdraw("ana", "off-1", "C2")])

        async def revoked() -> bool:
            report = (await svc.client.post("/verify", content=credential.content)).json()
            return report["status"]["status"] == "revoked"

        assert await eventually(revoked, seconds=15)
        report = (await svc.client.post("/verify", content=credential.content)).json()
        assert report["verdict"] == "invalid" and all(p["valid"] for p in report["proofs"])
        assert verifier.memo.misses == 1  # one cryptographic check of these bytes in all
        tampered = json.loads(credential.content)
        tampered["credentialSubject"]["achievement"]["name"] = "Forged"
        forged = (await svc.client.post("/verify", json=tampered)).json()
        assert forged["verdict"] == "invalid" and not any(p["valid"] for p in forged["proofs"])
