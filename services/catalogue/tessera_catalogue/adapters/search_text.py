"""Free-text search: PostgreSQL full-text search with the ``simple`` configuration over accent-folded
text, matched by word prefixes.

Why this design: a programme is described in several languages at once, so one stemming dictionary
(``english``, ``dutch`` ...) would stem the other languages' words wrongly; ``simple`` does no
stemming, and matching every query word as a prefix (``ethic:*``) covers plurals and compounds'
beginnings in every language. Accents are folded in Python (``Universität`` = ``universitat``) on both
sides, so no extension (``unaccent``, ``pg_trgm``) is needed on the server. Title words weigh most
(A), then description, outcomes and components (B), then partners, field and ids (C); results are
ranked with ``ts_rank``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from tessera_shared.contract.catalogue import MicroCredentialDefinition

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_WORDS = 12


def fold(text: str) -> str:
    """Lower-case without diacritics: ``Éthique`` -> ``ethique``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def prefix_query(text: str) -> str | None:
    """A ``to_tsquery('simple', …)`` string requiring every word of ``text`` as a prefix; None when
    ``text`` has no word. Only letters and digits reach the query, so it cannot be malformed."""
    found = list(dict.fromkeys(words(text)))[:MAX_QUERY_WORDS]
    return " & ".join(f"{w}:*" for w in found) or None


def _texts(values: Iterable[Mapping[str, str] | None]) -> str:
    return " ".join(text for value in values if value for text in value.values())


def document(definition: MicroCredentialDefinition, micro_credential_id: str) -> tuple[str, str, str]:
    """The folded text of a published version by weight: (A, B, C)."""
    a = _texts([definition.title])
    b = " ".join(
        [
            _texts([definition.description]),
            _texts(o.text for o in definition.learning_outcomes),
            _texts(c.title for c in definition.components),
            " ".join(c.code for c in definition.components),
        ]
    )
    c = " ".join(
        [
            _texts(p.name for p in definition.partners),
            " ".join(p.institution_id for p in definition.partners),
            definition.isced_field,
            micro_credential_id,
        ]
    )
    return " ".join(words(a)), " ".join(words(b)), " ".join(words(c))
