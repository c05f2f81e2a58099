"""The OpenAPI documents say what the routes answer: errors are RFC 9457 problem+json (the kernel's
handlers answer nothing else), and the credential service's DID documents and credentials are
declared in their own media types, not as application/json.

(That real responses match these declarations is checked in tests/shared/unit/test_kernel_http.py,
tests/credential/integration/test_verification_public_api.py and tests/security/test_api_fuzz.py.)
"""

from __future__ import annotations

import json

import pytest

from tessera_shared.kernel.problems import MEDIA_TYPE, PROBLEM_REF

pytestmark = pytest.mark.unit

SERVICES = ["catalogue", "enrolment", "assessment", "credential"]
METHODS = {"get", "post", "put", "patch", "delete"}
PROBLEM = {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
OWN_ERROR_BODIES = {("GET", "/health/ready", "503")}  # readiness answers its checks, not a problem


def document(service: str) -> dict:
    bootstrap = __import__(f"tessera_{service}.bootstrap", fromlist=["create_app"])
    return bootstrap.create_app().openapi()


def json_success(op: dict) -> bool:
    return any(
        status.startswith("2") and any("json" in media or media == "application/vc" for media in r.get("content", {}))
        for status, r in op["responses"].items()
    )


@pytest.mark.parametrize("service", SERVICES)
def test_errors_are_documented_as_problem_json(service: str) -> None:
    doc = document(service)
    assert "HTTPValidationError" not in json.dumps(doc), "FastAPI's 422 body: the kernel answers problem+json"
    wrong, undeclared = [], []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            label = f"{method.upper()} {path}"
            for status, response in op["responses"].items():
                own = (method.upper(), path, status) in OWN_ERROR_BODIES
                if status[0] in "45" and not own and response.get("content") != PROBLEM:
                    wrong.append(f"{label} {status}")
            if not json_success(op):
                continue  # a page for people (HTML, SVG, PDF, redirects): its errors may be pages too
            expected = {"4XX", "5XX"} | ({"401", "403"} if op.get("security") else set())
            expected |= {"404"} if "{" in path else set()
            expected |= {"422"} if op.get("parameters") or op.get("requestBody") else set()
            if missing := expected - set(op["responses"]):
                undeclared.append(f"{label}: {sorted(missing)}")
    assert wrong == [] and undeclared == []
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]


def test_the_credential_documents_are_declared_in_their_media_types() -> None:
    paths = document("credential")["paths"]
    media = {
        "/institutions/{institution_id}/did.json": "application/did+ld+json",
        "/status-lists/{list_id}": "application/vc",
        "/credentials/{credential_uuid}.json": "application/vc",
    }
    for path, media_type in media.items():
        responses = paths[path]["get"]["responses"]
        assert set(responses["200"]["content"]) == {media_type}, path
        assert responses["200"]["content"][media_type]["schema"]["type"] == "object"
        assert "304" in responses and "content" not in responses["304"], path  # If-None-Match
    verify = paths["/verify"]["post"]["responses"]
    assert {"200", "400", "413", "422", "503"} <= set(verify)
    assert verify["200"]["content"]["application/json"]["schema"]["properties"]["verdict"]["enum"] == [
        "valid",
        "invalid",
        "indeterminate",
    ]
