"""What one recording command needs, loaded in one query: the offering with its version's
components, the teaching institutions' grading schemes, the learner's enrolments in the offering
and the record (the learner's events on the component).

Everything here can change (an offering is cancelled, an institution changes its schemes, an
enrolment moves on, a concurrent command appends), so nothing is cached: one round trip gives a
consistent picture of all of it, where loading it piece by piece took five.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tessera_assessment.adapters.catalogue_views import OFFERING_COLUMNS, OFFERING_JOINS, OfferingInfo, offering_of
from tessera_assessment.adapters.enrolment_views import decisive_statuses
from tessera_assessment.adapters.records import HISTORY_OF, record_of
from tessera_assessment.domain.result import ComponentResults
from tessera_shared.kernel.db import Conn

_SCHEMES = """(SELECT json_object_agg(i.institution_id, i.grading_scheme_ids)::text
               FROM institutions i WHERE i.institution_id = ANY(c.teachers)) AS schemes"""

_FOR_LEARNER = f"""
    SELECT {OFFERING_COLUMNS}, {_SCHEMES},
           ARRAY(SELECT e.status FROM enrolments e
                 WHERE e.offering_id = o.offering_id AND e.learner_id = $2 ORDER BY e.enrolment_id) AS statuses,
           ARRAY(SELECT e.status_rank FROM enrolments e
                 WHERE e.offering_id = o.offering_id AND e.learner_id = $2 ORDER BY e.enrolment_id) AS ranks,
           {HISTORY_OF.format(stream_id="$3")} AS history
    FROM offerings o {OFFERING_JOINS}
    WHERE o.offering_id = $1"""

_FOR_RESULT = f"""
    SELECT r.stream_id, {OFFERING_COLUMNS}, {_SCHEMES}, {HISTORY_OF.format(stream_id="r.stream_id")} AS history
    FROM results r LEFT JOIN offerings o ON o.offering_id = r.offering_id {OFFERING_JOINS}
    WHERE r.result_id = $1"""


@dataclass
class Loaded:
    """The offering (``None`` while unknown), the schemes its teaching institutions declared, the
    deciding enrolment status per learner, and the record."""

    offering: OfferingInfo | None
    record: ComponentResults
    schemes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    enrolments: dict[str, str] = field(default_factory=dict)


def _schemes(row: Any) -> dict[str, tuple[str, ...]]:
    declared: dict[str, list[str]] = orjson.loads(row["schemes"]) if row["schemes"] else {}
    return {institution: tuple(ids) for institution, ids in declared.items()}


async def for_learner(conn: Conn, offering_id: str, learner_id: str, stream_id: str) -> Loaded:
    """For a new result or attendance of ``learner_id`` in the offering, on record ``stream_id``."""
    row = await conn.fetchrow(_FOR_LEARNER, offering_id, learner_id, stream_id)
    offering = offering_of(row)
    if row is None or offering is None:
        return Loaded(None, ComponentResults(stream_id))
    return Loaded(
        offering,
        record_of(stream_id, row["history"]),
        _schemes(row),
        decisive_statuses((learner_id, s, r) for s, r in zip(row["statuses"], row["ranks"], strict=True)),
    )


async def for_result(conn: Conn, result_id: str) -> Loaded | None:
    """For a change to result ``result_id`` (its record and offering); ``None`` if there is no such
    result."""
    row = await conn.fetchrow(_FOR_RESULT, result_id)
    if row is None:
        return None
    return Loaded(offering_of(row), record_of(row["stream_id"], row["history"]), _schemes(row))
