"""ELM v3 / EDC export: EU SHACL shapes (EDC-generic-no-cv, pyshacl, offline), Annex I paths, no
undefined terms, vendored files unmodified."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tessera_credential.documents import (
    ANNEX_I,
    DisplayImage,
    ElmExportError,
    LegalIdentifier,
    build_elm_credential,
    export_elm,
    resolve,
    validate_elm,
)
from tessera_credential.documents.elm_vocab import ELM_CONTEXT, elm_loader
from tessera_credential.proofs import check_signable
from tests.credential.unit.credential_document_testdata import definition, institution, issuance, png
from tests.credential.unit.proofs_testdata import REPO, STANDARDS

pytestmark = pytest.mark.unit

ISSUED = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
LEGAL = LegalIdentifier("BE0248015142", "BE", "VAT")
OPTIONS: dict[str, Any] = {"issued_at": ISSUED, "issuer_legal_identifier": LEGAL, "display_image": DisplayImage(png())}


@pytest.fixture(scope="module")
def exported() -> dict[str, Any]:
    return export_elm(issuance(), **OPTIONS)  # export_elm itself refuses non-conforming output


def test_export_conforms_to_the_edc_shapes(exported: dict[str, Any]) -> None:
    result = validate_elm(exported)
    assert result.conforms, result.violations
    assert exported["@context"] == list(ELM_CONTEXT)
    assert exported["credentialSchema"] == [
        {"id": "http://data.europa.eu/snb/model/ap/edc-generic-no-cv", "type": "ShaclValidator2017"}
    ]


def test_shapes_do_catch_broken_exports(exported: dict[str, Any]) -> None:
    no_issued = {k: v for k, v in exported.items() if k != "issued"}
    result = validate_elm(no_issued)
    assert not result.conforms and any("issued" in v for v in result.violations)
    no_title = copy.deepcopy(exported)
    del no_title["credentialSubject"]["hasClaim"][0]["specifiedBy"]["learningOutcome"][0]["title"]
    assert not validate_elm(no_title).conforms
    no_legal_id = _without(copy.deepcopy(exported), "eIDASIdentifier")  # every copy of the issuer node
    result = validate_elm(no_legal_id)
    assert not result.conforms and any("eidasLegalIdentifier" in v for v in result.violations)


def _without(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return {k: _without(v, key) for k, v in node.items() if k != key}
    return [_without(v, key) for v in node] if isinstance(node, list) else node


def test_the_commission_sample_validates_with_the_same_validator() -> None:
    import json

    sample = json.loads((STANDARDS / "elm" / "Sample-MC-Annex1-signed.jsonld").read_text(encoding="utf-8"))
    payload = json.loads(sample["payload"])  # the JAdES payload is the credential itself
    assert validate_elm(payload).conforms


def test_no_undefined_terms(exported: dict[str, Any]) -> None:
    report = check_signable(exported, elm_loader())
    assert report.ok, report.problems


@pytest.mark.parametrize("element", ANNEX_I, ids=lambda e: e.key)
def test_every_annex_i_element_has_its_elm_path(element: Any, exported: dict[str, Any]) -> None:
    for path in element.elm:
        values = resolve(exported, path)
        assert values and all(v not in ("", None, [], {}) for v in values), f"{element.key}: nothing at {path}"


def test_elm_values(exported: dict[str, Any]) -> None:
    claim = exported["credentialSubject"]["hasClaim"][0]
    spec = claim["specifiedBy"]
    assert spec["title"] == {"en": "Applied Data Science", "nl": "Toegepaste datawetenschap"}  # every language
    assert spec["eqfLevel"]["id"] == "http://data.europa.eu/snb/eqf/6"
    assert spec["creditPoint"][0]["point"] == "6" and spec["volumeOfLearning"] == "PT168H"
    assert spec["mode"][0]["id"] == "http://data.europa.eu/snb/learning-assessment/e92d221e4d"  # blended
    assert [c["id"].rsplit("/", 1)[1] for c in spec["language"]] == ["ENG", "NLD"]
    countries = [
        b["location"][0]["address"][0]["countryCode"]["id"].rsplit("/", 1)[1]
        for b in claim["awardedBy"]["awardingBody"]
    ]
    assert countries == ["BEL", "NLD", "ITA"]
    assert claim["awardedBy"]["awardingBody"][0]["id"] == institution("ugent.be").did
    assert exported["issued"] == "2025-07-01T08:00:00Z" and exported["validFrom"] == "2025-06-30T14:30:00Z"
    assert exported["identifier"][0]["notation"] == issuance().credential_id  # names the signed OB3 original
    image = exported["displayParameter"]["individualDisplay"][0]["displayDetail"][0]["image"]
    assert base64.b64decode(image["content"]) == png()
    assert "ana.andromeda@example.org" not in str(exported).lower()


def test_export_is_deterministic() -> None:
    assert build_elm_credential(issuance(), **OPTIONS) == build_elm_credential(issuance(), **OPTIONS)


def test_solo_and_minimal_definitions_export() -> None:
    bare = definition(joint=False, supervision=None, grading=None, integration=None, further_information_url=None)
    document = export_elm(issuance(joint=False, definition=bare), **OPTIONS)
    assert "idVerification" not in document["credentialSubject"]["hasClaim"][0]["provenBy"][0]


def test_values_without_an_eu_code_are_refused_not_guessed() -> None:
    foreign = institution("ugent.be").model_copy(update={"country": "ZZ"})
    with pytest.raises(ElmExportError, match="ZZ"):
        export_elm(issuance(issuer=foreign), **OPTIONS)
    with pytest.raises(ElmExportError, match="language"):
        export_elm(issuance(definition=definition(languages=("ja",))), **OPTIONS)


def test_vendored_elm_files_are_the_mirror_copies() -> None:
    vendored = REPO / "services/credential/tessera_credential/contexts/elm"
    mirror = STANDARDS / "elm"
    for name, source in (
        ("edc-ap-context.jsonld", mirror / "shapes" / "edc-ap-context.jsonld"),
        ("EDC-generic-no-cv.ttl", mirror / "shapes" / "EDC-generic-no-cv.ttl"),
        ("LICENSE-EUPL-1.2", mirror / "LICENSE-EUPL-1.2"),
    ):
        assert (vendored / name).read_bytes() == source.read_bytes(), name
