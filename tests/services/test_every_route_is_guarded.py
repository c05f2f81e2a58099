"""Security by default: every operation of every service needs a bearer token, or is declared public.

Read from the OpenAPI document (what partners see): a guarded operation lists the bearer security
scheme (``require(...)`` depends on it), a public one carries ``x-tessera-public``.
"""

import pytest

from tessera_shared.kernel.auth import PUBLIC_MARK

pytestmark = pytest.mark.unit

SERVICES = ["catalogue", "enrolment", "assessment", "credential"]
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_public_or_requires_a_token(service):
    bootstrap = __import__(f"tessera_{service}.bootstrap", fromlist=["create_app"])
    app = bootstrap.create_app()  # building the app connects to nothing; the lifespan does
    operations = [
        (method, path, op)
        for path, item in app.openapi()["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(operations) > 6, "the service's own routes are in the document"
    unguarded = [f"{m.upper()} {p}" for m, p, op in operations if not op.get(PUBLIC_MARK) and not op.get("security")]
    assert unguarded == []
    both = [f"{m.upper()} {p}" for m, p, op in operations if op.get(PUBLIC_MARK) and op.get("security")]
    assert both == [], "a public operation must not also ask for a token"
