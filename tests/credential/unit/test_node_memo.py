"""An Open Badge's achievement parsed once per process (proofs/node_memo.py): the split parse gives
exactly the RDF of the whole document, is used only for shapes where it was seen to, never for
documents whose data could make it differ, and a changed achievement is a different memo entry."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from tessera_credential.documents import build_ob3_credential
from tessera_credential.proofs import DEFAULT_LOADER, CanonicalizationTooComplexError, check_signable
from tessera_credential.proofs.canon_oxigraph import _parse_whole, blank_node_quads, canonical_nquads
from tessera_credential.proofs.canonical import _without_root_proofs
from tessera_credential.proofs.complexity import check_grouped_blank_nodes, first_degree_signatures
from tessera_credential.proofs.guard import RELATIVE_BASE, add_sentinel_vocab
from tessera_credential.proofs.node_memo import NodeMemo, SplitQuads, _split
from tests.credential.unit.credential_document_testdata import definition, issuance, signed_credential, verify

pytestmark = pytest.mark.unit

STRICT = (DEFAULT_LOADER, None, None, False, True)
GUARD = (DEFAULT_LOADER, add_sentinel_vocab, RELATIVE_BASE, True, True)


class Counting:
    """``_parse_whole`` with these options, counting the documents it parses."""

    def __init__(self, options: tuple[Any, ...]) -> None:
        self.options, self.documents = options, 0

    def __call__(self, document: Any) -> list[Any]:
        self.documents += 1
        return _parse_whole(document, *self.options)


def canonical(memo: NodeMemo, document: Any, options: tuple[Any, ...] = STRICT) -> str:
    return canonical_nquads(memo.parse(document, options, Counting(options), canonical_nquads))


def whole(document: Any, options: tuple[Any, ...] = STRICT) -> str:
    return canonical_nquads(_parse_whole(document, *options))


@pytest.mark.parametrize("options", [STRICT, GUARD], ids=["strict", "guard"])
@pytest.mark.parametrize(
    "document",
    [
        build_ob3_credential(issuance()),
        build_ob3_credential(issuance(joint=False, serial=2)),
        build_ob3_credential(
            issuance(serial=3, definition=definition(True, title={"en": "Data literacy", "de": "Datenkompetenz"}))
        ),
        signed_credential(),  # as verification parses it: proofs and all
    ],
    ids=["joint", "solo", "other-title", "signed"],
)
def test_the_split_parse_gives_exactly_the_rdf_of_the_whole_document(document, options) -> None:
    memo = NodeMemo()
    first, again = canonical(memo, document, options), canonical(memo, document, options)
    assert first == again == whole(document, options)
    assert next(iter(memo._verdicts.values())) is True and len(memo._nodes) == 1


def test_the_achievement_is_parsed_once_for_every_credential_of_the_version() -> None:
    memo = NodeMemo()
    documents = [build_ob3_credential(issuance(serial=n)) for n in range(1, 6)]
    canonical(memo, documents[0])  # the shape's first document: parsed whole, and split to compare
    parse = Counting(STRICT)
    for document in documents[1:]:
        assert canonical_nquads(memo.parse(document, STRICT, parse, canonical_nquads)) == whole(document)
    assert parse.documents == 4  # each credential's own part; its achievement came from the memo


def test_a_changed_achievement_is_not_taken_from_the_memo_and_the_signature_then_fails(monkeypatch) -> None:
    memo = NodeMemo()
    monkeypatch.setattr("tessera_credential.proofs.canon_oxigraph.NODE_MEMO", memo)
    signed = signed_credential()
    assert verify(signed)["verdict"] == "valid"
    assert len(memo._nodes) == 1  # the memo now holds this achievement
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["achievement"]["criteria"]["narrative"] += " (or less)"
    report = verify(tampered)
    assert report["verdict"] == "invalid", report
    assert whole(tampered) != whole(signed)


@pytest.mark.parametrize("options", [STRICT, GUARD], ids=["strict", "guard"])
def test_a_keyword_like_achievement_id_would_split_differently_and_is_parsed_whole(options) -> None:
    # the reference {"id": "@foo"} and the node with "id": "@foo" expand differently, so a split of
    # this document would not give its RDF; the shape's check cannot know, the id rule does
    document = build_ob3_credential(issuance())
    document["credentialSubject"]["achievement"]["id"] = "@foo"
    node = document["credentialSubject"]["achievement"]
    rest = {**document, "credentialSubject": {**document["credentialSubject"], "achievement": {"id": "@foo"}}}
    split = canonical_nquads(
        _parse_whole(rest, *options) + _parse_whole({"@context": document["@context"], **node}, *options)
    )
    assert split != whole(document, options)
    memo = NodeMemo()
    canonical(memo, build_ob3_credential(issuance()), options)  # the shape's first document: checked, equal
    assert canonical(memo, document, options) == whole(document, options)


def test_a_shape_whose_split_differs_is_parsed_whole_from_its_first_document_on() -> None:
    # Without the VerifiableCredential type, `credentialSubject` is not defined: the whole parse
    # drops the subject with its achievement, the split would keep the achievement's triples.
    document = build_ob3_credential(issuance())
    document["type"] = ["OpenBadgeCredential"]
    memo = NodeMemo()
    assert canonical(memo, document) == whole(document)
    assert list(memo._verdicts.values()) == [False] and not memo._nodes
    parse = Counting(STRICT)
    memo.parse(document, STRICT, parse, canonical_nquads)
    assert parse.documents == 1  # the whole document, nothing else


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["credentialSubject"].update({"@context": [d["@context"][-1]]}),  # an embedded context
        lambda d: d["credentialSubject"]["achievement"]["criteria"].update({"id": "_:c1"}),  # a blank node label
        lambda d: d["evidence"][0].update({"id": "_:c1"}),  # ... anywhere in the document
        lambda d: d.update({"credentialSubject": [d["credentialSubject"]]}),  # several subjects
        lambda d: d["credentialSubject"]["achievement"].pop("id"),  # no IRI to refer to
        lambda d: d["credentialSubject"]["achievement"].update({"type": [{"not": "a string"}]}),
        # ids whose expansion could differ between the reference (which keeps the subject's
        # type-scoped context) and the node (which drops it): only scheme:// IRIs are split
        lambda d: d["credentialSubject"]["achievement"].update({"id": "obi:achievement-1"}),  # a compact IRI
        lambda d: d["credentialSubject"]["achievement"].update({"id": "@foo"}),  # keyword-like
        lambda d: d["credentialSubject"]["achievement"].update({"id": "achievements/1"}),  # relative
        lambda d: d["credentialSubject"]["achievement"].update({"id": "urn:uuid:0b6c0d5e-1f8e-4f47"}),  # no //
    ],
    ids=[
        "embedded-context",
        "blank-node-label",
        "blank-node-label-elsewhere",
        "subject-list",
        "no-id",
        "odd-type",
        "compact-iri",
        "keyword-like-id",
        "relative-id",
        "urn-id",
    ],
)
def test_documents_whose_data_could_make_the_split_differ_are_parsed_whole(change) -> None:
    document = build_ob3_credential(issuance())
    assert _split(document) is not None
    change(document)
    assert _split(document) is None


def test_shapes_are_remembered_least_recently_used_first_out(monkeypatch) -> None:
    # a verifier's shapes are few; made-up types in untrusted documents must neither grow the
    # verdicts nor push out a shape in use: each new one only costs its own document the check
    monkeypatch.setattr("tessera_credential.proofs.node_memo.MAX_SHAPES", 2)
    memo = NodeMemo()
    real = build_ob3_credential(issuance())
    canonical(memo, real)
    for n in range(4):
        document = build_ob3_credential(issuance())
        document["credentialSubject"]["type"] = ["AchievementSubject", f"Made-up-{n}"]
        parse = Counting(STRICT)
        assert canonical_nquads(memo.parse(document, STRICT, parse, canonical_nquads)) == whole(document)
        assert parse.documents == 3  # a new shape: the whole document and both parts, to compare
        parse = Counting(STRICT)
        memo.parse(real, STRICT, parse, canonical_nquads)
        assert parse.documents == 1  # the shape in use stays: its own part only
    assert len(memo._verdicts) == 2


def test_a_document_that_cannot_be_compared_decides_nothing_about_its_shape() -> None:
    memo = NodeMemo()
    document = build_ob3_credential(issuance())

    def refuse(quads: list[Any]) -> str:
        raise ValueError("e.g. the blank-node complexity cap")

    parse = Counting(STRICT)
    assert canonical_nquads(memo.parse(document, STRICT, parse, refuse)) == whole(document)
    assert not memo._verdicts and not memo._nodes  # the next document of the shape is checked again


def test_an_achievement_too_large_to_keep_is_parsed_for_each_credential(monkeypatch) -> None:
    monkeypatch.setattr("tessera_credential.proofs.node_memo.MAX_NODE_QUADS", 50)  # Tessera's has ~200
    memo = NodeMemo()
    for n in (1, 2):
        document = build_ob3_credential(issuance(serial=n))
        assert canonical(memo, document) == whole(document)
    assert not memo._nodes and list(memo._verdicts.values()) == [True]


def test_the_memo_keeps_a_bounded_number_of_achievements() -> None:
    memo = NodeMemo(size=2)
    for n in range(4):
        document = build_ob3_credential(issuance(definition=definition(True, title={"en": f"Data literacy {n}"})))
        assert canonical(memo, document) == whole(document)
    assert len(memo._nodes) == 2


# ---------------------------------------------------------------- what is derived from a memoised achievement


def _with_undefined_terms(serial: int) -> dict[str, Any]:
    document = build_ob3_credential(issuance(serial=serial))
    document["madeUpRootTerm"] = "lost"
    document["credentialSubject"]["achievement"]["madeUpAchievementTerm"] = "lost too"
    document["credentialSubject"]["achievement"]["criteria"]["madeUpCriteriaTerm"] = {"nested": "x"}
    return document


def test_the_guard_reports_the_same_problems_from_a_memoised_achievement(monkeypatch) -> None:
    memo = NodeMemo()
    monkeypatch.setattr("tessera_credential.proofs.canon_oxigraph.NODE_MEMO", memo)
    reports = [check_signable(_with_undefined_terms(serial)) for serial in (1, 2, 3)]
    assert len(memo._nodes) == 1  # the second and third took the achievement's terms from the memo
    assert reports[0] == reports[1] == reports[2]  # the same problems, in the same order
    # as the whole document's parse finds them (no split below MIN_NODE_BYTES), and the reference engine
    monkeypatch.setattr("tessera_credential.proofs.node_memo.MIN_NODE_BYTES", 10**9)
    for reference in (
        check_signable(_with_undefined_terms(1)),
        check_signable(_with_undefined_terms(1), engine="pyld"),
    ):
        assert set(reference.problems) == set(reports[0].problems)
        assert set(reference.undefined_terms) == {
            "madeUpRootTerm",
            "madeUpAchievementTerm",
            "madeUpCriteriaTerm",
            "nested",
        }
    assert reports[0].undefined_terms[0] == "madeUpRootTerm"  # the document's own part first, then the achievement's


def _rubric_levels(levels: int) -> dict[str, Any]:
    """A credential whose achievement holds two identical result descriptions, each with ``levels``
    identical anonymous rubric levels: RDFC-1.0 permutes them, (levels!)**2 ways in the estimate."""
    document = build_ob3_credential(issuance())
    level = {"type": ["RubricCriterionLevel"], "name": "Pass", "level": "1"}
    description = {"type": ["ResultDescription"], "name": "Grade", "resultType": "RubricCriterionLevel",
                   "rubricCriterionLevel": [dict(level) for _ in range(levels)]}  # fmt: skip
    document["credentialSubject"]["achievement"]["resultDescription"] = [dict(description) for _ in range(2)]
    return document


@pytest.mark.parametrize("cap", [1, 5, 35, 36, 37, 100_000])
def test_the_complexity_cap_decides_alike_from_a_memoised_achievement(cap: int) -> None:
    memo = NodeMemo()
    document = _rubric_levels(3)
    decisions = []
    for quads in (
        _parse_whole(document, *STRICT),
        memo.parse(document, STRICT, Counting(STRICT), canonical_nquads),  # the shape's check
        memo.parse(document, STRICT, Counting(STRICT), canonical_nquads),  # from the memo
    ):
        try:
            decisions.append(canonical_nquads(quads, cap))
        except CanonicalizationTooComplexError:
            decisions.append(None)
    assert isinstance(quads, SplitQuads)
    assert decisions[0] == decisions[1] == decisions[2]
    assert (decisions[0] is None) == (cap < 36)


def test_signatures_known_for_a_disjoint_part_change_no_complexity_decision() -> None:
    # two parts parsed apart share no blank node, and may hold nodes of equal signatures across them
    rng = random.Random(7)
    for _ in range(60):
        parts = [_parse_whole(_random_blank_graph(rng), *STRICT) for _ in range(2)]
        grouped = [blank_node_quads(part) for part in parts]
        merged = {**grouped[0], **grouped[1]}
        known = first_degree_signatures(grouped[1])
        for cap in (1, 2, 6, 24, 120, 1000):
            decisions = []
            for signatures in (None, known):
                try:
                    check_grouped_blank_nodes(merged, cap, signatures)
                    decisions.append(True)
                except CanonicalizationTooComplexError:
                    decisions.append(False)
            assert decisions[0] == decisions[1]


def _random_blank_graph(rng: random.Random) -> dict[str, Any]:
    size = rng.randint(2, 6)
    vocab = {"@vocab": "https://example.org/vocab#"}
    return {"@context": vocab, "@graph": [
        {"@id": f"_:b{i}", rng.choice("pq"): [{"@id": f"_:b{j}"} for j in range(size) if rng.random() < 0.5]
         + ([rng.choice(["x", "y"])] if rng.random() < 0.5 else [])}
        for i in range(size)
    ]}  # fmt: skip


def test_verification_keeps_the_split_without_the_proofs() -> None:
    memo_quads = NodeMemo().parse(signed_credential(), STRICT, Counting(STRICT), canonical_nquads)
    assert isinstance(memo_quads, SplitQuads)
    kept = _without_root_proofs(memo_quads, len(signed_credential()["proof"]))
    assert isinstance(kept, SplitQuads) and kept.node is memo_quads.node
    unsigned = {k: v for k, v in signed_credential().items() if k != "proof"}
    assert canonical_nquads(kept) == whole(unsigned)


def test_the_split_quads_are_never_changed_in_place() -> None:
    memo = NodeMemo()
    document = build_ob3_credential(issuance())
    memo.parse(document, STRICT, Counting(STRICT), canonical_nquads)
    quads = memo.parse(document, STRICT, Counting(STRICT), canonical_nquads)
    assert isinstance(quads, SplitQuads)
    for change in (
        lambda q: q.append(q[0]),
        lambda q: q.extend(q[:1]),
        lambda q: q.pop(),
        lambda q: q.sort(),
        lambda q: q.__setitem__(0, q[1]),
        lambda q: q.__delitem__(0),
        lambda q: q.__iadd__(q[:1]),
    ):
        with pytest.raises(TypeError):
            change(quads)
    assert len(quads) == quads.own_count + len(quads.node.quads)
    assert type(quads[:]) is list and type(quads + quads[:1]) is list  # copies are whole documents


def test_an_achievement_with_many_blank_nodes_keeps_no_derivations(monkeypatch) -> None:
    # untrusted documents reach the memo: what is derived per kept achievement is bounded too
    monkeypatch.setattr("tessera_credential.proofs.node_memo.MAX_DERIVED_BLANK_QUADS", 1)
    memo = NodeMemo()
    document = build_ob3_credential(issuance())
    for _ in range(2):
        quads = memo.parse(document, STRICT, Counting(STRICT), canonical_nquads)
        assert canonical_nquads(quads) == whole(document)
    assert isinstance(quads, SplitQuads) and not quads.node.keeps and not quads.node._derived


def test_tessera_s_own_achievement_keeps_its_derivations() -> None:
    memo = NodeMemo()
    document = build_ob3_credential(issuance())
    memo.parse(document, STRICT, Counting(STRICT), canonical_nquads)
    quads = memo.parse(document, STRICT, Counting(STRICT), canonical_nquads)
    assert isinstance(quads, SplitQuads) and quads.node.keeps
