"""An Open Badge's achievement parsed once per process (proofs/node_memo.py): the split parse gives
exactly the RDF of the whole document, is used only for shapes where it was seen to, never for
documents whose data could make it differ, and a changed achievement is a different memo entry."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tessera_credential.documents import build_ob3_credential
from tessera_credential.proofs import DEFAULT_LOADER
from tessera_credential.proofs.canon_oxigraph import _parse_whole, canonical_nquads
from tessera_credential.proofs.guard import RELATIVE_BASE, add_sentinel_vocab
from tessera_credential.proofs.node_memo import NodeMemo, _split
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
    assert next(iter(memo._verdicts.values())) is True and len(memo._quads) == 1


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
    assert len(memo._quads) == 1  # the memo now holds this achievement
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
    assert list(memo._verdicts.values()) == [False] and not memo._quads
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
    assert not memo._verdicts and not memo._quads  # the next document of the shape is checked again


def test_an_achievement_too_large_to_keep_is_parsed_for_each_credential(monkeypatch) -> None:
    monkeypatch.setattr("tessera_credential.proofs.node_memo.MAX_NODE_QUADS", 50)  # Tessera's has ~200
    memo = NodeMemo()
    for n in (1, 2):
        document = build_ob3_credential(issuance(serial=n))
        assert canonical(memo, document) == whole(document)
    assert not memo._quads and list(memo._verdicts.values()) == [True]


def test_the_memo_keeps_a_bounded_number_of_achievements() -> None:
    memo = NodeMemo(size=2)
    for n in range(4):
        document = build_ob3_credential(issuance(definition=definition(True, title={"en": f"Data literacy {n}"})))
        assert canonical(memo, document) == whole(document)
    assert len(memo._quads) == 2
