"""HTTP details without servers: every route is public or needs a token; Accept-Language, If-Match
and free-text query parsing."""

import pytest
from fastapi.routing import APIRoute

from tessera_catalogue.adapters.search_text import fold, prefix_query
from tessera_catalogue.bootstrap import create_app
from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints.negotiation import expected_version, preferred_languages
from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.auth import PUBLIC_MARK

pytestmark = pytest.mark.unit


def _api_routes(routes, prefix=""):
    """Every APIRoute, also inside routers FastAPI includes lazily."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes, prefix + route.include_context.prefix)


def _requires_token(route: APIRoute) -> bool:
    return any(getattr(d.call, "__tessera_auth__", False) for d in route.dependant.dependencies)


def test_every_route_is_public_or_requires_a_token():
    app = create_app(CatalogueSettings(token_public_key=""))
    routes = [(prefix + r.path, r) for prefix, r in _api_routes(app.routes)]
    public = {(path, m) for path, r in routes for m in r.methods if (r.openapi_extra or {}).get(PUBLIC_MARK)}
    guarded = {(path, m) for path, r in routes for m in r.methods if _requires_token(r)}
    every = {(path, m) for path, r in routes for m in r.methods}
    assert len(every) >= 40
    assert every - public - guarded == set()
    assert not public & guarded
    assert {m for _, m in public} == {"GET"}  # the public catalogue is read-only
    public_paths = {path for path, _ in public}
    assert {p for p in public_paths if p.startswith("/catalogue")} == {
        "/catalogue/micro-credentials",
        "/catalogue/micro-credentials/{mc_id}",
        "/catalogue/micro-credentials/{mc_id}/versions/{version}",
        "/catalogue/offerings",
        "/catalogue/offerings/{offering_id}",
        "/catalogue/pathways",
        "/catalogue/pathways/{pathway_id}",
        "/catalogue/pathways/{pathway_id}/versions/{version}",
        "/catalogue/institutions",
        "/catalogue/institutions/{institution_id}",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, []),
        ("nl", ["nl"]),
        ("nl-BE,nl;q=0.9,en;q=0.5,*;q=0.1", ["nl-BE", "nl", "en"]),
        ("en;q=0.2, de", ["de", "en"]),
        ("fr;q=0, de-at", ["de-AT"]),
        ("not a tag!, en", ["en"]),
    ],
)
def test_accept_language(header, expected):
    assert preferred_languages(header) == expected


def test_if_match_and_expected_version():
    assert expected_version(None, None) is None
    assert expected_version('"7"', None) == 7
    assert expected_version('W/"7"', 7) == 7
    assert expected_version("*", 3) == 3
    with pytest.raises(DomainError):
        expected_version('"7"', 6)
    with pytest.raises(DomainError):
        expected_version('"abc"', None)


def test_free_text_becomes_a_safe_prefix_query():
    assert prefix_query("Data-Ethik für Profis") == "data:* & ethik:* & fur:* & profis:*"
    assert prefix_query("'); DROP TABLE x; --") == "drop:* & table:* & x:*"
    assert prefix_query("!!!") is None
    assert fold("Éthique Universität") == "ethique universitat"
