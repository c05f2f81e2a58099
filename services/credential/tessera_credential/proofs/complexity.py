"""Refuse RDFC-1.0 inputs whose blank-node symmetry makes canonicalization exponential.

Why: RDFC-1.0 permutes groups of indistinguishable blank nodes ("Hash N-Degree Quads"). Neither
pyld nor pyoxigraph bounds that work: two identical anonymous objects that each hold nine
identical anonymous children (a 500-byte JSON-LD document) take ~17 s in pyoxigraph and far
longer in pyld; a 7-node blank-node clique takes 0.5 s. The RDFC-1.0 spec asks implementations
to guard against such "poison" datasets; this is that guard, run before canonicalizing.

The estimate mirrors the algorithm: nodes whose first-degree hash is unique get their canonical
id without N-degree hashing; for every other node, each group of related, still-unlabelled
blank nodes that share (position, predicate, first-degree signature) is permuted, so the work is
bounded by the product of the groups' factorials.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from math import factorial

from .errors import CanonicalizationTooComplexError

Quad = tuple[str, str, str, str]  # subject, predicate, object, graph; blank nodes start with "_:"
DEFAULT_MAX_PERMUTATIONS = 100_000
_POSITIONS = (0, 2, 3)
_SELF, _OTHER = "_:a", "_:z"  # the labels of 'Hash First Degree Quads'
Signature = frozenset[tuple[Hashable, ...]]


def check_blank_node_complexity(quads: Iterable[Quad], max_permutations: int = DEFAULT_MAX_PERMUTATIONS) -> None:
    """Raise `CanonicalizationTooComplexError` if the estimated permutation work exceeds the cap."""
    quads_of: dict[str, list[Quad]] = defaultdict(list)
    for quad in quads:
        for pos in _POSITIONS:
            if quad[pos].startswith("_:"):
                quads_of[quad[pos]].append(quad)
    check_grouped_blank_nodes(quads_of, max_permutations)


def check_grouped_blank_nodes(
    quads_of: Mapping[str, Sequence[Sequence[Hashable]]],
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
    signatures: Mapping[str, Signature] | None = None,
) -> None:
    """`check_blank_node_complexity` on quads already grouped by blank node: `quads_of` maps every
    blank node found in subject, object or graph position (a `str` label) to the quads (4-sequences
    of hashable terms, equal iff the RDF terms are) holding it there, so a term is a blank node iff
    it is a `str` and a key.

    Why this form: the pyoxigraph path groups its quads without stringifying every term (the terms'
    own equality is RDF term equality, as that of their N-Quads strings is), at a third of the cost.

    ``signatures``: the first-degree signatures of some of the blank nodes, already known — those
    of a part of the dataset that shares no blank node with the rest (:func:`first_degree_signatures`
    of that part alone gives them), e.g. a memoised achievement's (node_memo.py).
    """
    if not quads_of:
        return
    signature = dict(signatures or {})
    for node, qs in quads_of.items():
        if node not in signature:
            signature[node] = _first_degree_signature(node, qs, quads_of)
    class_size = Counter(signature.values())
    ambiguous = {node for node, sig in signature.items() if class_size[sig] > 1}
    work = 1
    for node in ambiguous:
        groups: Counter[tuple[int, Hashable, Signature]] = Counter()
        for quad in set(map(tuple, quads_of[node])):
            for pos in _POSITIONS:
                other = quad[pos]
                if other != node and other in ambiguous:
                    groups[(pos, quad[1], signature[other])] += 1
        for size in groups.values():
            work *= factorial(min(size, 20))  # 20! already exceeds any sensible cap
            if work > max_permutations:
                raise CanonicalizationTooComplexError(
                    f"blank-node structure needs more than {max_permutations} RDFC-1.0 permutations "
                    "(many indistinguishable anonymous objects); refusing to canonicalize"
                )


def first_degree_signatures(quads_of: Mapping[str, Sequence[Sequence[Hashable]]]) -> dict[str, Signature]:
    """Each blank node's first-degree signature (``quads_of`` as :func:`check_grouped_blank_nodes` takes it)."""
    return {node: _first_degree_signature(node, qs, quads_of) for node, qs in quads_of.items()}


def _first_degree_signature(node: str, quads: Sequence[Sequence[Hashable]], blank: Mapping[str, object]) -> Signature:
    """The quads RDFC-1.0 hashes in 'Hash First Degree Quads' (node -> _:a, other blanks -> _:z),
    as a set: equal sets, equal hashes (the sorted N-Quads RDFC-1.0 hashes are a function of it)."""
    # Blank nodes are `str` labels in both forms: other terms (pyoxigraph objects) skip the lookups.
    return frozenset(
        tuple((_SELF if term == node else _OTHER) if type(term) is str and term in blank else term for term in quad)
        for quad in quads
    )
