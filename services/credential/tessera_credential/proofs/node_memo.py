"""The achievement of an Open Badge parsed to RDF once, not once per credential.

Why: JSON-LD -> RDF is the largest cost of signing and of verifying a Tessera credential (2.2 of
its ~4 CPU-ms), and two thirds of a credential's quads describe its achievement — the
micro-credential's criteria, alignments and result descriptions — which every credential of one
micro-credential version carries byte for byte.

How: a document ``{..., "credentialSubject": {..., "achievement": {"id": X, ...}}}`` gives the same
RDF as the document with the achievement replaced by the reference ``{"id": X}`` plus the
achievement parsed as a document of its own (with the root's ``@context``), provided the
achievement sees the same active context in both places. The second part is memoised by its exact
bytes and the parse's options; blank nodes of a parse get fresh random labels, so the two parts
never share one by accident.

When the two give the same RDF depends mostly on the contexts: whether the terms on the path
(``credentialSubject``, ``achievement``) are defined by the root's and the subject's types, with no
property-scoped or propagated context on the way. So for each *shape* — root contexts, root types,
subject types, parse options — the first document is parsed both ways and compared (canonical
N-Quads); the split is used for that shape only if they were equal. The few ways the data itself
could make them differ, which no per-shape check can see, are excluded outright: a document with
an ``@context`` anywhere but its root (an embedded context on the path would change the
achievement's active context), with explicit blank node labels (``_:x`` in two parts names one
node in the whole document, two in the split) or whose achievement id is not an absolute
``scheme://`` IRI (see ``_ABSOLUTE``) is parsed whole, as is anything not shaped like an Open Badge.

What is worked out from an achievement's quads alone is kept with them too (:class:`MemoNode`): the
guard's distinct terms (guard.py) and the blank-node grouping and first-degree signatures of the
complexity estimate (complexity.py). The parse returns :class:`SplitQuads`, the document's own
quads first and then the achievement's, so that those steps go over the document's own quads and
take the achievement's part from the memo.

Untrusted documents (verification) reach the memo before their signatures are checked, so what it
keeps is bounded by size, not by trust: at most ``MEMO_SIZE`` achievements of at most
``MAX_NODE_QUADS`` quads and ``MAX_NODE_TEXT`` characters each (a few MB in all; their
derivations only for up to ``MAX_DERIVED_BLANK_QUADS`` quads with a blank node), and
``MAX_SHAPES`` verdicts, least recently used first out.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pyoxigraph as ox
import structlog

log = structlog.get_logger(__name__)

MIN_NODE_BYTES = 1024  # smaller achievements are not worth a second parse
MAX_NODE_BYTES = 64 * 1024  # a Tessera achievement is ~8 KB; larger ones are parsed with their credential
MAX_NODE_QUADS = 2_000  # a kept achievement's quads (Tessera's: ~200) ...
MAX_NODE_TEXT = 512 * 1024  # ... and their N-Quads characters: what bounds the memo's memory
MEMO_SIZE = 64  # achievements kept per process: a consortium's micro-credential versions in use
MAX_DERIVED_BLANK_QUADS = 500  # a kept achievement's derivations, only up to this (Tessera's joint one: 155)
MAX_SHAPES = 32  # shapes remembered per process, least recently used first out: a verifier's shapes are
# few, and an attacker's made-up types only cost their own requests the check, never a shape in use
# (untrusted documents reach this memo before their signatures are checked)

# An id that is an absolute IRI with an authority ("scheme://..."): JSON-LD leaves it as it is in any
# active context (IRI expansion, "suffix begins with //"). The reference {"id": X} keeps the subject's
# type-scoped context where the achievement node itself drops it, so any other id (a compact IRI, a
# relative IRI, a keyword-like "@x") could expand differently in the two places.
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

Parse = Callable[[Any], list[ox.Quad]]
T = TypeVar("T")


class MemoNode:
    """A memoised achievement: its quads and what later steps derive from them alone (computed once,
    on first use; a race computes the same value twice, harmlessly). Kept only for an achievement
    of at most :data:`MAX_DERIVED_BLANK_QUADS` quads with a blank node: the derivations grow with
    those (a tuple, labels and a signature each), and untrusted documents reach the memo; a larger
    one's are computed for each document, as before."""

    __slots__ = ("_derived", "keeps", "quads")

    def __init__(self, quads: list[ox.Quad]) -> None:
        self.quads = quads
        self._derived: dict[str, Any] = {}
        blank = sum(1 for q in quads if type(q.subject) is ox.BlankNode or type(q.object) is ox.BlankNode)
        self.keeps = blank <= MAX_DERIVED_BLANK_QUADS

    def derived(self, name: str, compute: Callable[[list[ox.Quad]], T]) -> T:
        """``compute(self.quads)``, once per ``name`` (each caller names its own derivation)."""
        try:
            value: T = self._derived[name]
        except KeyError:
            value = compute(self.quads)
            if self.keeps:
                self._derived[name] = value
        return value


class SplitQuads(list[ox.Quad]):
    """A document's quads as the memo gives them: the first ``own_count`` are the document's own (its
    achievement a reference), the rest are ``node.quads``, the memoised achievement's. As a list,
    exactly the quads of the whole document (the per-shape check proves it); the two parts share
    no blank node (each parse labels its blank nodes afresh). Never changed in place (that raises):
    ``own_count`` and ``node`` must go on describing it; a copy (slice, ``+``, ``list()``) is a
    plain list, taken as a whole document."""

    __slots__ = ("node", "own_count")

    def __init__(self, own: list[ox.Quad], node: MemoNode) -> None:
        list.__init__(self, own)
        list.extend(self, node.quads)
        self.node = node
        self.own_count = len(own)

    def _unchangeable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("the quads of a split document are not changed in place; copy them")

    append = extend = insert = remove = pop = clear = sort = reverse = _unchangeable
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _unchangeable

    def own(self) -> list[ox.Quad]:
        return self[: self.own_count]


def memo_node(quads: list[ox.Quad]) -> tuple[list[ox.Quad], MemoNode | None]:
    """(the quads of the document's own part, its memoised achievement) — (all quads, None) for a
    document parsed whole."""
    if isinstance(quads, SplitQuads):
        return quads.own(), quads.node
    return quads, None


class NodeMemo:
    """Parsed achievements by their bytes, and each shape's verdict, per process (thread-safe)."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self.size = size
        self._nodes: OrderedDict[tuple[Any, ...], MemoNode] = OrderedDict()
        self._verdicts: OrderedDict[tuple[Any, ...], bool] = OrderedDict()
        self._lock = threading.Lock()

    def parse(
        self, document: Any, options: tuple[Any, ...], parse: Parse, canonical: Callable[[list[ox.Quad]], str]
    ) -> list[ox.Quad]:
        """The quads of ``document`` as ``parse`` gives them (``options`` name how it parses)."""
        found = _split(document)
        if found is None:
            return parse(document)
        rest, node, node_bytes, shape = found
        shape += options
        with self._lock:
            verdict = self._verdicts.get(shape)
            if verdict is not None:
                self._verdicts.move_to_end(shape)
        if verdict is False:
            return parse(document)
        key = (node_bytes, shape)
        with self._lock:
            kept = self._nodes.get(key)
            if kept is not None:
                self._nodes.move_to_end(key)
        memoised = kept if kept is not None else MemoNode(parse(node))
        node_quads = memoised.quads
        quads = SplitQuads(parse(rest), memoised)
        if verdict is None:  # a new shape: the split must give exactly what the whole document gives
            whole = parse(document)
            try:
                same = canonical(whole) == canonical(quads)
            except Exception:  # e.g. a complexity cap: this document decides nothing about its shape
                return whole
            with self._lock:
                self._verdicts[shape] = same
                while len(self._verdicts) > MAX_SHAPES:
                    self._verdicts.popitem(last=False)
            if not same:
                log.info("achievements of this shape are parsed with their credentials", shape=str(shape)[:300])
                return whole
        if kept is None and len(node_quads) <= MAX_NODE_QUADS and sum(len(str(q)) for q in node_quads) <= MAX_NODE_TEXT:
            with self._lock:
                self._nodes[key] = memoised
                self._nodes.move_to_end(key)
                while len(self._nodes) > self.size:
                    self._nodes.popitem(last=False)
        return quads


def _split(document: Any) -> tuple[dict[str, Any], dict[str, Any], bytes, tuple[Any, ...]] | None:
    """(the document with a reference for its achievement, the achievement as a document of its own,
    the achievement's bytes, the shape), or None when the document is to be parsed whole."""
    if not isinstance(document, dict):
        return None
    context = document.get("@context")
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict) or not _urls(context):
        return None
    node = subject.get("achievement")
    if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not _ABSOLUTE.match(node["id"]):
        return None
    try:
        whole = orjson.dumps(document)
        node_bytes = orjson.dumps(node)
    except TypeError:  # numbers beyond 64 bits: the parser's own fallback handles the whole document
        return None
    if not MIN_NODE_BYTES <= len(node_bytes) <= MAX_NODE_BYTES:
        return None
    if whole.count(b'"@context"') != 1 or b'"_:' in whole:
        return None
    rest = dict(document)
    rest["credentialSubject"] = {**subject, "achievement": {"id": node["id"]}}
    types = (_types(document.get("type")), _types(subject.get("type")), _types(node.get("type")))
    if None in types:
        return None
    shape = (context if isinstance(context, str) else tuple(context or ()), *types)
    return rest, {"@context": context, **node}, node_bytes, shape


def _urls(context: Any) -> bool:
    if isinstance(context, str):
        return True
    return isinstance(context, list) and bool(context) and all(isinstance(c, str) for c in context)


def _types(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None
