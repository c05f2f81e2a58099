"""The assessment API's routes and the roles each one requires (docs/assessment.md, "API")."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from tessera_assessment.entrypoints.http import router
from tessera_shared.kernel.auth import PUBLIC_MARK

pytestmark = pytest.mark.unit

READERS = ("learner", "assessor", "registrar", "catalogue-editor", "operator")
EXPECTED: dict[tuple[str, str], tuple[str, ...] | None] = {  # None: public
    ("POST", "/offerings/{offering_id}/results"): ("assessor",),
    ("POST", "/results/{result_id}/corrections"): ("assessor",),
    ("POST", "/results/{result_id}/withdrawal"): ("assessor",),
    ("GET", "/results/{result_id}"): READERS,
    ("GET", "/offerings/{offering_id}/results"): READERS,
    ("GET", "/me/results"): ("learner",),
    ("POST", "/offerings/{offering_id}/results/uploads"): ("assessor",),
    ("GET", "/uploads/{upload_id}"): ("assessor", "operator"),
    ("POST", "/offerings/{offering_id}/attendance"): ("assessor",),
    ("GET", "/offerings/{offering_id}/attendance"): READERS,
    ("GET", "/offerings/{offering_id}"): READERS,
    ("GET", "/grading-schemes"): None,
    ("GET", "/grading-schemes/{scheme_id}"): None,
    ("GET", "/grading-schemes/{scheme_id}/normalise"): None,
}


def _roles(route: APIRoute) -> tuple[str, ...] | None:
    """The roles of the route's ``require(...)`` dependency (None: it has none)."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if getattr(dep.call, "__tessera_auth__", False):
            cells = [c.cell_contents for c in dep.call.__closure__ or ()]
            return next(c for c in cells if isinstance(c, tuple))
        stack.extend(dep.dependencies)
    return None


def test_every_route_requires_the_documented_roles_or_is_declared_public() -> None:
    found = {}
    for route in router.routes:
        assert isinstance(route, APIRoute)
        public = bool((route.openapi_extra or {}).get(PUBLIC_MARK))
        roles = _roles(route)
        assert public != (roles is not None), f"{route.path}: public and guarded, or neither"
        for method in route.methods:
            found[(method, route.path)] = roles
    assert found == EXPECTED
