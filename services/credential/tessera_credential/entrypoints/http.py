"""HTTP API of the credential service (part 1: awards, explanations). Every route needs a token;
who sees what is decided in ``application/queries.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from tessera_credential.application import queries
from tessera_shared.contract.credential import GradeSummary
from tessera_shared.kernel.app import request_pool
from tessera_shared.kernel.auth import Principal, require

router = APIRouter(tags=["awards"])
reader = require(*queries.READ_ROLES)


class AwardSummaryView(BaseModel):
    award_id: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    enrolment_id: str | None
    status: str  # active | revoked | superseded
    awarded_at: datetime
    grade_summary: GradeSummary
    supersedes: str | None
    superseded_by: str | None
    ended_at: datetime | None
    end_reason: str | None


class AwardView(AwardSummaryView):
    explanation: dict[str, Any]  # the criteria explanation at award time (the credential's evidence)


class PathwayAwardSummaryView(BaseModel):
    award_id: str
    learner_id: str
    pathway_id: str
    pathway_version: int
    status: str  # active | revoked
    constituent_award_ids: list[str]
    awarded_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class PathwayAwardView(PathwayAwardSummaryView):
    explanation: dict[str, Any]


class LearnerAwardsView(BaseModel):
    learner_id: str
    awards: list[AwardSummaryView]
    pathway_awards: list[PathwayAwardSummaryView]


class EnrolmentView(BaseModel):
    enrolment_id: str
    status: str


class ComponentFactsView(BaseModel):
    code: str
    ects: str | None
    result: dict[str, Any] | None  # the effective result (assessment contract's EffectiveResult)
    result_event_ids: list[str]
    attendance: str | None
    attendance_event_ids: list[str]


class ExplanationView(BaseModel):
    learner_id: str
    offering_id: str
    micro_credential_id: str | None
    micro_credential_version: int | None
    outcome: str  # waiting_for_offering | not_met | met_not_admitted | enrolment_ended | awarded | held_via_...
    met: bool
    enrolment: EnrolmentView | None
    award_id: str | None  # this offering's active award
    held_award_id: str | None  # the learner's active award of this version (from any offering)
    explanation: dict[str, Any] | None  # criteria tree: met, found vs threshold, contributing event ids
    components: list[ComponentFactsView]
    evaluated_by: str | None  # id of the event whose handling evaluated it last
    evaluated_at: datetime | None


class LearnerStandingView(BaseModel):
    learner_id: str
    outcome: str
    met: bool
    award_id: str | None
    evaluated_at: datetime | None


class OfferingEvaluationsView(BaseModel):
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    learners: list[LearnerStandingView]


@router.get("/learners/{learner_id}/awards", response_model=LearnerAwardsView)
async def learner_awards(learner_id: str, request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    """The learner's awards and pathway awards with their lineage (learner: own; staff: those of
    their institution's offerings and pathways; operator: all)."""
    return await queries.awards_of_learner(request_pool(request), principal, learner_id)


@router.get("/awards/{award_id}", response_model=AwardView)
async def get_award(award_id: str, request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    """One award with the explanation stored at award time."""
    return await queries.award(request_pool(request), principal, award_id)


@router.get("/pathway-awards/{award_id}", response_model=PathwayAwardView)
async def get_pathway_award(award_id: str, request: Request, principal: Principal = Depends(reader)) -> dict[str, Any]:
    return await queries.pathway_award(request_pool(request), principal, award_id)


@router.get("/learners/{learner_id}/offerings/{offering_id}/explanation", response_model=ExplanationView)
async def explanation(
    learner_id: str, offering_id: str, request: Request, principal: Principal = Depends(reader)
) -> dict[str, Any]:
    """Why (not): every criterion met or not, the value found versus the threshold and the ids of
    the events that contributed."""
    return await queries.explanation(request_pool(request), principal, learner_id, offering_id)


@router.get("/offerings/{offering_id}/evaluations", response_model=OfferingEvaluationsView)
async def offering_evaluations(
    offering_id: str, request: Request, principal: Principal = Depends(require("operator", *queries.STAFF_ROLES))
) -> dict[str, Any]:
    """Every learner's standing in the offering (staff of its partner institutions)."""
    return await queries.evaluations_of_offering(request_pool(request), principal, offering_id)
