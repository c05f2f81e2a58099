"""Every non-public endpoint × every principal → the status ``authz_matrix.TABLE`` expects, against the
four real services (in one process, real NATS JetStream and PostgreSQL)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from tessera_shared.kernel.auth import PUBLIC_MARK
from tessera_shared.testing.servers import Servers
from tests.resilience.world import APPS, start_consortium
from tests.security.authz_matrix import PRINCIPALS, TABLE, Row
from tests.security.authz_world import AuthzWorld

pytestmark = pytest.mark.integration
METHODS = {"get", "post", "put", "patch", "delete"}


def _template(path: str) -> str:
    """``/learners/{learner_own}/awards?x=1`` → ``/learners/{}/awards`` (to compare with OpenAPI paths)."""
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])


def test_every_guarded_operation_has_a_row():
    covered = {(r.service, r.method, _template(r.path)) for r in TABLE}
    missing = []
    for service, (create, settings_cls) in APPS.items():
        app = create(settings_cls())
        for path, item in app.openapi()["paths"].items():
            for method, op in item.items():
                guarded = method in METHODS and not op.get(PUBLIC_MARK)
                if guarded and (service, method.upper(), _template(path)) not in covered:
                    missing.append(f"{service} {method.upper()} {path}")
    assert missing == []


@pytest.fixture(scope="module")
async def world(servers: Servers, tokens: Any) -> AsyncIterator[AuthzWorld]:
    async with AsyncExitStack() as stack:
        consortium = await start_consortium(stack, servers, "z" + uuid.uuid4().hex[:10], tokens)
        w = AuthzWorld(consortium, tokens)
        await w.setup()
        yield w


def _row_id(row: Row) -> str:
    return f"{row.service} {row.method} {row.path}"


async def _call(
    world: AuthzWorld, row: Row, principal: str, target_ids: dict[str, str], body: Any, headers: dict[str, str]
) -> Any:
    path = row.path.format(**{**world.ids, **target_ids})
    client = world.client(row.service)
    return await client.request(
        row.method, path, json=body if row.method != "GET" else None, headers={**world.headers(principal), **headers}
    )


@pytest.mark.parametrize("row", TABLE, ids=_row_id)
async def test_authorisation(world: AuthzWorld, row: Row):
    wrong = []
    shared = None
    refused = [p for p in PRINCIPALS if not 200 <= row.expected(p) < 300]
    allowed = [p for p in PRINCIPALS if 200 <= row.expected(p) < 300]
    for principal in refused + allowed:  # refusals first: they leave the shared target as it was
        if row.fresh is None:
            ids, body, headers = {}, world.body(row.body, principal), {}
        elif principal in allowed:
            t = await world.make(row.fresh, principal)
            ids, body, headers = t.ids, t.body if t.body is not None else world.body(row.body, principal), t.headers
        else:
            shared = shared or await world.make(row.fresh, None)
            ids, body, headers = (
                shared.ids,
                shared.body if shared.body is not None else world.body(row.body, principal),
                shared.headers,
            )
            if row.fresh in ("new_learner_body",):  # a learner registering themself names their own email
                t = await world.make(row.fresh, principal)
                body = t.body
        r = await _call(world, row, principal, ids, body, headers)
        expected = row.expected(principal)
        if r.status_code != expected:
            wrong.append(f"{principal}: expected {expected}, got {r.status_code} {r.text[:160]}")
        elif r.status_code >= 400:
            media = ("application/problem+json", "text/html") if row.html else ("application/problem+json",)
            assert r.headers["content-type"].startswith(media), r.text[:300]
    assert wrong == [], "\n".join(wrong)
