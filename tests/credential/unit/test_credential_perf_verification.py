"""Verification parses a credential once: `check_signable_and_canonicalize_unsecured` gives exactly
`check_signable`'s report and, when it gives a canonical form at all, exactly `canonicalize` of the
document without `proof`; the verification report is byte-identical to the two-parse one."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from tessera_credential.proofs import (
    CanonicalizationTooComplexError,
    Ed25519Multikey,
    add_proof,
    canonicalize,
    check_signable,
)
from tessera_credential.proofs import canonical as canonical_module
from tessera_credential.proofs.canonical import check_signable_and_canonicalize_unsecured
from tessera_credential.proofs.signing import without_proof
from tessera_credential.verification import report as report_module
from tests.credential.unit.credential_document_testdata import signed_credential, verify
from tests.credential.unit.proofs_testdata import EDTECH, VECTOR_LOADER, W3C, generate_ob3_credentials, read_json

pytestmark = pytest.mark.unit

KEYS = [Ed25519Multikey(bytes([i]) * 32) for i in range(1, 4)]


def signed_generated(count: int) -> list[dict[str, Any]]:
    rng = random.Random(99)
    out = []
    for document in generate_ob3_credentials(count, seed=11):
        for key in KEYS[: rng.randint(1, 3)]:
            document = add_proof(document, key, created="2025-06-30T14:31:00Z", proof_id=rng.choice([None, "urn:x:p"]))
        out.append(document)
    return out


def edge_cases(base: dict[str, Any]) -> list[dict[str, Any]]:
    """Shapes where the root proofs might not separate cleanly (each must fall back or be exact)."""
    proofs = base["proof"] if isinstance(base["proof"], list) else [base["proof"]]
    cases = []
    single = copy.deepcopy(base)
    single["proof"] = copy.deepcopy(proofs[0])  # one object, not an array
    cases.append(single)
    nested = copy.deepcopy(base)  # a nested node with its own proof: a second sec:proof subject
    nested["credentialSubject"]["achievement"]["endorsement"] = [
        {"id": "urn:uuid:e1", "type": ["VerifiableCredential", "EndorsementCredential"], "proof": copy.deepcopy(proofs)}
    ]
    cases.append(nested)
    shared = copy.deepcopy(base)  # a blank node label used by a proof and by the document
    shared["credentialSubject"]["id"] = "_:shared"
    first = shared["proof"][0] if isinstance(shared["proof"], list) else shared["proof"]
    first["verificationMethod"] = "_:shared"
    cases.append(shared)
    iri_keyed = copy.deepcopy(base)  # proofs under the full IRI too: not removed by without_proof
    iri_keyed["https://w3id.org/security#proof"] = copy.deepcopy(proofs[:1])
    cases.append(iri_keyed)
    graph = copy.deepcopy(base)  # a graph object as a proof
    graph["proof"] = [{"@graph": copy.deepcopy(proofs)}]
    cases.append(graph)
    strings = copy.deepcopy(base)
    strings["proof"] = ["urn:not-a-proof", *copy.deepcopy(proofs)]
    cases.append(strings)
    duplicate = copy.deepcopy(base)
    duplicate["proof"] = copy.deepcopy(proofs) + copy.deepcopy(proofs[:1])
    cases.append(duplicate)
    empty = copy.deepcopy(base)
    empty["proof"] = [{}, *copy.deepcopy(proofs)]
    cases.append(empty)
    undefined = copy.deepcopy(base)  # an unsignable document: the guard's problems, no canonical form
    undefined["credentialSubject"]["undefinedTerm"] = "x"
    cases.append(undefined)
    tampered = copy.deepcopy(base)
    tampered["name"] = str(tampered.get("name")) + " (edited)"
    cases.append(tampered)
    return cases


def corpus() -> list[dict[str, Any]]:
    docs = [signed_credential(True), signed_credential(False)]
    docs.append(read_json(W3C / "eddsa-rdfc-2022" / "signedDataInt.json"))
    docs += [
        read_json(W3C / "proof-set-chain" / f"signedProof{kind}{i}.json") for kind in ("Set", "Chain") for i in (1, 2)
    ]
    for name in ("obv3p0", "clrv2p0"):
        vector = read_json(EDTECH / f"{name}-eddsa-rdfc-2022-vector.json")
        docs.append(add_proof(vector["unsignedCredential"], KEYS[0], **_vector_options(vector["proofOptions"])))
    docs += signed_generated(25)
    return docs + [case for base in docs[:2] + docs[-3:] for case in edge_cases(base)]


def _vector_options(options: dict[str, Any]) -> dict[str, Any]:
    return {"created": options["created"], "verification_method": options["verificationMethod"]}


def test_report_and_canonical_form_equal_the_two_parse_results() -> None:
    derived = 0
    for document in corpus():
        expected_report = check_signable(document, VECTOR_LOADER)
        got_report, canonical = check_signable_and_canonicalize_unsecured(document, VECTOR_LOADER)
        assert got_report == expected_report
        if canonical is not None:
            assert expected_report.ok
            assert canonical == canonicalize(without_proof(document), VECTOR_LOADER), json.dumps(document)[:1500]
            derived += 1
    assert derived >= 30, derived  # the single-parse path is what verification actually runs


def test_ambiguous_proof_shapes_fall_back() -> None:
    names = [
        "single",
        "nested",
        "shared",
        "iri_keyed",
        "graph",
        "strings",
        "duplicate",
        "empty",
        "undefined",
        "tampered",
    ]
    derived = {
        name: check_signable_and_canonicalize_unsecured(case)[1] is not None
        for name, case in zip(names, edge_cases(signed_credential(True)), strict=True)
    }
    # Not separable with certainty: fall back to a second parse (the equality test covers the rest).
    assert not any(derived[n] for n in ("nested", "shared", "iri_keyed", "graph", "strings", "undefined"))
    # One graph per array entry whatever its content: separable, and exact (see the test above).
    assert all(derived[n] for n in ("single", "duplicate", "empty", "tampered"))


def test_verification_reports_are_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    documents = [signed_credential(True), signed_credential(False)]
    documents += [case for case in edge_cases(signed_credential(True))]
    new = [json.dumps(verify(document), sort_keys=False) for document in documents]

    def two_parses(document: Any, loader: Any) -> tuple[Any, None]:
        return check_signable(document, loader), None  # the previous behaviour: canonicalize separately

    monkeypatch.setattr(report_module, "check_signable_and_canonicalize_unsecured", two_parses)
    old = [json.dumps(verify(document), sort_keys=False) for document in documents]
    assert new == old
    assert json.loads(new[0])["verdict"] == "valid"


def test_a_canonicalization_error_is_left_to_the_proofs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard never applied the complexity cap: its error must still surface per proof, not here."""
    document = signed_credential(True)
    before = json.dumps(verify(document))

    def too_complex(*args: Any, **kwargs: Any) -> str:
        raise CanonicalizationTooComplexError("too many permutations")

    monkeypatch.setattr(canonical_module, "canonical_nquads", too_complex)
    report, canonical = check_signable_and_canonicalize_unsecured(document)
    assert canonical is None and report == check_signable(document)
    assert json.loads(before)["verdict"] == "valid"
