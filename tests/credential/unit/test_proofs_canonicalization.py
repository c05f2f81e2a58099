"""pyoxigraph (fast path) and pyld (reference) produce byte-identical RDFC-1.0 output."""

from __future__ import annotations

import random
import time
from typing import Any

import pyoxigraph as ox
import pytest

from tessera_credential.proofs import (
    DEFAULT_LOADER,
    CanonicalizationError,
    CanonicalizationTooComplexError,
    UnknownContextError,
    canonicalize,
    canonicalize_oxigraph,
    canonicalize_pyld,
    jcs,
)
from tessera_credential.proofs.canon_oxigraph import blank_node_quads, parse_jsonld
from tessera_credential.proofs.complexity import check_blank_node_complexity, check_grouped_blank_nodes
from tessera_credential.proofs.contexts import CREDENTIALS_V2, OB_V3P0
from tests.credential.unit.proofs_testdata import (
    EXAMPLES_V2,
    VECTOR_LOADER,
    W3C,
    generate_ob3_credentials,
    read_json,
    read_text,
)

pytestmark = pytest.mark.unit

CORPUS = generate_ob3_credentials(100)
VOCAB = {"@vocab": "https://example.org/vocab#"}


def all_paths(document: Any) -> tuple[str, str, str]:
    return (canonicalize_oxigraph(document), canonicalize_pyld(document), canonicalize(document))


@pytest.mark.parametrize("index", range(len(CORPUS)))
def test_generated_ob3_credentials_are_identical_in_both_engines(index: int) -> None:
    credential = CORPUS[index]
    fast, reference, production = all_paths(credential)
    assert fast == reference
    assert production == reference
    # signing reuses the guard's instrumented parse: it must not change a single byte
    assert canonicalize(credential, require_signable=True) == reference
    assert reference.count("\n") > 10  # a real credential, not an empty dataset


def test_corpus_is_diverse_enough_to_mean_something() -> None:
    outputs = [canonicalize_oxigraph(c) for c in CORPUS]
    assert len(set(outputs)) == len(CORPUS)
    joined = "".join(outputs)
    for needle in ("_:c14n", "\\u007F", "\\b", "\\f", "\\n", '\\"', "\\\\", "\u2028", "🎓", "\ue000",
                   "XMLSchema#double", "XMLSchema#integer", "XMLSchema#float", "XMLSchema#boolean"):
        assert needle in joined, needle


def test_literal_escaping_is_rdf_1_2_canonical_in_both_engines() -> None:
    doc = {"@context": VOCAB, "@id": "https://example.org/s",
           "p": "a\x00b\x08c\td\ne\x0bf\x0cg\rh\"i\\j\x1fk\x7fl\x85m\u2028n"}
    expected = ('<https://example.org/s> <https://example.org/vocab#p> '
                '"a\\u0000b\\bc\\td\\ne\\u000Bf\\fg\\rh\\"i\\\\j\\u001Fk\\u007Fl\x85m\u2028n" .\n')
    assert all_paths(doc) == (expected, expected, expected)


def test_lines_are_sorted_by_code_point_not_utf16() -> None:
    # U+E000 < U+1F600 by code point, but a UTF-16 comparison would put the emoji (D83D) first.
    doc = {"@context": VOCAB, "@id": "https://example.org/s", "p": ["\U0001F600", "\ue000"]}
    for output in all_paths(doc):
        lines = output.splitlines(keepends=False)
        assert lines[0].endswith('"\ue000" .') and lines[1].endswith('"\U0001F600" .')


def test_vector_document_and_empty_document() -> None:
    unsigned = read_json(W3C / "unsigned.json")
    expected = read_text(W3C / "eddsa-rdfc-2022" / "canonDocDataInt.txt")
    assert canonicalize(unsigned, VECTOR_LOADER, require_signable=True) == expected
    assert all_paths({"@context": VOCAB}) == ("", "", "")


def test_features_where_engines_differ_take_the_reference_path() -> None:
    directional = {"@context": [CREDENTIALS_V2, OB_V3P0], "id": "urn:x:1", "type": ["VerifiableCredential"],
                   "name": {"@value": "اسم", "@language": "ar", "@direction": "rtl"}}
    assert "--rtl" in canonicalize_oxigraph(directional)  # RDF 1.2 directional string
    assert canonicalize(directional) == canonicalize_pyld(directional)  # what jsonld.js/pyld sign
    assert "--rtl" not in canonicalize(directional)

    long_double = {"@context": VOCAB, "@id": "https://example.org/s", "p": -9.527}
    assert '"-9.527E0"' in canonicalize_oxigraph(long_double)
    assert '"-9.526999999999999E0"' in canonicalize_pyld(long_double)
    assert canonicalize(long_double) == canonicalize_pyld(long_double)
    assert canonicalize(long_double, allow_embedded_contexts=True, require_signable=True) == \
        canonicalize_pyld(long_double)  # the value survives 16 digits: signable, via pyld

    lossy = {"@context": VOCAB, "@id": "https://example.org/s", "p": 0.30000000000000004}
    assert canonicalize_oxigraph(lossy) != canonicalize_pyld(lossy)
    assert canonicalize(lossy) == canonicalize_pyld(lossy)
    assert '"3.0E-1"' in canonicalize(lossy)

    json_literal = {"@context": {"j": {"@id": "https://example.org/j", "@type": "@json"}},
                    "@id": "https://example.org/s", "j": {"b": [1, 2.5], "a": None, "@context": CREDENTIALS_V2}}
    assert canonicalize(json_literal) == canonicalize_pyld(json_literal)
    assert '"{\\"@context\\":\\"https://www.w3.org/ns/credentials/v2\\",\\"a\\":null' in canonicalize(json_literal)


def test_relative_iris_are_dropped_identically_by_both_engines() -> None:
    doc = {"@context": VOCAB, "@id": "relative/node", "p": "lost", "q": {"@id": "https://example.org/o"}}
    assert canonicalize_oxigraph(doc) == canonicalize_pyld(doc) == ""


def test_unknown_contexts_are_never_fetched() -> None:
    doc = {"@context": [CREDENTIALS_V2, "https://evil.example/context.jsonld"], "name": "x"}
    for function in (canonicalize_oxigraph, canonicalize_pyld, canonicalize):
        with pytest.raises(UnknownContextError) as info:
            function(doc)
        assert info.value.url == "https://evil.example/context.jsonld"


def test_test_only_context_does_not_leak_into_the_production_loader() -> None:
    unsigned = read_json(W3C / "unsigned.json")
    canonicalize_pyld(unsigned, VECTOR_LOADER)  # warms pyld caches with the examples context
    assert EXAMPLES_V2 not in DEFAULT_LOADER.urls
    for function in (canonicalize_pyld, canonicalize_oxigraph):
        with pytest.raises(UnknownContextError):
            function(unsigned, DEFAULT_LOADER)


def _symmetric_tree(children: int) -> dict[str, Any]:
    """Two identical anonymous parents, each with identical anonymous children (~500 bytes)."""
    return {"@context": VOCAB, "p": [{"q": [{"r": "1"} for _ in range(children)]} for _ in range(2)]}


def _blank_clique(size: int) -> dict[str, Any]:
    return {"@context": VOCAB, "@graph": [
        {"@id": f"_:b{i}", "p": [{"@id": f"_:b{j}"} for j in range(size) if j != i]} for i in range(size)
    ]}


@pytest.mark.parametrize("poison", [_symmetric_tree(9), _blank_clique(8)], ids=["tree", "clique"])
def test_poison_datasets_are_refused_quickly(poison: dict[str, Any]) -> None:
    for function in (canonicalize_oxigraph, canonicalize_pyld, canonicalize):
        started = time.perf_counter()
        with pytest.raises(CanonicalizationTooComplexError):
            function(poison)
        assert time.perf_counter() - started < 2.0  # unguarded: ~17 s (pyoxigraph), minutes (pyld)


def _random_blank_graph(rng: random.Random) -> dict[str, Any]:
    size = rng.randint(2, 7)
    return {"@context": VOCAB, "@graph": [
        {"@id": f"_:b{i}", rng.choice("pq"): [{"@id": f"_:b{j}"} for j in range(size) if rng.random() < 0.5]
         + ([rng.choice(["x", "y"])] if rng.random() < 0.5 else [])}
        for i in range(size)
    ]}


def _string_quads(quads: list[ox.Quad]) -> list[tuple[str, str, str, str]]:
    """The string form the complexity guard had on this path before (and still has on pyld's)."""
    return [(str(q.subject), str(q.predicate), str(q.object),
             "" if isinstance(q.graph_name, ox.DefaultGraph) else str(q.graph_name)) for q in quads]


def test_grouped_complexity_estimate_equals_the_string_one() -> None:
    rng = random.Random(5)
    documents = [_symmetric_tree(n) for n in range(1, 10)] + [_blank_clique(n) for n in range(2, 9)]
    documents += [_random_blank_graph(rng) for _ in range(60)] + CORPUS[:20]
    refusals = 0
    for document in documents:
        quads = parse_jsonld(document)
        for cap in (1, 2, 6, 24, 120, 1000, 100_000):
            decisions = []
            for grouped in (False, True):
                try:
                    if grouped:
                        check_grouped_blank_nodes(blank_node_quads(quads), cap)
                    else:
                        check_blank_node_complexity(_string_quads(quads), cap)
                    decisions.append(True)
                except CanonicalizationTooComplexError:
                    decisions.append(False)
            assert decisions[0] == decisions[1], (document, cap)
            refusals += not decisions[0]
    assert refusals > 50


def test_small_symmetric_structures_are_still_canonicalized() -> None:
    benign = _symmetric_tree(3)
    assert canonicalize_oxigraph(benign) == canonicalize_pyld(benign)
    assert canonicalize_oxigraph(benign).count("_:c14n") > 0


def test_non_finite_numbers_and_jcs_domain_are_refused() -> None:
    with pytest.raises(CanonicalizationError):
        canonicalize({"@context": VOCAB, "@id": "https://example.org/s", "p": float("inf")})
    with pytest.raises(CanonicalizationError):
        jcs({"n": float("nan")})
    with pytest.raises(CanonicalizationError):
        jcs({"n": 2**60})
    assert jcs({"b": [1, 2.5, "é"], "a": None}) == '{"a":null,"b":[1,2.5,"é"]}'.encode()
    assert jcs(read_json(W3C / "unsigned.json")) == read_text(W3C / "eddsa-jcs-2022" / "canonDocJCS.txt").encode()


def test_concurrent_canonicalization_gives_the_same_bytes() -> None:
    """The service may canonicalize from worker threads. pyld alone is not thread-safe (its cached
    contexts hold LRU caches it mutates while reading); without canon_pyld's lock this failed
    with KeyError / "OrderedDict mutated during iteration" a few times per hundred rounds."""
    from concurrent.futures import ThreadPoolExecutor

    docs = CORPUS[:24]
    expected = [canonicalize_pyld(d) for d in docs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(4):
            for function in (canonicalize_pyld, canonicalize_oxigraph, canonicalize):
                assert list(pool.map(function, docs)) == expected


def test_thousands_of_generated_credentials_are_byte_identical_in_both_engines() -> None:
    # The production path (pyoxigraph) against the reference implementation (pyld), at volume.
    mismatches = [
        i for i, credential in enumerate(generate_ob3_credentials(2000, seed=424242))
        if canonicalize_oxigraph(credential) != canonicalize_pyld(credential)
    ]
    assert mismatches == []
