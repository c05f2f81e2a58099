"""verify_credential: tampering, removed or swapped proofs and keys, status, dates, policy, and hostile
input (which must end in a report or a typed 4xx refusal, never an unhandled exception)."""

from __future__ import annotations

import copy
import json
import random
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tessera_credential.documents import ANNEX_I, resolve
from tessera_credential.proofs import (
    Ed25519Multikey,
    InputTooDeepError,
    InputTooLargeError,
    JsonLimits,
    MalformedInputError,
    UntrustedInputError,
    create_proof,
    verify_document,
)
from tessera_credential.verification import IssuerPolicy, NotACredentialError, verify_credential
from tests.credential.unit.credential_document_testdata import (
    CREATED,
    NOW,
    did_of,
    key_of,
    resolve_test_key,
    signed_credential,
    verify,
    vm_of,
)

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification must never fetch anything (contexts, keys, status): any connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted during verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _tamper(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    return value + "x" if isinstance(value, str) else value


def _set_first(document: dict[str, Any], path: str, change: Any) -> None:
    """Apply `change` to the first value at `path` (an Annex I path), in place."""
    *parent_path, last = path.rsplit(".", 1)
    parents = resolve(document, parent_path[0]) if parent_path else [document]
    for parent in parents:
        if isinstance(parent, dict) and last in parent:
            value = parent[last]
            if isinstance(value, list):
                value[0] = change(value[0])
            elif isinstance(value, dict):
                key = sorted(value)[0]
                value[key] = change(value[key])
            else:
                parent[last] = change(value)
            return
    raise AssertionError(f"nothing to tamper at {path}")


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else None
    if items is None:
        yield path
        return
    for key, value in items:
        if key not in ("@context", "proof"):
            yield from _leaves(value, (*path, key))


# ----------------------------------------------------------------------------------- tampering


ANNEX_I_PATHS = [(e.key, p) for e in ANNEX_I for p in e.ob3]


@pytest.mark.parametrize(("element", "path"), ANNEX_I_PATHS, ids=[f"{k}:{p}" for k, p in ANNEX_I_PATHS])
def test_tampering_any_annex_i_field_breaks_the_signatures(element: str, path: str) -> None:
    document = signed_credential()
    _set_first(document, path, _tamper)
    result = verify_document({**document, "proof": [document["proof"][0], document["proof"][2]]}, resolve_test_key)
    assert not any(p.valid for p in result.proofs), f"{element}: change at {path} not detected"


def test_tampering_a_sample_of_all_signed_leaves_breaks_the_issuer_signature() -> None:
    pristine = signed_credential()
    leaves = list(_leaves(pristine))
    for path in random.Random(7).sample(leaves, 40):
        document = copy.deepcopy(pristine)
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = _tamper(node[path[-1]])
        if node[path[-1]] == pristine_value(pristine, path):  # unchangeable (null): skip
            continue
        result = verify_document({**document, "proof": [document["proof"][0]]}, resolve_test_key)
        assert not result.verified, f"change at {path} not detected"


def pristine_value(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        document = document[key]
    return document


@pytest.mark.parametrize(
    "path",
    [
        "credentialSubject.achievement.name",
        "credentialSubject.achievement.alignment[targetType=ext:AwardingBody].targetCode",
        "credentialSubject.creditsEarned",
        "credentialSubject.result.value",
        "credentialStatus.statusListIndex",
        "validUntil",
    ],
)
def test_tampering_is_reported_for_every_proof(path: str) -> None:
    document = signed_credential()
    _set_first(document, path, _tamper)
    report = verify(document)
    assert report["verdict"] == "invalid"
    assert [p["valid"] for p in report["proofs"]] == [False, False, False]
    assert all(p["reason"] == "signature does not match" for p in report["proofs"])
    assert not report["issuer_proof"]["valid"]
    assert not any(body["signed"] for body in report["awarding_bodies"])


def test_an_added_undefined_field_is_reported_as_unsigned() -> None:
    document = signed_credential()
    document["credentialSubject"]["grade"] = "A+"  # no context defines "grade": RDFC would drop it
    report = verify(document)
    assert report["verdict"] == "invalid"
    assert report["signable"]["undefined_terms"] == ["grade"]
    assert not any(p["valid"] for p in report["proofs"])


# ---------------------------------------------------------------------- removed / swapped proofs


def test_removing_a_co_awarder_proof_is_detected() -> None:
    document = signed_credential()
    del document["proof"][2]
    report = verify(document)
    assert report["verdict"] == "invalid"
    assert all(p["valid"] for p in report["proofs"])  # what remains is genuine...
    missing = [b for b in report["awarding_bodies"] if not b["signed"]]
    assert [(b["did"], b["name"], b["country"]) for b in missing] == [
        (did_of("unibo.it"), "University of Bologna", "IT")
    ]  # ...but an awarding body did not sign
    lenient = verify(document, policy=IssuerPolicy(require_every_awarding_body=False))
    assert lenient["verdict"] == "valid"


def test_removing_the_issuer_proof_or_reordering_is_detected() -> None:
    document = signed_credential()
    without_issuer = {**document, "proof": document["proof"][1:]}
    report = verify(without_issuer)
    assert report["verdict"] == "invalid" and not report["issuer_proof"]["first_is_issuer"]
    reordered = {**document, "proof": [document["proof"][1], document["proof"][0], document["proof"][2]]}
    report = verify(reordered)
    assert report["verdict"] == "invalid" and not report["issuer_proof"]["first_is_issuer"]
    assert all(p["valid"] for p in report["proofs"])
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    assert "has no proof" in verify(unsigned)["problems"]


def test_swapping_keys_is_detected() -> None:
    document = signed_credential()
    swapped = {**document, "proof": [dict(p) for p in document["proof"]]}
    swapped["proof"][1]["verificationMethod"] = vm_of("unibo.it")  # uva's signature, unibo's key
    report = verify(swapped)
    assert report["verdict"] == "invalid" and report["proofs"][1]["reason"] == "signature does not match"

    def rotated_resolver(method: str) -> bytes | None:  # the resolver now publishes another key for uva
        return Ed25519Multikey.generate().public_key if method == vm_of("uva.nl") else resolve_test_key(method)

    report = verify(document, resolve_key=rotated_resolver)
    assert [p["valid"] for p in report["proofs"]] == [True, False, True]


def test_a_valid_proof_by_an_outsider_is_flagged() -> None:
    document = signed_credential()
    outsider = Ed25519Multikey(b"\x07" * 32)
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    extra = create_proof(unsigned, outsider, created=CREATED)  # did:key, resolved locally
    report = verify({**document, "proof": [*document["proof"], extra]})
    entry = report["proofs"][3]
    assert entry["valid"] and entry["key_resolution"] == {"method": "did:key", "outcome": "resolved"}
    assert entry["role"] == "not an awarding body" and report["verdict"] == "invalid"


def test_an_issuer_signing_with_a_did_key_is_reported_as_not_the_issuer() -> None:
    document = signed_credential()
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    impostor = create_proof(unsigned, key_of("ugent.be"), created=CREATED)  # right key, did:key identifier
    report = verify({**document, "proof": [impostor, *document["proof"][1:]]})
    assert report["proofs"][0]["valid"] and not report["issuer_proof"]["first_is_issuer"]
    assert report["verdict"] == "invalid"


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("did:ion:EiClkZMDxPKqC9c-umQfTkR8vvZ9JPhl_xLDI9Nfk38w5w#key-1", "did:ion"),
        ("https://issuer.example/keys/1", "not a DID"),
        ("did:web:elsewhere.example#key-1", "did:web"),
    ],
)
def test_unknown_key_methods_are_reported_not_crashed_on(method: str, expected: str) -> None:
    document = signed_credential()
    document["proof"][1]["verificationMethod"] = method
    report = verify(document)
    resolution = report["proofs"][1]["key_resolution"]
    assert resolution["method"] == expected
    assert resolution["outcome"] in ("unsupported_method", "not_found")
    assert report["proofs"][1]["reason"] == f"unknown verification method {method!r}"
    assert report["verdict"] == "invalid"


def test_a_resolver_outage_is_indeterminate_not_forged() -> None:
    def down(method: str) -> bytes | None:
        raise ConnectionError("key store unavailable")

    report = verify(signed_credential(), resolve_key=down)
    assert report["verdict"] == "indeterminate"
    assert {p["key_resolution"]["outcome"] for p in report["proofs"]} == {"resolver_error"}
    assert report["retryable"]


# -------------------------------------------------------------------------- status and validity


@pytest.mark.parametrize("status", ["revoked", "superseded"])
def test_revoked_and_superseded_credentials_are_reported(status: str) -> None:
    seen: list[tuple[str, int]] = []

    def status_of(url: str, index: int) -> str:
        seen.append((url, index))
        return status

    report = verify(signed_credential(), status_of=status_of)
    assert report["verdict"] == "invalid" and report["status"]["status"] == status
    assert seen == [("https://creds.tessera.example/status/revocation/1", 94567)]
    assert all(p["valid"] for p in report["proofs"])  # genuine, but no longer valid


def test_unknown_status_or_lookup_failure_is_indeterminate() -> None:
    def broken(url: str, index: int) -> str:
        raise TimeoutError

    assert verify(signed_credential(), status_of=lambda u, i: "unknown")["verdict"] == "indeterminate"
    report = verify(signed_credential(), status_of=broken)
    assert report["verdict"] == "indeterminate" and report["status"]["status"] == "unknown"
    assert verify(signed_credential(), status_of=lambda u, i: "weird")["status"]["status"] == "unknown"


def test_validity_dates_are_checked_against_now() -> None:
    assert verify(signed_credential(), now=NOW)["validity"]["ok"]
    early = verify(signed_credential(), now=NOW - timedelta(days=30))
    assert early["verdict"] == "invalid" and "not valid yet (validFrom is in the future)" in early["problems"]
    late = verify(signed_credential(), now=NOW + timedelta(days=3 * 366))
    assert late["verdict"] == "invalid" and "expired (validUntil has passed)" in late["problems"]


def test_issuer_policy() -> None:
    trusted = IssuerPolicy(trusted_issuers=frozenset({did_of("ugent.be")}))
    assert verify(signed_credential(), policy=trusted)["issuer_policy"] == {"checked": True, "trusted": True}
    other = IssuerPolicy(trusted_issuers=frozenset({did_of("uva.nl")}))
    report = verify(signed_credential(), policy=other)
    assert report["verdict"] == "invalid" and report["issuer_policy"]["trusted"] is False


def test_the_report_is_json_serialisable() -> None:
    report = verify(signed_credential())
    assert json.loads(json.dumps(report)) == report
    assert report["input"]["bytes"] > 0 and report["checked_at"] == "2025-07-15T09:00:00Z"


# ------------------------------------------------------------------------------- hostile input


def test_oversized_input_is_refused_before_parsing() -> None:
    raw = b'{"a": "' + b"x" * 300_000 + b'"}'
    with pytest.raises(InputTooLargeError) as refused:
        verify(raw)  # default cap: 256 KiB
    assert refused.value.http_status == 413
    small = IssuerPolicy(limits=JsonLimits(max_bytes=1000, max_depth=32))
    with pytest.raises(InputTooLargeError):
        verify(json.dumps(signed_credential()).encode(), policy=small)


def test_deeply_nested_input_is_refused_before_parsing() -> None:
    with pytest.raises(InputTooDeepError) as refused:
        verify(b"[" * 100_000 + b"]" * 100_000)
    assert refused.value.http_status == 422


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe{}",
        b'{"id": 1, "id": 2}',
        b'{"x": NaN}',
        b'{"x": 1e999}',
        b"",
        b'{"a": "\\ud800"}',
    ],
)
def test_malformed_json_is_a_typed_400(raw: bytes) -> None:
    with pytest.raises(MalformedInputError) as refused:
        verify(raw)
    assert refused.value.http_status == 400


@pytest.mark.parametrize("raw", [b"[]", b"42", b'"credential"', b"null"])
def test_json_that_is_not_an_object_is_a_typed_422(raw: bytes) -> None:
    with pytest.raises(NotACredentialError) as refused:
        verify(raw)
    assert refused.value.http_status == 422


def _mutations() -> list[tuple[str, Any]]:
    return [
        ("proof", "zzz"),
        ("proof", 5),
        ("proof", [None, {}, []]),
        ("proof", [{"type": 1}]),
        (
            "proof",
            [
                {
                    "type": "DataIntegrityProof",
                    "cryptosuite": "eddsa-rdfc-2022",
                    "verificationMethod": "x",
                    "proofPurpose": "assertionMethod",
                    "proofValue": "z1",
                    "previousProof": 5,
                }
            ],
        ),
        ("issuer", 7),
        ("issuer", ["a"]),
        ("issuer", {"id": {"nested": True}}),
        ("validFrom", 20250101),
        ("validFrom", "yesterday"),
        ("validUntil", []),
        ("credentialStatus", []),
        ("credentialStatus", "revoked"),
        (
            "credentialStatus",
            {
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": 5,
                "statusListCredential": "x",
            },
        ),
        ("@context", 12),
        ("@context", []),
        ("@context", [{"@vocab": "https://evil.example/"}]),
        ("@context", ["https://www.w3.org/ns/credentials/v2", "https://evil.example/context.jsonld"]),
        ("type", {"a": 1}),
        ("credentialSubject", "me"),
        ("credentialSubject", [1, 2]),
        ("id", {"@id": 5}),
        ("name", {"@value": 1, "@language": "no such tag!"}),
    ]


@pytest.mark.parametrize(("field", "value"), _mutations(), ids=lambda v: repr(v)[:40])
def test_wrong_types_yield_a_report_never_a_crash(field: str, value: Any) -> None:
    document = signed_credential()
    document[field] = value
    report = verify(document)
    assert report["verdict"] == "invalid" and report["problems"]
    json.dumps(report)


@pytest.mark.parametrize("previous", [5, True, [["nested"]], {"a": 1}])
def test_malformed_previous_proof_is_a_reason_not_a_crash(previous: Any) -> None:
    """Regression (proofs.verification): a non-string previousProof used to raise TypeError."""
    document = signed_credential()
    proof = {**document["proof"][0], "previousProof": previous}
    result = verify_document({**document, "proof": [proof]}, resolve_test_key)
    assert result.proofs[0].reason == "previousProof must be a string or an array of strings"


def test_unknown_context_is_reported_and_never_fetched() -> None:
    document = signed_credential()
    document["@context"] = [*document["@context"], "https://evil.example/context.jsonld"]
    report = verify(document)
    assert report["contexts"]["allowed"] is False
    assert report["contexts"]["unknown"] == ["https://evil.example/context.jsonld"]
    assert all(p["reason"] == "not verified: contexts not allowed" for p in report["proofs"])


def test_too_many_proofs_are_not_all_verified() -> None:
    document = signed_credential()
    document["proof"] = document["proof"] * 10
    report = verify(document)
    assert report["verdict"] == "invalid"
    assert all(p["reason"] == "not verified: too many proofs" for p in report["proofs"])


def test_random_structural_damage_never_crashes() -> None:
    rng = random.Random(2025)
    pristine = signed_credential()
    replacements: list[Any] = [
        None,
        0,
        -1,
        2**70,
        1.5,
        "",
        "x" * 300,
        [],
        {},
        [None],
        {"@id": "_:b0"},
        {"@value": "v", "@type": "not an iri"},
        True,
        "did:nope",
        {"type": "Foo"},
    ]
    for _ in range(20):
        document = copy.deepcopy(pristine)
        leaves = list(_leaves(document))
        path = rng.choice(leaves)[: rng.randint(1, 4)]
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = rng.choice(replacements)
        try:
            report = verify(document)
        except UntrustedInputError:
            continue  # e.g. a number beyond 64 bits is refused as input: a typed 4xx is fine too
        assert report["verdict"] in ("invalid", "indeterminate"), path
        json.dumps(report)


def test_verify_credential_requires_an_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone"):
        verify_credential(
            json.dumps(signed_credential()).encode(),
            resolve_key=resolve_test_key,
            status_of=lambda u, i: "active",
            now=NOW.replace(tzinfo=None),
        )
