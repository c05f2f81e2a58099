"""Request and response bodies of the HTTP API (validated at the edge; 422 names the field)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from tessera_enrolment.domain.values import Esi, Name
from tessera_shared.contract.values import Code, EqfLevel, InstitutionId


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LearnerIn(_In):
    learner_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="staff only; a learner's id is their token subject"
    )
    given_name: Name
    family_name: Name
    email: EmailStr
    email_verified: bool = Field(default=False, description="only registrars and operators may set it")
    european_student_identifier: Esi | None = None
    home_institution: InstitutionId | None = None


class LearnerPatch(_In):
    given_name: Name | None = None
    family_name: Name | None = None
    email: EmailStr | None = None
    email_verified: bool | None = None
    european_student_identifier: Esi | None = None
    home_institution: InstitutionId | None = None


class LearnerOut(BaseModel):
    learner_id: str
    given_name: str
    family_name: str
    email: str
    email_verified: bool
    european_student_identifier: str | None = None
    home_institution: str | None = None
    registered_by: str | None = None
    registered_at: datetime | None = None
    updated_at: datetime | None = None


class ConsentIn(_In):
    accepted: bool = Field(description="the learner accepts that their data is shared with every partner")
    terms_version: str = Field(min_length=1, max_length=100)
    partners: list[str] | None = Field(
        default=None, description="the partners shown to the learner; if given, must be exactly the programme's"
    )


class DiplomaIn(_In):
    title: str = Field(min_length=1, max_length=300)
    eqf_level: EqfLevel
    awarded_by: str | None = Field(default=None, max_length=300)
    year: int | None = Field(default=None, ge=1900, le=2100)


class EnrolmentIn(_In):
    offering_id: Code
    learner_id: str | None = Field(default=None, min_length=1, max_length=200, description="default: yourself")
    consent: ConsentIn
    diploma: DiplomaIn | None = Field(default=None, description="required when the programme asks for a diploma level")


class ReviewIn(_In):
    decision: Literal["admit", "reject"]
    reason: str | None = Field(default=None, max_length=2000)


class ReasonIn(_In):
    reason: str | None = Field(default=None, max_length=2000)


class ConsentOut(BaseModel):
    terms_version: str
    accepted_at: datetime
    partners: list[str]


class EnrolmentOut(BaseModel):
    enrolment_id: str
    learner_id: str
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    status: str
    route: str | None = None
    fee_eur: Decimal | None = None
    refund_eur: Decimal | None = None
    refund_rule: str | None = None
    waitlist_position: int | None = Field(default=None, description="the ticket handed out when waitlisted")
    waitlist_place: int | None = Field(default=None, description="learners waiting up to and including this one")
    requested_at: datetime
    requested_by: str
    admitted_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    cancellation_date: date | None = None
    reason: str | None = None
    consent: ConsentOut
    declared_eqf_level: int | None = None
    declared_diploma: dict[str, Any] | None = None
    award_id: str | None = None
    batch_id: str | None = None


class Page(BaseModel):
    total: int
    limit: int
    offset: int
    next_offset: int | None


class EnrolmentPage(Page):
    items: list[EnrolmentOut]


class LearnerPage(Page):
    items: list[LearnerOut]


class SeatsOut(BaseModel):
    capacity: int
    taken: int
    available: int
    waitlisted: int


class OfferingOut(BaseModel):
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    status: str
    coordinator_id: str | None = None
    title: dict[str, str] | None = None
    ects: Decimal | None = None
    fee_eur: Decimal | None = None
    terms: dict[str, Any] | None = None
    components: list[dict[str, Any]] = []
    partners: list[str] | None = None
    prerequisites: dict[str, Any] | None = None
    cancellation_reason: str | None = None
    seats: SeatsOut | None = None


class OfferingPage(Page):
    items: list[OfferingOut]


class BulkResultOut(BaseModel):
    row: int
    outcome: str = Field(description="admitted | waitlisted | pending_review | rejected | error")
    enrolment_id: str | None = None
    learner_id: str | None = None
    offering_id: str | None = None
    fee_eur: Decimal | None = None
    waitlist_position: int | None = None
    field: str | None = None
    error: str | None = Field(default=None, description="why the row failed, or why it was rejected")


class BulkOut(BaseModel):
    batch_id: str
    idempotency_key: str
    submitted_by: str
    submitted_at: datetime
    rows: int
    summary: dict[str, int]
    results: list[BulkResultOut]
