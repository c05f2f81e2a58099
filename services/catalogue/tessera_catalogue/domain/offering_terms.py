"""Rules an offering's terms must meet against the micro-credential version it is pinned to."""

from __future__ import annotations

from datetime import date

from tessera_shared.contract.catalogue import MicroCredentialDefinition
from tessera_shared.contract.terms import OfferingTerms, PerEctsTariff
from tessera_shared.contract.values import Semester, academic_year_start


def academic_year_bounds(academic_year: str) -> tuple[date, date]:
    """The consortium's academic year runs from 1 August to 31 July (room for August starts)."""
    start = academic_year_start(academic_year)
    return date(start, 8, 1), date(start + 1, 7, 31)


def _date_problems(terms: OfferingTerms) -> list[str]:
    problems: list[str] = []
    first, last = academic_year_bounds(terms.academic_year)
    if not first <= terms.starts_on <= last:
        problems.append(
            f"terms.starts_on: {terms.starts_on} is not in academic year {terms.academic_year} ({first} - {last})"
        )
    window = terms.enrolment
    if terms.ends_on <= terms.starts_on:
        problems.append(f"terms.ends_on: {terms.ends_on} is not after starts_on {terms.starts_on}")
    if window.closes_on < window.opens_on:
        problems.append(f"terms.enrolment.closes_on: {window.closes_on} is before opens_on {window.opens_on}")
    if window.opens_on >= terms.starts_on:
        problems.append(f"terms.enrolment.opens_on: enrolment must open before the offering starts ({terms.starts_on})")
    if window.closes_on > terms.ends_on:
        problems.append(f"terms.enrolment.closes_on: enrolment cannot close after the offering ends ({terms.ends_on})")
    return problems


def _session_problems(terms: OfferingTerms, codes: set[str]) -> list[str]:
    problems: list[str] = []
    for i, session in enumerate(terms.sessions):
        path = f"terms.sessions[{i}]"
        if session.ends_at <= session.starts_at:
            problems.append(f"{path}.ends_at: the session ends before it starts")
        if not terms.starts_on <= session.starts_at.date() <= terms.ends_on:
            problems.append(f"{path}.starts_at: the session lies outside {terms.starts_on} - {terms.ends_on}")
        if session.component is not None and session.component not in codes:
            problems.append(f"{path}.component: unknown component {session.component!r}")
    return problems


def terms_problems(terms: OfferingTerms, definition: MicroCredentialDefinition) -> list[str]:
    """Every problem with ``terms`` for an offering of ``definition``, each naming its field path."""
    problems = _date_problems(terms)
    problems += _session_problems(terms, {c.code for c in definition.components})
    if terms.attendance.compulsory and not terms.attendance.description:
        problems.append("terms.attendance.description: compulsory attendance must be described in advance")
    if terms.period is not Semester.FULL_YEAR:
        for i, component in enumerate(definition.components):
            if component.semester is not terms.period:
                when = (
                    "all year" if component.semester is Semester.FULL_YEAR else f"in the {component.semester} semester"
                )
                problems.append(
                    f"terms.period: the offering runs in the {terms.period} semester only, "
                    f"but components[{i}] ({component.code}) is taught {when}"
                )
    if isinstance(terms.tariff, PerEctsTariff):
        teaching = {c.teaching_institution for c in definition.components}
        for institution in terms.tariff.institution_rates:
            if institution not in teaching:
                problems.append(
                    f"terms.tariff.institution_rates.{institution}: does not teach a component of this version"
                )
    return problems
