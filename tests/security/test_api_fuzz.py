"""schemathesis against the four services' OpenAPI documents, in-process (ASGI) on real NATS JetStream
and PostgreSQL, seeded with the authorisation matrix's world so generated requests also reach real
rows (half the cases get known ids in their path parameters).

Each operation gets ``positive`` and ``negative`` generated cases (schemathesis 4 strategies, driven
by hypothesis without shrinking); each case goes out as generated (no token, or whatever
``Authorization`` the negative mode invented), with the operator's token, or with a staff token of
the coordinating institution — taking turns. Checks:

* **no 5xx**, ever;
* **2xx and other documented responses match their schema** (schemathesis' response schema and
  content-type conformance);
* **every error of the JSON API is RFC 9457 problem+json** (pages for people — the credential
  service's verification page, backpack, badge and certificate, whose documented success is not
  JSON — answer HTML, and are only held to "no 5xx") (``type``, ``title``, ``status`` = the HTTP status,
  ``detail``; ``errors`` a list of ``{field, message}`` when present). The kernel answers 422 with
  problem+json while FastAPI's generated documents declare ``HTTPValidationError`` as
  ``application/json`` — a documentation gap reported in docs/resilience.md — so error responses are
  held to the problem shape instead of the generated 422 schema.

``make test`` runs a bounded number of cases; ``make chaos`` (marker ``chaos``) ten times as many.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tessera_shared.testing.servers import Servers
from tests.resilience.world import start_consortium
from tests.security.authz_world import AuthzWorld

pytestmark = pytest.mark.integration
STAFF_OF = {
    "catalogue": "editor@coord",
    "enrolment": "registrar@coord",
    "assessment": "assessor@coord",
    "credential": "officer@coord",
}
FAST, LARGE = 4, 40  # generated cases per operation and mode: make test / make chaos
SKIP = {("GET", "/metrics")}  # Prometheus text, not JSON: nothing to check beyond "no 5xx" (done by the others)
INT32_MAX = 2**31 - 1


# Defects found by this suite are fixed and pinned by the tests at the end of this module (a value
# PostgreSQL cannot hold is now a 422 problem, kernel/problems.py); none is tolerated here.
KNOWN_5XX: dict[str, Any] = {}
# Routes that answer another JSON media type than the one FastAPI documents (response_model=None).
KNOWN_MEDIA_TYPES = {
    "GET /institutions/{institution_id}/did.json": "application/did+ld+json",
    "GET /credentials/{credential_uuid}.json": "application/vc",
    "GET /status-lists/{list_id}": "application/vc",
}


@pytest.fixture(scope="module")
async def world(servers: Servers, tokens: Any) -> AsyncIterator[AuthzWorld]:
    async with AsyncExitStack() as stack:
        consortium = await start_consortium(stack, servers, "f" + uuid.uuid4().hex[:10], tokens)
        w = AuthzWorld(consortium, tokens)
        await w.setup()
        yield w


def generate(operation: Any, mode: GenerationMode, n: int, seed: int) -> list[Any]:
    cases: list[Any] = []

    @settings(
        max_examples=n,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def collect(case: Any) -> None:
        cases.append(case)

    collect._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    try:
        collect()
    except Unsatisfiable:
        if mode is GenerationMode.NEGATIVE:  # nothing in the operation can be made invalid (no parameters)
            return cases
        raise
    except Exception as exc:  # an operation schemathesis cannot generate for: say so, do not hide it
        raise AssertionError(f"cannot generate {mode.value} cases for {operation.label}: {exc}") from exc
    return cases


def html_pages(document: dict[str, Any]) -> set[str]:
    """Operations whose success response is not JSON (HTML pages, SVG, PDF, redirects): their answers,
    errors included, are for browsers; the checks below are for the JSON API."""
    out = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            ok = [v for k, v in (op.get("responses") or {}).items() if k.startswith("2")]
            if ok and not any("application/json" in (v.get("content") or {}) for v in ok):
                out.add(f"{method.upper()} {path}")
    return out


def problem_errors(status: int, body: Any) -> list[str]:
    if not isinstance(body, dict):
        return ["error body is not a JSON object"]
    out = []
    for key in ("type", "title", "detail"):
        if not isinstance(body.get(key), str):
            out.append(f"problem+json without a string {key!r}")
    if body.get("status") != status:
        out.append(f"problem+json status {body.get('status')!r} is not the HTTP status {status}")
    errors = body.get("errors")
    if errors is not None and not (
        isinstance(errors, list) and all(isinstance(e, dict) and "field" in e and "message" in e for e in errors)
    ):
        out.append("problem+json 'errors' is not a list of {field, message}")
    return out


async def fuzz(world: AuthzWorld, service: str, n: int) -> tuple[list[str], Counter[str]]:
    app = world.consortium.services[service].app
    schema = schemathesis.openapi.from_dict(app.openapi())
    client = world.consortium.services[service].client
    rng = random.Random(service)
    failures: list[str] = []
    seen: Counter[str] = Counter()
    known_ids = {
        **world.ids,
        "offering_id": world.ids["joint"],
        "learner_id": world.ids["learner_own"],
        "mc_id": world.ids["mc"],
        "pathway_id": world.ids["pathway"],
        "institution_id": "ugent.be",
        "enrolment_id": world.ids["enrolment_own"],
        "result_id": world.ids["result_own"],
        "upload_id": world.ids["upload"],
        "batch_id": world.ids["bulk_batch"],
        "award_id": world.ids["award_own"],
    }
    pages = html_pages(app.openapi())
    for result in schema.get_all_operations():
        operation = result.ok()
        page = operation.label in pages
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for i, case in enumerate(generate(operation, mode, n, seed=rng.randrange(2**32))):
                if case.path_parameters and rng.random() < 0.5:
                    for name in case.path_parameters:
                        if name in known_ids:
                            case.path_parameters[name] = known_ids[name]
                kwargs = case.as_transport_kwargs(base_url=str(client.base_url).rstrip("/"))
                headers = dict(kwargs.get("headers") or {})
                variant = ("as generated", "operator", STAFF_OF[service])[i % 3]
                if variant != "as generated":
                    headers.update(world.headers(variant))
                request = {
                    "method": kwargs["method"],
                    "url": kwargs["url"],
                    "params": kwargs.get("params"),
                    "headers": headers,
                }
                if "json" in kwargs:
                    request["json"] = kwargs["json"]
                elif "data" in kwargs:
                    request["content"] = kwargs["data"] if isinstance(kwargs["data"], bytes) else str(kwargs["data"])
                known = KNOWN_5XX.get(operation.label)
                try:
                    response = await client.request(**request)
                except Exception as exc:  # the app raised through the ASGI transport: a 500 in production
                    if known is not None and known(request):
                        seen["known 5xx"] += 1
                        continue
                    failures.append(
                        f"{operation.label} [{mode.value}, {variant}] raised {exc!r}; request {_show(request)}"
                    )
                    continue
                seen[f"{response.status_code}"] += 1
                problems = []
                if response.status_code >= 500:
                    if known is not None and known(request):
                        seen["known 5xx"] += 1
                        continue
                    problems.append(f"{response.status_code}: {response.text[:300]}")
                elif page and response.headers.get("content-type", "").startswith(
                    ("text/html", "image/", "application/pdf")
                ):
                    pass  # a page for people (verification page, backpack, badge, certificate): not a JSON API
                elif response.status_code >= 400:
                    if response.headers.get("content-type", "").startswith("application/problem+json"):
                        problems += problem_errors(response.status_code, response.json())
                    else:
                        problems.append(
                            f"error {response.status_code} is not problem+json: {response.headers.get('content-type')}"
                        )
                else:
                    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
                    media = KNOWN_MEDIA_TYPES.get(operation.label)
                    if media is not None and response.headers.get("content-type", "").startswith(media):
                        checks = [not_a_server_error]  # JSON of its own standard (DID document, VC)
                        json.loads(response.content)
                    try:
                        case.validate_response(response, checks=checks)
                    except Exception as exc:
                        problems.append(str(exc).split("\n\n")[0][:400])
                if problems:
                    failures.append(
                        f"{operation.label} [{mode.value}, {variant}] → {response.status_code}: "
                        f"{'; '.join(problems)}\n    request {_show(request)}"
                    )
    return failures, seen


def _show(request: dict[str, Any]) -> str:
    shown = {k: v for k, v in request.items() if k != "headers"}
    return json.dumps(shown, default=repr)[:600]


@pytest.mark.parametrize(
    "service,n",
    [
        *[pytest.param(s, FAST, id=s) for s in STAFF_OF],
        *[pytest.param(s, LARGE, id=f"{s}-large", marks=pytest.mark.chaos) for s in STAFF_OF],
    ],
)
async def test_generated_requests_get_no_5xx_and_conform(world: AuthzWorld, service: str, n: int):
    failures, seen = await fuzz(world, service, n)
    assert sum(seen.values()) > 0
    assert failures == [], f"{len(failures)} failing requests (statuses seen {dict(seen)}):\n" + "\n".join(
        failures[:25]
    )


# ------------------------------------------------------------------ the defects found, pinned


@pytest.mark.parametrize("kind,item", [("micro-credentials", "mc"), ("pathways", "pathway")])
async def test_a_huge_version_number_is_not_a_server_error(world: AuthzWorld, kind: str, item: str):
    client = world.consortium.services["catalogue"].client
    try:
        r = await client.get(f"/catalogue/{kind}/{world.ids[item]}/versions/{INT32_MAX + 1}")
    except Exception as exc:  # raised through the ASGI transport: a 500 behind uvicorn
        pytest.fail(f"500: {exc!r}")
    assert r.status_code in (404, 422)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_nul_character_in_a_name_is_refused(world: AuthzWorld, method: str):
    client = world.consortium.services["enrolment"].client
    body: dict[str, Any] = {"given_name": "A\x00da"}
    path = "/learners" if method == "POST" else f"/learners/{world.ids['learner_own']}"
    if method == "POST":
        body |= {"family_name": "Lovelace", "email": f"nul-{uuid.uuid4().hex[:6]}@example.org"}
    try:
        r = await client.request(method, path, json=body, headers=world.headers("operator"))
    except Exception as exc:
        pytest.fail(f"500: {exc!r}")
    assert r.status_code == 422


async def test_a_nul_character_in_a_bulk_row_is_refused(world: AuthzWorld):
    client = world.consortium.services["enrolment"].client
    headers = {**world.headers("operator"), "Idempotency-Key": f"nul-{uuid.uuid4().hex[:6]}"}
    try:
        r = await client.post("/bulk-enrolments", json=[{"\x00": 1}], headers=headers)
    except Exception as exc:
        pytest.fail(f"500: {exc!r}")
    assert r.status_code in (201, 422)
