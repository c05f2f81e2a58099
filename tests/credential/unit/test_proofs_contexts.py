"""The offline loader serves exactly the vendored, unmodified contexts and nothing else."""

from __future__ import annotations

import hashlib
from importlib import resources
from types import MappingProxyType

import pytest

from tessera_credential.proofs import DEFAULT_LOADER, PRODUCTION_CONTEXTS, ContextLoader, UnknownContextError
from tessera_credential.proofs import contexts as contexts_module
from tessera_credential.proofs.contexts import VendoredContext
from tests.credential.unit.proofs_testdata import EXAMPLES_V2, STANDARDS, read_text

pytestmark = pytest.mark.unit

VENDORED = resources.files("tessera_credential").joinpath("contexts")
# the table in shared/standards/README.md, minus the test-vector-only examples context
README_TABLE = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-v3p0-context-3.0.3.json",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-v3p0-extensions.json",
    "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json": "clr-v2p0-2.0.1.json",
}


def test_allow_list_is_the_standards_table_without_the_examples_context() -> None:
    assert {url: c.filename for url, c in PRODUCTION_CONTEXTS.items()} == README_TABLE
    assert EXAMPLES_V2 not in DEFAULT_LOADER.urls
    with pytest.raises(UnknownContextError):
        DEFAULT_LOADER.document(EXAMPLES_V2)


@pytest.mark.parametrize("url", sorted(README_TABLE))
def test_vendored_files_are_byte_identical_to_the_mirror_and_pinned(url: str) -> None:
    vendored = VENDORED.joinpath(README_TABLE[url]).read_bytes()
    assert vendored == (STANDARDS / "contexts" / README_TABLE[url]).read_bytes()
    assert hashlib.sha256(vendored).hexdigest() == PRODUCTION_CONTEXTS[url].sha256
    assert "@context" in DEFAULT_LOADER.document(url)


def test_licence_notices_ship_with_the_contexts() -> None:
    notice = VENDORED.joinpath("NOTICE.md").read_text(encoding="utf-8")
    for filename in README_TABLE.values():
        assert filename in notice
    assert VENDORED.joinpath("LICENSE-1EdTech.md").read_bytes() == \
        (STANDARDS / "test-vectors" / "1edtech-ob3" / "LICENSE-1EdTech.md").read_bytes()
    assert VENDORED.joinpath("LICENSE-W3C.md").read_bytes() == (STANDARDS / "test-vectors" / "w3c-vc-di-eddsa" / "LICENSE.md").read_bytes()
    assert "Apache License" in VENDORED.joinpath("LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")


def test_unknown_urls_raise_and_nothing_is_fetched() -> None:
    loader = DEFAULT_LOADER.pyld_loader()
    for url in ("https://evil.example/ctx", "https://www.w3.org/ns/credentials/v2/", "http://www.w3.org/ns/credentials/v2"):
        with pytest.raises(UnknownContextError) as info:
            loader(url, {})
        assert info.value.url == url and "never fetched" in str(info.value)


def test_extra_mappings_serve_test_only_contexts() -> None:
    loader = DEFAULT_LOADER.with_extra({EXAMPLES_V2: STANDARDS / "contexts" / "credentials-examples-v2.jsonld"})
    assert loader.context(EXAMPLES_V2) == {"@vocab": "https://www.w3.org/ns/credentials/examples#"}
    assert EXAMPLES_V2 in loader.urls and EXAMPLES_V2 not in DEFAULT_LOADER.urls


def test_pyld_gets_copies_so_it_cannot_corrupt_the_cache() -> None:
    loader = ContextLoader()
    url = "https://www.w3.org/ns/credentials/v2"
    served = loader.pyld_loader()(url, {})
    served["document"]["@context"]["name"] = "https://evil.example/name"
    assert loader.context(url)["name"] == "https://schema.org/name"


def test_json_literal_terms_are_discovered_from_the_contexts() -> None:
    assert {"jsonSchema", "_sd", "jwk"} <= DEFAULT_LOADER.json_literal_terms()


def test_a_modified_vendored_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://www.w3.org/ns/credentials/v2"
    tampered = MappingProxyType({url: VendoredContext(url, "credentials-v2.jsonld", "0" * 64)})
    monkeypatch.setattr(contexts_module, "PRODUCTION_CONTEXTS", tampered)
    with pytest.raises(RuntimeError, match="pinned SHA-256"):
        ContextLoader().document(url)


def test_notice_mentions_the_standards_readme_sources() -> None:
    readme = read_text(STANDARDS / "README.md")
    notice = VENDORED.joinpath("NOTICE.md").read_text(encoding="utf-8")
    for source in ("979c4af1", "570d7641", "1af145ff", "38254719"):
        assert source in readme and source in notice
