"""Bulk upload formats: CSV and JSON into numbered raw rows (docs/assessment.md, "Bulk upload").

* CSV: UTF-8 (a BOM is ignored), a header row naming the columns in any order, delimiter ``,``,
  ``;`` or tab (whichever the header uses — spreadsheets in much of Europe write ``;``), quotes as
  in RFC 4180. ``line`` is the physical line on which a row starts (the header is line 1); blank
  lines are skipped.
* JSON: ``{"results": [{...}, ...]}``; ``line`` is the 1-based position in ``results``.

Problems with the file as a whole (not UTF-8, not JSON, unknown or missing columns) are a 422 for
the whole upload; problems with one row are row errors for the report. Values stay raw here; the
application validates them.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import orjson

from tessera_shared.kernel.aggregate import DomainError

COLUMNS = ("learner_id", "component_code", "attempt", "grade", "scheme_id", "assessed_on", "remarks")
REQUIRED = ("learner_id", "component_code", "attempt", "grade")  # assessed_on may come from the query
FORMATS = {"text/csv": "csv", "application/json": "json"}


class UploadTooLarge(DomainError):
    status = 413


@dataclass(frozen=True)
class RawRow:
    line: int
    values: dict[str, Any]


@dataclass(frozen=True)
class RowError:
    line: int
    field: str | None
    code: str
    reason: str
    value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "code": self.code, "reason": self.reason, "value": self.value}


@dataclass
class Parsed:
    rows: list[RawRow]
    errors: list[RowError]  # one per row that cannot be a row at all


def parse(fmt: str, body: bytes, *, max_rows: int) -> Parsed:
    return parse_csv(body, max_rows=max_rows) if fmt == "csv" else parse_json(body, max_rows=max_rows)


def _too_many(max_rows: int) -> UploadTooLarge:
    return UploadTooLarge(f"the upload has more than {max_rows} rows; split it into several uploads", field="body")


def parse_csv(body: bytes, *, max_rows: int) -> Parsed:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body[: exc.start].count(b"\n") + 1
        raise DomainError(f"line {line}: the CSV is not UTF-8 ({exc.reason})", field="body") from None
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DomainError(f"line 1: the header cannot be read: {exc}", field="body") from None
    if header is None or not any(cell.strip() for cell in header):
        raise DomainError("the CSV is empty: line 1 must name the columns", field="body")
    names = [cell.strip().lower() for cell in header]
    for name in names:
        if name not in COLUMNS:
            raise DomainError(
                f"line 1: unknown column {name!r}; the columns are {', '.join(COLUMNS)}", field=name or "body"
            )
        if names.count(name) > 1:
            raise DomainError(f"line 1: column {name!r} appears twice", field=name)
    for name in REQUIRED:
        if name not in names:
            raise DomainError(f"line 1: required column {name!r} is missing", field=name)
    parsed = Parsed([], [])
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(parsed.rows) + len(parsed.errors) >= max_rows:
                raise _too_many(max_rows)
            if len(cells) > len(names):
                parsed.errors.append(
                    RowError(line, None, "format", f"the row has {len(cells)} fields; the header names {len(names)}")
                )
                continue
            parsed.rows.append(RawRow(line, dict(zip(names, cells, strict=False))))
    except csv.Error as exc:
        raise DomainError(f"line {start}: the CSV cannot be read: {exc}", field="body") from None
    return parsed


def parse_json(body: bytes, *, max_rows: int) -> Parsed:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise DomainError(f"the body is not JSON: {exc}", field="body") from None
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        raise DomainError('the body must be a JSON object {"results": [...]}', field="results")
    extra = sorted(set(document) - {"results"})
    if extra:
        raise DomainError(f"unknown field {extra[0]!r}; the body has only 'results'", field=extra[0])
    items: list[Any] = document["results"]
    if len(items) > max_rows:
        raise _too_many(max_rows)
    parsed = Parsed([], [])
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            parsed.errors.append(RowError(index, None, "format", "a result must be a JSON object"))
            continue
        unknown = sorted(set(item) - set(COLUMNS))
        if unknown:
            parsed.errors.append(
                RowError(index, unknown[0], "unknown_field", f"unknown field; the fields are {', '.join(COLUMNS)}")
            )
            continue
        parsed.rows.append(RawRow(index, item))
    return parsed
