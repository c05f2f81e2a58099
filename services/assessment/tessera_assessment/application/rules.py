"""Who may record what, for whom, in which scheme: the checks against the read models.

A :class:`RecordingContext` holds what one decision needs for one offering and one principal,
loaded in a few queries, so a bulk upload checks ten thousand rows without a query per row (a
single command loads it together with the record in one: :mod:`tessera_assessment.adapters.recording`).
Every refusal is a :class:`Refused` (a ``DomainError``) with the HTTP status, the field and a stable
``code`` that bulk reports show per row:

=====================  ======  =============================================================
code                   status  when
=====================  ======  =============================================================
unknown_offering       404     the offering is not (yet) known here
offering_cancelled     409     the offering was cancelled
unknown_component      404     the component is not part of the offering's version
not_teaching_partner   403     the principal's institution does not teach the component
not_enrolled           404     the learner has no enrolment in the offering
not_admitted           422     the learner's enrolment is not admitted (requested, cancelled ...)
required               422     a required value is missing
format                 422     a value is malformed (``InvalidGrade`` reasons are also codes)
unknown_scheme         422     no grading scheme has this id
scheme_not_allowed     422     the teaching institution does not grade with this scheme
future_date            422     a date lies in the future
=====================  ======  =============================================================
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from tessera_assessment.adapters import catalogue_views, enrolment_views
from tessera_assessment.adapters.catalogue_views import ComponentInfo, OfferingInfo
from tessera_assessment.adapters.recording import Loaded
from tessera_assessment.domain.grading import GradeResult, InvalidGrade, Scheme, UnknownScheme, get_scheme
from tessera_assessment.domain.result import ComponentKey
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden, NotFound
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn


class Refused(DomainError):
    """A refusal with its HTTP status and a stable code for bulk reports."""

    def __init__(self, message: str, *, field: str | None, code: str, status: int = 422) -> None:
        super().__init__(message, field=field)
        self.code = code
        self.status = status


def error_code(exc: DomainError) -> str:
    if isinstance(exc, Refused):
        return exc.code
    if isinstance(exc, InvalidGrade):
        return exc.reason
    if isinstance(exc, UnknownScheme):
        return "unknown_scheme"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, NotFound):
        return "not_found"
    if isinstance(exc, Forbidden):
        return "forbidden"
    return "invalid"


@dataclass(frozen=True)
class ResultInput:
    """One result to record, syntactically valid (HTTP body or upload row)."""

    learner_id: str
    component_code: str
    attempt: int
    grade: str
    scheme_id: str | None
    assessed_on: date
    remarks: str | None = None


@functools.lru_cache(maxsize=4096)
def known_scheme(scheme_id: str) -> Scheme | None:
    try:
        return get_scheme(scheme_id)
    except UnknownScheme:
        return None


def usable_schemes(declared: Iterable[str]) -> tuple[str, ...]:
    """The declared scheme ids this service knows, in the declared order (the first is the default).
    An id the catalogue accepted but assessment does not know is skipped rather than made a default
    that every grade would then fail."""
    return tuple(s for s in declared if known_scheme(s) is not None)


def today() -> date:
    return datetime.now(UTC).date()


def known_offering(offering: OfferingInfo | None, offering_id: str) -> OfferingInfo:
    if offering is None:
        raise Refused(
            f"offering {offering_id!r} is not known to the assessment service (not scheduled, or not received yet)",
            field="offering_id",
            code="unknown_offering",
            status=404,
        )
    return offering


async def load_offering(conn: Conn, offering_id: str) -> OfferingInfo:
    return known_offering(await catalogue_views.load_offering(conn, offering_id), offering_id)


@dataclass
class RecordingContext:
    """What recording decisions for one offering by one principal need, loaded once."""

    offering: OfferingInfo
    principal: Principal
    schemes: dict[str, tuple[str, ...]]
    enrolments: dict[str, str]
    today: date = field(default_factory=today)
    _grades: dict[tuple[str, str], GradeResult] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, conn: Conn, offering: OfferingInfo, principal: Principal, learner_ids: Iterable[str]
    ) -> RecordingContext:
        schemes = await catalogue_views.grading_schemes_of(
            conn, {c.teaching_institution for c in offering.components.values()}
        )
        enrolments = await enrolment_views.enrolment_statuses(conn, offering.offering_id, learner_ids)
        return cls(offering, principal, schemes, enrolments)

    @classmethod
    def of(cls, loaded: Loaded, principal: Principal, offering_id: str) -> RecordingContext:
        """The context of a single command, from its one query (:mod:`tessera_assessment.adapters.recording`)."""
        return cls(known_offering(loaded.offering, offering_id), principal, loaded.schemes, loaded.enrolments)

    # --- the checks, in the order they are made -------------------------------------------------

    def check_open(self) -> None:
        if self.offering.status == "cancelled":
            raise Refused(
                f"offering {self.offering.offering_id} was cancelled; nothing can be recorded for it",
                field="offering_id",
                code="offering_cancelled",
                status=409,
            )

    def check_teaches_something(self) -> None:
        if not self.offering.taught_by(self.principal.institution):
            raise Refused(
                f"your institution {self.principal.institution} teaches no component of offering "
                f"{self.offering.offering_id}",
                field="offering_id",
                code="not_teaching_partner",
                status=403,
            )

    def component(self, code: str, *, field: str = "component_code") -> ComponentInfo:
        component = self.offering.components.get(code)
        if component is None:
            known = ", ".join(sorted(self.offering.components))
            raise Refused(
                f"component {code!r} is not part of {self.offering.micro_credential_id} version "
                f"{self.offering.micro_credential_version} (offering {self.offering.offering_id}); "
                f"its components are {known}",
                field=field,
                code="unknown_component",
                status=404,
            )
        if component.teaching_institution != self.principal.institution:
            raise Refused(
                f"component {code} is taught by {component.teaching_institution}; only its assessors may record "
                f"or change its results (your token is for {self.principal.institution})",
                field=field,
                code="not_teaching_partner",
                status=403,
            )
        return component

    def admitted(self, learner_id: str) -> None:
        status = self.enrolments.get(learner_id)
        if status is None:
            raise Refused(
                f"learner {learner_id!r} has no enrolment in offering {self.offering.offering_id}",
                field="learner_id",
                code="not_enrolled",
                status=404,
            )
        if status != "admitted":
            raise Refused(
                f"learner {learner_id!r} is not admitted to offering {self.offering.offering_id} (enrolment {status})",
                field="learner_id",
                code="not_admitted",
            )

    def usable_schemes(self, institution: str) -> tuple[str, ...]:
        return usable_schemes(self.schemes.get(institution, ()))

    def scheme(self, component: ComponentInfo, scheme_id: str | None) -> Scheme:
        """``scheme_id``, or the teaching institution's default (its first declared scheme known
        here). An explicit scheme must be one the institution declared, when it declared any."""
        institution = component.teaching_institution
        usable = self.usable_schemes(institution)
        if scheme_id is None:
            if not usable:
                raise Refused(
                    f"scheme_id is required: {institution} has declared no grading scheme to default to",
                    field="scheme_id",
                    code="required",
                )
            scheme_id = usable[0]
        scheme = known_scheme(scheme_id)
        if scheme is None:
            get_scheme(scheme_id)  # raises UnknownScheme with the list of known schemes
        assert scheme is not None
        if usable and scheme_id not in usable:
            raise Refused(
                f"{institution} grades with {', '.join(usable)}, not {scheme_id}",
                field="scheme_id",
                code="scheme_not_allowed",
            )
        return scheme

    def grade(self, component: ComponentInfo, scheme_id: str | None, value: str) -> GradeResult:
        scheme = self.scheme(component, scheme_id)
        memo = (scheme.scheme_id, value)
        parsed = self._grades.get(memo)
        if parsed is None:  # an exam session repeats a few dozen grades thousands of times
            parsed = self._grades[memo] = scheme.parse(value, field="grade")
        return parsed

    def check_date(self, value: date, field: str) -> None:
        if value > self.today + timedelta(days=1):  # a day of slack for time zones
            raise Refused(f"{field} {value.isoformat()} lies in the future", field=field, code="future_date")

    def key(self, learner_id: str, component_code: str) -> ComponentKey:
        return ComponentKey(
            learner_id=learner_id,
            offering_id=self.offering.offering_id,
            component_code=component_code,
            micro_credential_id=self.offering.micro_credential_id,
            micro_credential_version=self.offering.micro_credential_version,
        )

    def check_result(self, row: ResultInput) -> tuple[ComponentKey, GradeResult]:
        """Every check for recording ``row`` except the record's own (attempt order)."""
        component = self.component(row.component_code)
        self.admitted(row.learner_id)
        grade = self.grade(component, row.scheme_id, row.grade)
        self.check_date(row.assessed_on, "assessed_on")
        return self.key(row.learner_id, row.component_code), grade
