"""The enrolment consumer applies a batch of events in one upsert after folding them per enrolment
(``enrolment_views.folded``): the fold must leave what applying the events one by one would."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tessera_assessment.adapters.enrolment_views import ENROLMENT_STATUS_RANK, EnrolmentFact, folded

pytestmark = pytest.mark.unit

Row = tuple[str, str, int]  # learner, status, rank


def one_by_one(table: dict[str, Row], facts: list[EnrolmentFact]) -> dict[str, Row]:
    """The upsert, one event at a time: insert, or move the status only to a higher rank."""
    table = dict(table)
    for f in facts:
        row = table.get(f.enrolment_id)
        if row is None:
            table[f.enrolment_id] = (f.learner_id, f.status, f.rank)
        elif row[2] < f.rank:
            table[f.enrolment_id] = (row[0], f.status, f.rank)
    return table


def fact(enrolment: str, status: str, learner: str | None = None) -> EnrolmentFact:
    return EnrolmentFact(enrolment, learner or f"l-{enrolment}", "OFF", "mc", 1, status)


facts = st.lists(
    st.builds(fact, st.sampled_from(["e1", "e2", "e3"]), st.sampled_from(sorted(ENROLMENT_STATUS_RANK))),
    max_size=12,
)
existing = st.dictionaries(
    st.sampled_from(["e1", "e2"]),
    st.sampled_from(sorted(ENROLMENT_STATUS_RANK)).map(lambda s: ("l-old", s, ENROLMENT_STATUS_RANK[s])),
)


@given(existing, facts)
def test_the_fold_leaves_what_one_event_at_a_time_leaves(table: dict[str, Row], batch: list[EnrolmentFact]) -> None:
    rows = folded(batch)
    assert len({r.enrolment_id for r in rows}) == len(rows)  # an upsert may touch a row once
    assert one_by_one(table, rows) == one_by_one(table, batch)


def test_equal_ranks_keep_the_first_status_and_the_first_event_names_the_row() -> None:
    rows = folded(
        [
            fact("e1", "waitlisted", "first"),
            fact("e1", "requested", "second"),
            fact("e2", "cancelled"),
            fact("e2", "withdrawn"),
            fact("e2", "admitted"),
        ]
    )
    assert [(r.enrolment_id, r.learner_id, r.status) for r in rows] == [
        ("e1", "first", "waitlisted"),
        ("e2", "l-e2", "cancelled"),
    ]
