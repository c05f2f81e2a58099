"""SQL over the read models for the public catalogue API (never used by commands)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import asyncpg

from tessera_catalogue.adapters.search_text import prefix_query
from tessera_shared.kernel.db import Conn

CURRENT = ("scheduled", "open", "closed", "running")
Sort = Literal["relevance", "title", "-title", "ects", "-ects", "published", "-published"]


class _Sql:
    """Collects WHERE clauses with numbered parameters."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: list[Any] = []

    def p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def add(self, clause: str) -> None:
        self.where.append(clause)

    @property
    def condition(self) -> str:
        return " AND ".join(self.where) or "true"


@dataclass(frozen=True)
class SearchFilters:
    q: str | None = None
    field: str | None = None  # ISCED-F code or prefix (06 matches 0613)
    ects_min: Decimal | None = None
    ects_max: Decimal | None = None
    eqf: int | None = None
    language: str | None = None  # primary language (nl matches nl-BE)
    mode: str | None = None
    evening: bool | None = None
    distance: bool | None = None
    institution: str | None = None  # a partner in any role
    role: str | None = None  # with institution: only partners in this role
    academic_year: str | None = None  # has an offering in this academic year ...
    semester: str | None = None  # ... running in this period (first, second, full_year)
    open: bool | None = None  # True: has an offering open for enrolment today
    include_retired: bool = False


def _offering_exists(sql: _Sql, f: SearchFilters, today: date) -> str | None:
    parts = ["o.micro_credential_id = s.micro_credential_id", "o.status <> 'cancelled'"]
    if f.academic_year:
        parts.append(f"o.academic_year = {sql.p(f.academic_year)}::text")
    if f.semester:
        parts.append(f"o.period = {sql.p(f.semester)}::text")
    if f.open is not None:
        day = sql.p(today)
        open_now = f"(o.status = 'open' AND {day}::date BETWEEN o.opens_on AND o.closes_on)"
        if f.open:
            parts.append(open_now)
        else:
            return f"NOT EXISTS (SELECT 1 FROM cat_offerings o WHERE {' AND '.join(parts)} AND {open_now})"
    if len(parts) == 2:
        return None
    return f"EXISTS (SELECT 1 FROM cat_offerings o WHERE {' AND '.join(parts)})"


async def search(
    conn: Conn, f: SearchFilters, *, sort: Sort | None, lang: str, limit: int, offset: int, today: date
) -> tuple[list[asyncpg.Record], int]:
    sql = _Sql()
    query = prefix_query(f.q) if f.q else None
    if f.q and query is None:
        return [], 0  # only punctuation: nothing can match
    tsquery = f"to_tsquery('simple', {sql.p(query)}::text)" if query else None
    if tsquery:
        sql.add(f"s.document @@ {tsquery}")
    if not f.include_retired:
        sql.add("NOT s.retired")
    if f.field:
        sql.add(f"s.isced_field LIKE {sql.p(f.field)}::text || '%'")
    if f.ects_min is not None:
        sql.add(f"s.ects >= {sql.p(f.ects_min)}::numeric")
    if f.ects_max is not None:
        sql.add(f"s.ects <= {sql.p(f.ects_max)}::numeric")
    if f.eqf is not None:
        sql.add(f"s.eqf = {sql.p(f.eqf)}::int")
    if f.language:
        sql.add(f"{sql.p(f.language.split('-')[0].lower())}::text = ANY(s.language_primaries)")
    if f.mode:
        sql.add(f"s.mode = {sql.p(f.mode)}::text")
    if f.evening is not None:
        sql.add(f"s.evening = {sql.p(f.evening)}::boolean")
    if f.distance is not None:
        sql.add(f"s.distance = {sql.p(f.distance)}::boolean")
    if f.institution:
        institution = f"{sql.p(f.institution)}::text"
        if f.role:
            sql.add(
                "EXISTS (SELECT 1 FROM jsonb_array_elements(s.definition -> 'partners') AS p "
                f"WHERE p ->> 'institution_id' = {institution} AND p -> 'roles' ? {sql.p(f.role)}::text)"
            )
        else:
            sql.add(f"{institution} = ANY(s.partner_ids)")
    offering = _offering_exists(sql, f, today)
    if offering:
        sql.add(offering)
    filter_params = len(sql.params)
    title = f"coalesce(s.titles ->> {sql.p(lang)}::text, s.title_default)"
    order = {
        "title": f"{title} ASC",
        "-title": f"{title} DESC",
        "ects": "s.ects ASC",
        "-ects": "s.ects DESC",
        "published": "s.published_at ASC",
        "-published": "s.published_at DESC",
    }
    chosen = sort or ("relevance" if tsquery else "title")
    by = f"ts_rank(s.document, {tsquery}) DESC" if chosen == "relevance" and tsquery else None
    by = by or order.get(chosen, f"{title} ASC")
    rows = await conn.fetch(
        f"""SELECT s.micro_credential_id, s.version, s.definition, s.annex_i, s.published_at, s.retired,
                   count(*) OVER () AS total
            FROM cat_search s WHERE {sql.condition}
            ORDER BY {by}, {title}, s.micro_credential_id
            LIMIT {sql.p(limit)}::int OFFSET {sql.p(offset)}::int""",
        *sql.params,
    )
    total = rows[0]["total"] if rows else 0
    if not rows and offset:
        # past the last page: still report how many there are
        total = await conn.fetchval(
            f"SELECT count(*) FROM cat_search s WHERE {sql.condition}", *sql.params[:filter_params]
        )
    return list(rows), total


async def offerings_of(
    conn: Conn, micro_credential_ids: Sequence[str], *, version: int | None = None, current_only: bool = True
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT * FROM cat_offerings
               WHERE micro_credential_id = ANY($1::text[])
                 AND ($2::int IS NULL OR micro_credential_version = $2)
                 AND (NOT $3 OR status = ANY($4::text[]))
               ORDER BY starts_on, offering_id""",
            list(micro_credential_ids),
            version,
            current_only,
            list(CURRENT),
        )
    )


async def latest_entry(conn: Conn, micro_credential_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT micro_credential_id, version, definition, annex_i, published_at, retired
           FROM cat_search WHERE micro_credential_id = $1""",
        micro_credential_id,
    )


async def version_row(conn: Conn, micro_credential_id: str, version: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT v.micro_credential_id, v.version, v.definition, v.approvals, v.published_at,
                  coalesce(m.retired, false) AS retired
           FROM cat_mc_versions v LEFT JOIN cat_micro_credentials m USING (micro_credential_id)
           WHERE v.micro_credential_id = $1 AND v.version = $2""",
        micro_credential_id,
        version,
    )


async def versions_of(conn: Conn, micro_credential_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, published_at FROM cat_mc_versions WHERE micro_credential_id = $1 ORDER BY version",
        micro_credential_id,
    )
    return [{"version": r["version"], "published_at": r["published_at"].isoformat()} for r in rows]


async def offering_row(conn: Conn, offering_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cat_offerings WHERE offering_id = $1", offering_id)


async def offerings(
    conn: Conn,
    *,
    micro_credential_id: str | None,
    academic_year: str | None,
    period: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = """($1::text IS NULL OR micro_credential_id = $1) AND ($2::text IS NULL OR academic_year = $2)
               AND ($3::text IS NULL OR period = $3) AND ($4::text IS NULL OR status = $4)"""
    filters = (micro_credential_id, academic_year, period, status)
    rows = await conn.fetch(
        f"""SELECT *, count(*) OVER () AS total FROM cat_offerings WHERE {where}
            ORDER BY starts_on, offering_id LIMIT $5 OFFSET $6""",
        *filters,
        limit,
        offset,
    )
    if rows or not offset:
        return list(rows), rows[0]["total"] if rows else 0
    return [], await conn.fetchval(f"SELECT count(*) FROM cat_offerings WHERE {where}", *filters)


async def pathway_row(conn: Conn, pathway_id: str, version: int | None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT pathway_id, version, definition, published_at FROM cat_pathway_versions
           WHERE pathway_id = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1""",
        pathway_id,
        version,
    )


async def pathways(conn: Conn, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    rows = await conn.fetch(
        """WITH latest AS (SELECT DISTINCT ON (pathway_id) pathway_id, version, definition, published_at
                           FROM cat_pathway_versions ORDER BY pathway_id, version DESC)
           SELECT *, count(*) OVER () AS total FROM latest ORDER BY pathway_id LIMIT $1 OFFSET $2""",
        limit,
        offset,
    )
    if rows or not offset:
        return list(rows), rows[0]["total"] if rows else 0
    return [], await conn.fetchval("SELECT count(DISTINCT pathway_id) FROM cat_pathway_versions")


async def institutions(conn: Conn) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM cat_institutions ORDER BY name_sort, institution_id"))


async def institution(conn: Conn, institution_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM cat_institutions WHERE institution_id = $1", institution_id)
