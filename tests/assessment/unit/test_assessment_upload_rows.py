"""Bulk upload formats and row syntax, without servers: line numbers, dialects, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from tessera_assessment.adapters.upload_formats import RawRow, UploadTooLarge, parse_csv, parse_json
from tessera_assessment.application.bulk import Defaults, coerce_row, digest_of
from tessera_assessment.application.rules import ResultInput
from tessera_shared.kernel.aggregate import DomainError

pytestmark = pytest.mark.unit

HEADER = b"learner_id,component_code,attempt,grade,assessed_on,remarks\n"


def test_csv_lines_are_physical_lines_where_rows_start() -> None:
    body = HEADER + b'l-1,C1,1,14,2026-01-20,"two\nlines"\n\nl-2,C1,1,12,2026-01-20,\n'
    parsed = parse_csv(body, max_rows=10)
    assert [(r.line, r.values["learner_id"], r.values["remarks"]) for r in parsed.rows] == [
        (2, "l-1", "two\nlines"),
        (5, "l-2", ""),
    ]


def test_csv_dialects_header_case_bom_and_missing_trailing_cells() -> None:
    body = "\ufeffLearner_ID;Component_Code;Attempt;Grade\r\nl-1;C1;1;7,5\r\nl-2;C1;2\r\n".encode()
    parsed = parse_csv(body, max_rows=10)
    assert [r.values for r in parsed.rows] == [
        {"learner_id": "l-1", "component_code": "C1", "attempt": "1", "grade": "7,5"},
        {"learner_id": "l-2", "component_code": "C1", "attempt": "2"},
    ]
    tabbed = parse_csv(b"learner_id\tcomponent_code\tattempt\tgrade\nl-1\tC1\t1\t14\n", max_rows=10)
    assert tabbed.rows[0].values["grade"] == "14"


def test_csv_row_with_too_many_fields_is_a_row_error() -> None:
    parsed = parse_csv(HEADER + b"l-1,C1,1,14,2026-01-20,,extra\n", max_rows=10)
    assert parsed.rows == []
    assert [(e.line, e.field, e.code) for e in parsed.errors] == [(2, None, "format")]


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        (b"", "body", 422),
        (b"learner_id,component_code,attempt,grade,colour\n", "colour", 422),
        (b"learner_id,learner_id,component_code,attempt,grade\n", "learner_id", 422),
        (b"learner_id,component_code,grade\n", "attempt", 422),
        (b"learner_id,component_code,attempt,grade\n\xe9\n", "body", 422),
        (HEADER + b'l-1,C1,1,"14\n', "body", 422),  # an unterminated quote
        (HEADER + b"l,C,1,1,2026-01-01,\n" * 4, "body", 413),
    ],
)
def test_csv_problems_of_the_whole_file(body: bytes, field: str, status: int) -> None:
    with pytest.raises(DomainError) as caught:
        parse_csv(body, max_rows=3)
    assert (caught.value.field, caught.value.status) == (field, status)


def test_json_shape_and_row_problems() -> None:
    parsed = parse_json(b'{"results": [{"learner_id": "l-1"}, 3, {"grade": "1", "mark": 2}]}', max_rows=5)
    assert [(r.line, r.values) for r in parsed.rows] == [(1, {"learner_id": "l-1"})]
    assert [(e.line, e.field, e.code) for e in parsed.errors] == [(2, None, "format"), (3, "mark", "unknown_field")]
    for body, field in [(b"[1]", "results"), (b'{"results": {}}', "results"), (b"nope", "body")]:
        with pytest.raises(DomainError) as caught:
            parse_json(body, max_rows=5)
        assert caught.value.field == field
    with pytest.raises(DomainError) as extra:
        parse_json(b'{"results": [], "session": 1}', max_rows=5)
    assert extra.value.field == "session"
    with pytest.raises(UploadTooLarge):
        parse_json(b'{"results": [{}, {}, {}]}', max_rows=2)


def raw(**values: object) -> RawRow:
    base = {"learner_id": "l-1", "component_code": "C1", "attempt": "1", "grade": "14", "assessed_on": "2026-01-20"}
    return RawRow(7, {**base, **values})


def test_rows_become_inputs_with_defaults_from_the_query() -> None:
    assert coerce_row(raw(remarks="  ok "), Defaults()) == ResultInput(
        "l-1", "C1", 1, "14", None, date(2026, 1, 20), "ok"
    )
    defaults = Defaults(scheme_id="nl-1-10", assessed_on=date(2026, 6, 1))
    row = coerce_row(raw(assessed_on="", scheme_id=None, grade=7.5, attempt=2), defaults)
    assert row == ResultInput("l-1", "C1", 2, "7.5", "nl-1-10", date(2026, 6, 1), None)
    assert coerce_row(raw(scheme_id="ects-letter"), defaults).scheme_id == "ects-letter"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        ({"learner_id": " "}, [("learner_id", "required")]),
        ({"learner_id": "x" * 201}, [("learner_id", "format")]),
        ({"component_code": "a b"}, [("component_code", "format")]),
        ({"attempt": "1.0"}, [("attempt", "format")]),
        ({"attempt": "0"}, [("attempt", "format")]),
        ({"attempt": True}, [("attempt", "format")]),
        ({"attempt": "²"}, [("attempt", "format")]),
        ({"assessed_on": "2026-W03-2"}, [("assessed_on", "format")]),
        ({"grade": None}, [("grade", "required")]),
        ({"assessed_on": "20/01/2026"}, [("assessed_on", "format")]),
        ({"assessed_on": "20260120"}, [("assessed_on", "format")]),
        ({"assessed_on": None}, [("assessed_on", "required")]),
        ({"remarks": "x" * 2001}, [("remarks", "format")]),
        ({"learner_id": "l-\x00"}, [("learner_id", "format")]),
        ({"grade": {"value": 1}}, [("grade", "format")]),
        (
            {"learner_id": "", "attempt": "x", "grade": ""},
            [("learner_id", "required"), ("attempt", "format"), ("grade", "required")],
        ),
    ],
)
def test_row_syntax_problems_name_line_field_and_code(
    values: dict[str, object], problems: list[tuple[str, str]]
) -> None:
    errors = coerce_row(raw(**values), Defaults())
    assert isinstance(errors, list)
    assert [(e.field, e.code) for e in errors] == problems
    assert all(e.line == 7 and e.reason for e in errors)


def test_the_idempotency_digest_covers_offering_format_defaults_and_body() -> None:
    base = digest_of("O1", "csv", Defaults(), b"x")
    assert base == digest_of("O1", "csv", Defaults(), b"x")
    assert (
        len(
            {
                base,
                digest_of("O2", "csv", Defaults(), b"x"),
                digest_of("O1", "json", Defaults(), b"x"),
                digest_of("O1", "csv", Defaults(scheme_id="nl-1-10"), b"x"),
                digest_of("O1", "csv", Defaults(assessed_on=date(2026, 1, 1)), b"x"),
                digest_of("O1", "csv", Defaults(), b"y"),
            }
        )
        == 6
    )
