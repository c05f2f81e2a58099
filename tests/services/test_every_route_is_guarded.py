"""Security by default: every route of every service needs a token, or is declared public."""

import pytest
from fastapi.routing import APIRoute

from tessera_shared.kernel.auth import PUBLIC_MARK

pytestmark = pytest.mark.unit

SERVICES = ["catalogue", "enrolment", "assessment", "credential"]


def _needs_token(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if getattr(dep.call, "__tessera_auth__", False):
            return True
        stack.extend(dep.dependencies)
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_public_or_requires_a_token(service):
    bootstrap = __import__(f"tessera_{service}.bootstrap", fromlist=["create_app"])
    app = bootstrap.create_app()  # building the app connects to nothing; the lifespan does
    unguarded = [
        f"{sorted(r.methods)} {r.path}"
        for r in app.routes
        if isinstance(r, APIRoute)
        and not (r.openapi_extra or {}).get(PUBLIC_MARK)
        and not _needs_token(r)
    ]
    assert unguarded == []
