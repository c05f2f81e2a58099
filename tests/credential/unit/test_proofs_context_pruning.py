"""Pruned inlined contexts (context_pruning.py) give pyoxigraph exactly the quads, and exactly the
refusals, of the full contexts: on every credential kind Tessera issues, the W3C / 1EdTech vectors,
the generated corpus, hand-written adversarial documents and a seeded fuzz corpus."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyoxigraph as ox
import pytest

from tessera_credential.proofs import (
    DEFAULT_LOADER,
    BitstringStatusList,
    CanonicalizationTooComplexError,
    ContextLoader,
    ProofError,
    UnknownContextError,
    canonicalize,
    canonicalize_pyld,
    check_signable,
)
from tessera_credential.proofs.canon_oxigraph import canonical_nquads, parse_jsonld
from tessera_credential.proofs.canonical import check_signable_and_canonicalize_unsecured
from tessera_credential.proofs.context_pruning import analyse_contexts, context_set, inline_pruned_contexts
from tessera_credential.proofs.contexts import (
    CLR_V2P0,
    CREDENTIALS_V2,
    DATA_INTEGRITY_V2,
    MULTIKEY_V1,
    OB_V3P0,
    OB_V3P0_EXTENSIONS,
)
from tessera_credential.proofs.guard import RELATIVE_BASE, add_sentinel_vocab
from tessera_credential.proofs.signing import without_proof
from tests.credential.unit.proofs_testdata import (
    EDTECH,
    VECTOR_LOADER,
    W3C,
    generate_ob3_credentials,
    read_json,
)

pytestmark = pytest.mark.unit

GUARD_MODE: dict[str, Any] = {"context_rewrite": add_sentinel_vocab, "base_iri": RELATIVE_BASE, "lenient": True}
MODES = {"strict": {}, "guard": GUARD_MODE}


def outcome(document: Any, loader: ContextLoader, prune: bool, mode: dict[str, Any]) -> tuple[str, ...]:
    """What the pyoxigraph parse gives: the quads in parse order (blank nodes numbered by first
    occurrence, so the guard reports the same findings in the same order) and the canonical
    N-Quads, or the class of the refusal."""
    try:
        quads = parse_jsonld(document, loader, prune_contexts=prune, **mode)
    except ProofError as exc:
        return ("refused", type(exc).__name__)
    labels: dict[Any, str] = {}

    def term(t: Any) -> str:
        if isinstance(t, ox.BlankNode):
            return labels.setdefault(t, f"_:n{len(labels)}")
        return str(t)

    sequence = "\n".join(" ".join(term(t) for t in q) for q in quads)
    try:
        return ("quads", sequence, canonical_nquads(quads))
    except CanonicalizationTooComplexError:
        return ("too complex", sequence)


def assert_same(document: Any, loader: ContextLoader = DEFAULT_LOADER) -> bool:
    """Pruned == full in both modes; True when pruning applied (else the full contexts were used)."""
    for mode in MODES.values():
        assert outcome(document, loader, True, mode) == outcome(document, loader, False, mode)
    try:
        return inline_pruned_contexts(document, loader) is not None
    except UnknownContextError:  # raised by both paths, as the outcomes show
        return False


# ---------------------------------------------------------------- what Tessera issues


def _micro_credentials() -> Iterator[tuple[str, dict[str, Any]]]:
    from tessera_credential.documents import build_ob3_credential
    from tests.credential.unit.credential_document_testdata import issuance, signed_credential

    for joint in (True, False):
        yield f"micro-credential joint={joint}", build_ob3_credential(issuance(joint))
        yield f"micro-credential with proof set joint={joint}", signed_credential(joint)


def _pathway() -> Iterator[tuple[str, dict[str, Any]]]:
    from tessera_credential.documents import build_clr_credential, sign_credential
    from tests.credential.unit.credential_document_testdata import CREATED, signers
    from tests.credential.unit.test_credential_document_clr import pathway_input

    clr = build_clr_credential(pathway_input())
    (key, vm), co = signers()
    yield "pathway CLR", clr
    yield "pathway CLR with proof set", sign_credential(clr, key, vm, co, created=CREATED)


def _status_list() -> Iterator[tuple[str, dict[str, Any]]]:
    from tessera_credential.keys.did import DidWeb
    from tessera_credential.proofs import Ed25519Multikey, add_proof
    from tessera_credential.status.credential import unsigned_list_credential

    bits = BitstringStatusList()
    bits.set(94567, 1)
    dids = DidWeb("https://creds.tessera.example")
    unsigned = unsigned_list_credential(
        dids, "revocation-1", dids.did("ugent.be"), bits, datetime(2025, 7, 1, tzinfo=UTC)
    )
    yield "status list credential", unsigned
    yield (
        "status list credential signed",
        add_proof(unsigned, Ed25519Multikey(bytes(range(32))), created="2025-07-01T00:00:00Z"),
    )


ISSUED = [*_micro_credentials(), *_pathway(), *_status_list()]


@pytest.mark.parametrize("document", [d for _, d in ISSUED], ids=[name for name, _ in ISSUED])
def test_every_issued_credential_kind_parses_identically_pruned(document: dict[str, Any]) -> None:
    assert assert_same(document)  # and pruning does apply to what Tessera issues
    # end to end: the production path (pruned) still equals the reference implementation
    unsecured = without_proof(document)
    assert canonicalize(unsecured, require_signable=True) == canonicalize_pyld(unsecured)
    if "proof" in document:  # None: not separable (nested proofs in a CLR); callers then canonicalize
        report, canonical = check_signable_and_canonicalize_unsecured(document)
        assert report.ok and canonical in (None, canonicalize_pyld(unsecured))


def test_pruned_contexts_are_much_smaller_for_an_issued_credential() -> None:
    document = ISSUED[0][1]
    pruned = inline_pruned_contexts(document, DEFAULT_LOADER)
    full = [DEFAULT_LOADER.context(url) for url in document["@context"]]
    assert len(json.dumps(pruned["@context"])) < 0.75 * len(json.dumps(full))
    assert "EndorsementCredential" not in pruned["@context"][1]  # a type the credential does not use


def test_elm_export_parses_identically_pruned() -> None:
    from tessera_credential.documents import DisplayImage, LegalIdentifier, build_elm_credential
    from tessera_credential.documents.elm_vocab import elm_loader
    from tests.credential.unit.credential_document_testdata import issuance, png

    document = build_elm_credential(
        issuance(),
        issued_at=datetime(2025, 7, 1, 8, 0, tzinfo=UTC),
        issuer_legal_identifier=LegalIdentifier("BE0248015142", "BE", "VAT"),
        display_image=DisplayImage(png()),
    )
    assert_same(document, elm_loader())


# ---------------------------------------------------------------- vectors and the generated corpus


def _vector_documents() -> Iterator[tuple[str, Any]]:
    for path in sorted(W3C.rglob("*.json")):
        if path.name not in ("keyPair.json", "multiKeyPairs.json"):
            yield str(path.relative_to(W3C)), read_json(path)
    for name in ("obv3p0", "clrv2p0"):
        vector = read_json(EDTECH / f"{name}-eddsa-rdfc-2022-vector.json")
        signed = {
            **vector["unsignedCredential"],
            "proof": {**vector["proofOptions"], "proofValue": vector["proofValue"]},
        }
        yield name, vector["unsignedCredential"]
        yield f"{name} signed", signed


VECTORS = list(_vector_documents())


@pytest.mark.parametrize("document", [d for _, d in VECTORS], ids=[name for name, _ in VECTORS])
def test_vector_documents_parse_identically_pruned(document: Any) -> None:
    assert_same(document, VECTOR_LOADER)


def test_generated_corpus_parses_identically_pruned() -> None:
    pruned = sum(assert_same(d) for d in generate_ob3_credentials(60, seed=77))
    assert pruned == 60


# ---------------------------------------------------------------- adversarial documents

OB = [CREDENTIALS_V2, OB_V3P0]
ADVERSARIAL: dict[str, Any] = {
    "unknown terms": {
        "@context": OB,
        "id": "urn:x:1",
        "type": ["VerifiableCredential"],
        "madeUp": "x",
        "credentialSubject": {"id": "did:ex:1", "alsoMadeUp": {"deeper": 1}},
    },
    # scoped terms used where their type is not: dropped (or sentinel-named) like with the full contexts
    "scoped term outside its type": {
        "@context": OB,
        "id": "urn:x:1",
        "targetName": "x",
        "achievementType": "Y",
        "credentialSubject": {"id": "did:ex:1", "targetUrl": "https://e.x/"},
    },
    "type names as keys": {
        "@context": OB,
        "id": "urn:x:1",
        "Achievement": {"name": "x"},
        "Alignment": "y",
        "EndorsementSubject": {"id": "urn:x:2", "endorsementComment": "z"},
    },
    "unused types as types": {
        "@context": OB,
        "id": "urn:x:1",
        "type": ["EndorsementCredential", "VerifiablePresentation", "Multikey", "JsonSchema"],
        "endorsementComment": "c",
        "holder": "did:ex:h",
        "jsonSchema": {"a": 1},
    },
    "type-scoped null as a type": {"@context": OB, "id": "urn:x:1", "type": "verifiableCredential", "name": "x"},
    "presentation with property-scoped null": {
        "@context": [CREDENTIALS_V2],
        "type": "VerifiablePresentation",
        "holder": "did:ex:h",
        "verifiableCredential": {
            "@context": [CREDENTIALS_V2],
            "id": "urn:x:2",
            "type": "VerifiableCredential",
            "issuer": "did:ex:i",
            "credentialSubject": {"id": "did:ex:s", "name": "n"},
        },
    },
    "compact IRIs and prefixes": {
        "@context": [*OB, CLR_V2P0],
        "id": "urn:x:1",
        "cred:issuer": "did:ex:1",
        "obi:Achievement": {"@id": "obi:x"},
        "xsd:string": "x",
        "sec:proof": "p",
        "type": ["cred:VerifiableCredential", "obi:Achievement", "schema:Thing"],
    },
    "keyword aliases and collisions": {
        "@context": OB,
        "id": "urn:x:1",
        "@id": "urn:x:2",
        "type": "Profile",
        "@type": "Achievement",
        "name": "n",
    },
    "keywords everywhere": {
        "@context": OB,
        "@id": "urn:x:1",
        "@type": "Achievement",
        "@included": [{"@id": "urn:x:2", "type": "Alignment", "targetName": "t"}],
        "@reverse": {"issuer": {"@id": "urn:x:3"}},
        "name": {"@value": "x", "@language": "en"},
        "description": {"@list": ["a", {"@value": 1}]},
        "@graph": [{"@id": "urn:x:4", "name": "g"}],
        "@nest": {"name": "nested"},
        "@index": "i",
        "@foo": "bar",
    },
    "relative and invalid IRIs": {
        "@context": OB,
        "id": "relative/x",
        "type": "Profile",
        "url": "not an iri",
        "image": {"id": "../up", "type": "Image"},
        "email": "a b@c",
    },
    "values that look like terms": {
        "@context": OB,
        "id": "urn:x:1",
        "type": "Achievement",
        "achievementType": "Certificate",
        "criteria": "Criteria",
        "creator": "id",
        "alignment": [{"type": "Alignment", "targetType": "ceasn:Competency", "targetUrl": "type"}],
    },
    "nested context lists": {
        "@context": [*OB, CLR_V2P0],
        "id": "urn:x:1",
        "type": "ClrCredential",
        "credentialSubject": {
            "type": "ClrSubject",
            "verifiableCredential": [
                {
                    "@context": [CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS],
                    "id": "urn:x:2",
                    "type": "OpenBadgeCredential",
                    "credentialSchema": {"id": "https://e.x/s", "type": "1EdTechJsonSchemaValidator2019"},
                }
            ],
        },
    },
    "context order swapped": {
        "@context": [OB_V3P0, CREDENTIALS_V2],
        "id": "urn:x:1",
        "type": "Achievement",
        "name": "n",
    },
    "data integrity twice": {
        "@context": [CREDENTIALS_V2, DATA_INTEGRITY_V2, MULTIKEY_V1],
        "id": "urn:x:1",
        "type": ["DataIntegrityProof", "Multikey"],
        "cryptosuite": "eddsa-rdfc-2022",
        "publicKeyMultibase": "z6Mk",
        "proof": {"type": "DataIntegrityProof", "nonce": "n"},
    },
    "embedded context (not pruned)": {"@context": [*OB, {"name": "https://evil.example/name"}], "name": "x"},
    "protected redefinition (not pruned)": {"@context": [CREDENTIALS_V2, {"id": "https://e.x/id"}], "id": "x"},
    "json literal (not pruned)": {
        "@context": OB,
        "id": "urn:x:1",
        "type": "Achievement",
        "x": {"@value": {"@context": CREDENTIALS_V2}, "@type": "@json"},
    },
    "unknown context URL": {"@context": [CREDENTIALS_V2, "https://evil.example/ctx"], "name": "x"},
    "context that is not a list of URLs": {"@context": [CREDENTIALS_V2, 3], "name": "x"},
    "types of every shape": {"@context": OB, "id": "urn:x:1", "type": [["Achievement"]], "name": "n"},
    "type object": {"@context": OB, "id": "urn:x:1", "type": {"@id": "Achievement"}, "name": "n"},
    "null and empty": {
        "@context": OB,
        "id": "urn:x:1",
        "type": [],
        "name": None,
        "description": [],
        "credentialSubject": {},
    },
}


@pytest.mark.parametrize("document", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_adversarial_documents_behave_as_with_the_full_contexts(document: Any) -> None:
    assert_same(document)


def test_documents_that_are_not_pruned() -> None:
    for name in (
        "embedded context (not pruned)",
        "protected redefinition (not pruned)",
        "json literal (not pruned)",
        "context that is not a list of URLs",
        "type-scoped null as a type",
    ):
        assert inline_pruned_contexts(ADVERSARIAL[name], DEFAULT_LOADER) is None, name
    for name in ("unknown terms", "type names as keys", "nested context lists", "keywords everywhere"):
        assert inline_pruned_contexts(ADVERSARIAL[name], DEFAULT_LOADER) is not None, name


def test_undefined_terms_are_reported_the_same_way() -> None:
    document = ADVERSARIAL["scoped term outside its type"]
    report = check_signable(document)
    # credentialSubject too: the credentials v2 context defines it for VerifiableCredential only
    assert set(report.undefined_terms) == {"targetName", "achievementType", "targetUrl", "credentialSubject"}
    assert set(check_signable(document, engine="pyld").problems) == set(report.problems)


def test_rewrites_that_add_terms_fall_back_to_the_full_contexts() -> None:
    document = ADVERSARIAL["unknown terms"]

    def adds_a_term(contexts: list[Any]) -> list[Any]:
        return [{"madeUp": "https://e.x/madeUp"}, *contexts]

    assert inline_pruned_contexts(document, DEFAULT_LOADER, adds_a_term) is None
    assert outcome(document, DEFAULT_LOADER, True, {"context_rewrite": adds_a_term}) == outcome(
        document, DEFAULT_LOADER, False, {"context_rewrite": adds_a_term}
    )


# ---------------------------------------------------------------- the analysis itself


def test_analysis_of_the_production_contexts() -> None:
    analysis = context_set(DEFAULT_LOADER, frozenset(DEFAULT_LOADER.urls))
    assert analysis is not None
    # differently defined across contexts, or depending on other terms: never dropped, never rewritten
    assert {
        "verifiableCredential",
        "status",
        "achievement",
        "identifier",
        "awardedDate",
        "AchievementCredential",
        "VerifiablePresentation",
    } <= analysis.always
    assert analysis.null_scoped == {"verifiableCredential"}
    assert {"name", "Achievement", "Alignment", "targetName", "id", "type"} <= analysis.inert
    assert {"id", "type", "image"} <= analysis.redundant["Achievement"]
    assert not analysis.type_maps


def test_unprunable_context_sets() -> None:
    assert analyse_contexts([{"@import": "https://e.x/ctx", "a": "https://e.x/a"}]) is None
    assert analyse_contexts([[None, {"a": "https://e.x/a"}]]) is None
    assert analyse_contexts(["https://e.x/remote"]) is None
    mixed = analyse_contexts(
        [
            {"a": "https://e.x/a", "b": {"@id": "a"}, "c": {"@id": "https://e.x/c"}},
            {"c": "https://e.x/other-c", "d": {"@id": "https://e.x/d", "@type": "xsd:date"}},
        ]
    )
    assert mixed is not None
    assert mixed.inert == {"a"} and mixed.always == {"a", "b", "c", "d"}
    prefixed = analyse_contexts([{"ex": "https://e.x/", "ex:name": {"@id": "https://e.x/name"}, "z": "https://e.x/z"}])
    assert prefixed is not None and prefixed.always == {"ex", "ex:name"} and prefixed.inert == {"ex", "z"}


# ---------------------------------------------------------------- seeded fuzzing


def _vocabulary() -> list[str]:
    analysis = context_set(DEFAULT_LOADER, frozenset(DEFAULT_LOADER.urls))
    assert analysis is not None
    return sorted(analysis.terms)


TERMS = _vocabulary()
TYPES = [t for t in TERMS if t[:1].isupper() or t[:1].isdigit()]
OTHER_KEYS = [
    "@id",
    "@type",
    "@value",
    "@language",
    "@graph",
    "@list",
    "@set",
    "@included",
    "@reverse",
    "@nest",
    "@index",
    "@foo",
    "cred:issuer",
    "obi:name",
    "schema:name",
    "https://e.x/p",
    "madeUp",
    "xsd:x",
]
OTHER_VALUES = [
    "urn:x:1",
    "did:ex:1",
    "https://e.x/o",
    "rel/x",
    "_:b1",
    "cred:x",
    "obi:Achievement",
    "@json",
    "@id",
    "en",
    "not an iri",
    "",
    "xsd:string",
]
CONTEXT_LISTS = [
    [CREDENTIALS_V2, OB_V3P0],
    [CREDENTIALS_V2, OB_V3P0, OB_V3P0_EXTENSIONS],
    [CREDENTIALS_V2],
    [CREDENTIALS_V2, OB_V3P0, CLR_V2P0],
    [OB_V3P0, CREDENTIALS_V2],
    [CREDENTIALS_V2, DATA_INTEGRITY_V2],
    [CREDENTIALS_V2, MULTIKEY_V1],
    [DATA_INTEGRITY_V2],
    [CREDENTIALS_V2, OB_V3P0, DATA_INTEGRITY_V2, MULTIKEY_V1],
]


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if depth > 0 and roll < 0.35:
        return _node(rng, depth - 1)
    if depth > 0 and roll < 0.45:
        return [_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.7:
        return rng.choice(TERMS + OTHER_VALUES)
    return rng.choice([1, 2.5, True, None, {"@value": "v", "@language": "en"}, {"@id": rng.choice(OTHER_VALUES)}])


def _node(rng: random.Random, depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if rng.random() < 0.1:
        node["@context"] = rng.choice(CONTEXT_LISTS)
    if rng.random() < 0.7:
        node["id"] = rng.choice(["urn:x:1", "did:ex:2", "https://e.x/n", "rel", "_:b2"])
    if rng.random() < 0.8:
        types = rng.sample(TYPES, rng.randint(1, 2)) + (["VerifiableCredential"] if rng.random() < 0.2 else [])
        node[rng.choice(["type", "type", "@type"])] = types if len(types) > 1 or rng.random() < 0.5 else types[0]
    for _ in range(rng.randint(1, 5)):
        node[rng.choice(TERMS + OTHER_KEYS) if rng.random() < 0.9 else rng.choice(TYPES)] = _value(rng, depth)
    return node


def fuzz_documents(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        document = _node(rng, 3)
        document["@context"] = copy.copy(rng.choice(CONTEXT_LISTS))
        documents.append(document)
    return documents


def test_fuzzed_documents_behave_as_with_the_full_contexts() -> None:
    documents = fuzz_documents(250, seed=20250701)
    pruned = parsed = 0
    for document in documents:
        pruned += assert_same(document)
        parsed += outcome(document, DEFAULT_LOADER, False, {})[0] == "quads"
    assert pruned > 150 and parsed > 60  # most are pruned, and many are valid JSON-LD


# ---------------------------------------------------------------- synthetic contexts with every feature

E = "https://e.x/"
SYNTHETIC = {
    "https://ctx.example/one": {
        "@context": {
            "@protected": True,
            "id": "@id",
            "type": "@type",
            "ex": E,
            "name": E + "name",
            "ex:alias": {"@id": E + "alias"},
            "knows": {"@id": "ex:knows", "@type": "@id"},
            "kind": {"@id": E + "kind", "@type": "@vocab"},
            "tags": {"@id": E + "tags", "@container": "@list"},
            "byLang": {"@id": E + "byLang", "@container": "@language"},
            "meta": "@nest",
            "byType": {"@id": E + "byType", "@container": "@type"},
            "parent": {"@reverse": E + "child"},
            "Person": {
                "@id": E + "Person",
                "@context": {
                    "@protected": True,
                    "id": "@id",
                    "type": "@type",
                    "name": E + "name",
                    "nick": E + "nick",
                    "age": {"@id": E + "age", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
                    "friend": {"@id": E + "friend", "@context": {"nick": E + "friendNick", "age": E + "friendAge"}},
                },
            },
            "Org": {
                "@id": E + "Org",
                "@context": {
                    "id": "@id",
                    "type": "@type",
                    "name": E + "name",
                    "member": {"@id": E + "member", "@container": "@set"},
                },
            },
            "Reset": {"@id": E + "Reset", "@context": None},
            "Scoped": {"@id": E + "Scoped", "@context": {"ex": "https://elsewhere.example/", "kind": E + "kind2"}},
            "Open": {"@id": E + "Open", "@context": {"@vocab": "https://open.example/"}},
        }
    },
    "https://ctx.example/two": {
        "@context": {
            "name": "https://other.example/name",
            "nick": E + "nick",
            "ex": E,
            "@vocab": "https://vocab.example/",
            "Thing": {"@id": E + "Thing", "@context": {"name": E + "thingName", "age": E + "age"}},
            "Person": {"@id": E + "Person", "@context": {"nick": E + "nick"}},
            "free": "ex:free",
        }
    },
    "https://ctx.example/three": {
        "@context": {
            "@protected": True,
            "id": "@id",
            "type": "@type",
            "Person": {
                "@id": E + "Person",
                "@context": {
                    "@protected": True,
                    "id": "@id",
                    "type": "@type",
                    "name": E + "name",
                    "nick": E + "nick",
                    "age": {"@id": E + "age", "@type": "http://www.w3.org/2001/XMLSchema#integer"},
                    "friend": {"@id": E + "friend", "@context": {"nick": E + "friendNick", "age": E + "friendAge"}},
                },
            },
            "age": E + "age",
            "email": {"@id": E + "email", "@type": "@id"},
        }
    },
}
SYNTHETIC_KEYS = [
    "id",
    "type",
    "@id",
    "@type",
    "name",
    "nick",
    "age",
    "friend",
    "knows",
    "kind",
    "tags",
    "byLang",
    "meta",
    "byType",
    "parent",
    "member",
    "email",
    "free",
    "ex:alias",
    "ex:other",
    "undefined",
    "@nest",
    "@reverse",
    "@value",
    "@language",
    "@graph",
    "@included",
    "Person",
    "Org",
    "Thing",
]
SYNTHETIC_VALUES = [
    "Person",
    "Org",
    "Thing",
    "Reset",
    "Scoped",
    "Open",
    "ex:x",
    "https://e.x/v",
    "name",
    "kind",
    "urn:x:1",
    "rel",
    "_:b",
    "en",
    "Unknown",
    3,
    True,
    None,
]
SYNTHETIC_TYPES = ["Person", "Org", "Thing", "Reset", "Scoped", "Open", "Unknown", "ex:Type"]


def _synthetic_node(rng: random.Random, depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    if rng.random() < 0.6:
        node["id"] = rng.choice(["urn:x:1", "ex:me", "rel", "_:b1"])
    if rng.random() < 0.8:
        node[rng.choice(["type", "@type"])] = rng.sample(SYNTHETIC_TYPES, rng.randint(1, 2))
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if depth > 0 and roll < 0.35:
            value: Any = _synthetic_node(rng, depth - 1)
        elif depth > 0 and roll < 0.45:
            value = [_synthetic_node(rng, depth - 1), rng.choice(SYNTHETIC_VALUES)]
        elif roll < 0.5:
            value = {rng.choice(["en", "Person", "Org", "x"]): rng.choice(["v", {"name": "n"}])}
        else:
            value = rng.choice(SYNTHETIC_VALUES)
        node[rng.choice(SYNTHETIC_KEYS)] = value
    return node


def test_synthetic_contexts_with_every_feature(tmp_path: Any) -> None:
    extra = {}
    for i, (url, document) in enumerate(SYNTHETIC.items()):
        path = tmp_path / f"ctx{i}.jsonld"
        path.write_text(json.dumps(document))
        extra[url] = path
    loader = ContextLoader(extra)
    urls = list(SYNTHETIC)
    analysis = context_set(loader, frozenset(urls))
    assert analysis is not None and analysis.type_maps and analysis.null_scoped == {"Reset"}
    assert {"knows", "ex:alias", "parent", "Person", "name", "free"} <= analysis.always
    rng = random.Random(99)
    lists = [
        [urls[0]],
        [urls[0]],
        [urls[0]],
        [urls[2]],
        [urls[2]],
        [urls[1]],
        [urls[0], urls[1]],
        [urls[1], urls[0]],
        [urls[2], urls[1]],
        [urls[0], urls[2]],
    ]
    pruned = refused = 0
    for _ in range(400):
        document = _synthetic_node(rng, 3)
        document["@context"] = rng.choice(lists)
        pruned += assert_same(document, loader)
        refused += outcome(document, loader, False, {})[0] == "refused"
    assert pruned > 150 and 40 < refused < 370  # refusals (conflicts, invalid values) are compared too
