"""The proof-configuration template cache (`cryptosuites.canonical_proof_configuration`) returns exactly
what an uncached `canonicalize` returns: on the W3C and 1EdTech vectors, cold and warm, and on
thousands of generated configurations with arbitrary xsd:dateTimeStamp values; it never caches an
ambiguous template, and errors are raised exactly as before (nothing cached)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tessera_credential.proofs import ContextLoader, ProofError, canonicalize
from tessera_credential.proofs import cryptosuites as suites
from tessera_credential.proofs.contexts import CLR_V2P0, CREDENTIALS_V2, DATA_INTEGRITY_V2, OB_V3P0, OB_V3P0_EXTENSIONS
from tessera_credential.proofs.cryptosuites import canonical_proof_configuration, proof_configuration
from tests.credential.unit.proofs_testdata import EDTECH, EXAMPLES_V2, STANDARDS, W3C, read_json, read_text

pytestmark = pytest.mark.unit

CONTEXTS: list[Any] = [
    [CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS],
    [CREDENTIALS_V2, OB_V3P0],
    [CREDENTIALS_V2, CLR_V2P0, OB_V3P0],
    CREDENTIALS_V2,
    [CREDENTIALS_V2, DATA_INTEGRITY_V2],
    [CREDENTIALS_V2, EXAMPLES_V2],
]
METHODS = [
    "did:web:creds.tessera.example:institutions:ugent.be#key-1",
    "did:web:creds.tessera.example:institutions:uni-heidelberg.de#key-12",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "https://example.edu/issuers/565049#key-1",
    "urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544",
    "did:example:ü-unicode#kéy",
    "relative#key-1",  # refused by the guard (relative IRI), dropped by the plain path
    "_:blank",  # a blank node: two blank nodes, never templated
    "did:web:x.example#2025-06-30T14:31:00Z",  # holds a dateTime: templated only if created differs
]


def random_datetime(rng: random.Random) -> str:
    """Any xsd:dateTimeStamp the proof-option regex admits, including impossible dates."""
    year = rng.choice(["2025", "1999", "0000", "-0001", "99999", f"{rng.randrange(10000):04d}"])
    fields = [f"{rng.randrange(100):02d}" for _ in range(5)]
    fraction = rng.choice(["", ".0", ".123", ".123456789"])
    zone = rng.choice(["Z", "+00:00", "-05:30", "+14:00"])
    return f"{year}-{fields[0]}-{fields[1]}T{fields[2]}:{fields[3]}:{fields[4]}{fraction}{zone}"


def random_config(rng: random.Random) -> dict[str, Any]:
    options: dict[str, Any] = {"type": "DataIntegrityProof"}
    if rng.random() < 0.2:
        options["id"] = rng.choice(["urn:uuid:8cc9022b-6b14-4cf3-8571-74972c5feb54", "_:proof"])
    options["cryptosuite"] = "eddsa-rdfc-2022"
    options["created"] = random_datetime(rng)
    if rng.random() < 0.2:
        options["expires"] = rng.choice([options["created"], random_datetime(rng)])
    options["verificationMethod"] = rng.choice(METHODS)
    options["proofPurpose"] = rng.choice(["assertionMethod", "authentication", "capabilityInvocation"])
    if rng.random() < 0.1:
        options["previousProof"] = "urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544"
    if rng.random() < 0.05:
        options["nonce"] = options["created"]  # undefined term, and the created value a second time
    return proof_configuration(options, rng.choice(CONTEXTS))


def outcome(function: Any, *args: Any, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", function(*args, **kwargs)
    except ProofError as exc:
        return type(exc).__name__, str(exc)


def test_vectors_cold_and_warm() -> None:
    loader = ContextLoader({EXAMPLES_V2: STANDARDS / "contexts" / "credentials-examples-v2.jsonld"})
    cases = [
        (
            read_json(W3C / "eddsa-rdfc-2022" / "proofConfigDataInt.json"),
            read_text(W3C / "eddsa-rdfc-2022" / "proofCanonDataInt.txt"),
        )
    ]
    for name in ("obv3p0", "clrv2p0"):
        vector = read_json(EDTECH / f"{name}-eddsa-rdfc-2022-vector.json")
        config = proof_configuration(vector["proofOptions"], vector["unsignedCredential"]["@context"])
        cases.append((config, read_text(EDTECH / name / "proof-canon.txt")))
    for config, expected in cases:
        for _ in range(2):  # the miss, then the template hit
            for require_signable in (True, False):
                got = canonical_proof_configuration(config, loader, require_signable=require_signable)
                assert got.decode("utf-8") == expected
    assert len(loader.proof_config_templates) == 2 * len(cases)  # every vector shape was templated
    rng = random.Random("vectors")
    for config, _ in cases:  # and the template of a vector, with other dates, is the real thing
        for _ in range(20):
            moved = {**config, "created": random_datetime(rng)}
            assert canonical_proof_configuration(moved, loader, require_signable=True) == (
                canonicalize(moved, loader, require_signable=True).encode("utf-8")
            )


def test_generated_configurations_equal_uncached_canonicalization() -> None:
    loader = ContextLoader({EXAMPLES_V2: STANDARDS / "contexts" / "credentials-examples-v2.jsonld"})
    rng = random.Random(20240501)
    hits = 0
    for _ in range(1500):
        config = random_config(rng)
        require_signable = rng.random() < 0.6
        key = suites._template_key(config, require_signable)
        cached_before = key is not None and key in loader.proof_config_templates
        got = outcome(canonical_proof_configuration, config, loader, require_signable=require_signable)
        expected = outcome(canonicalize, config, loader, require_signable=require_signable)
        if expected[0] == "ok":
            expected = ("ok", expected[1].encode("utf-8"))
        assert got == expected, config
        hits += cached_before
    assert hits > 300, hits  # the templates were actually used (many shapes are deliberately untemplatable)


def test_a_hit_does_not_canonicalize(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = ContextLoader()
    config = proof_configuration(
        {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2025-06-30T14:31:00Z",
            "verificationMethod": METHODS[0],
            "proofPurpose": "assertionMethod",
        },
        CONTEXTS[0],
    )
    first = canonical_proof_configuration(config, loader, require_signable=True)

    def fail(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("canonicalize called on a template hit")

    monkeypatch.setattr(suites, "canonicalize", fail)
    second = canonical_proof_configuration({**config, "created": "2031-01-02T03:04:05Z"}, loader, require_signable=True)
    assert second == first.replace(b"2025-06-30T14:31:00Z", b"2031-01-02T03:04:05Z")


@pytest.mark.parametrize(
    "changes",
    [
        {"expires": "2025-06-30T14:31:00Z"},  # the created value twice
        {"verificationMethod": "did:web:x.example#2025-06-30T14:31:00Z"},  # ... inside an IRI
        {"verificationMethod": "_:b0"},  # a second blank node: RDFC labels depend on the values
        {"created": 1751293860},  # not a string
        {"extra": ["a", "b"]},  # not a string value
    ],
)
def test_ambiguous_configurations_are_never_templated(changes: dict[str, Any]) -> None:
    loader = ContextLoader()
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2025-06-30T14:31:00Z",
        "verificationMethod": METHODS[0],
        "proofPurpose": "assertionMethod",
        **changes,
    }
    config = {k: v for k, v in options.items()}
    config["@context"] = CONTEXTS[0]
    outcome(canonical_proof_configuration, config, loader, require_signable=False)
    assert len(loader.proof_config_templates) == 0


def test_errors_are_raised_as_before_and_not_cached() -> None:
    loader = ContextLoader()
    config = proof_configuration(
        {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": "2025-06-30T14:31:00Z",
            "verificationMethod": "relative#key-1",
            "proofPurpose": "assertionMethod",
        },
        CONTEXTS[0],
    )
    for _ in range(2):
        assert outcome(canonical_proof_configuration, config, loader, require_signable=True) == outcome(
            canonicalize, config, loader, require_signable=True
        )
    assert len(loader.proof_config_templates) == 0
