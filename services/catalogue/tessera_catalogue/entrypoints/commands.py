"""The command API: every route needs a bearer token (``require``); the domain then checks who acts
for which institution (403), the state (409) and the content (422)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse

from tessera_catalogue.application import institutions, offerings
from tessera_catalogue.application.micro_credentials import MicroCredentials
from tessera_catalogue.application.pathways import Pathways
from tessera_catalogue.application.unit_of_work import UnitOfWork
from tessera_catalogue.domain.actors import CATALOGUE_EDITOR, OPERATOR, Actor
from tessera_catalogue.entrypoints.negotiation import command_response, expected_version
from tessera_catalogue.entrypoints.requests import (
    Cancellation,
    EditMicroCredential,
    EditPathway,
    InstitutionIn,
    InstitutionUpdate,
    NewMicroCredential,
    NewOffering,
    NewPathway,
    Precondition,
    Rejection,
    Retirement,
)
from tessera_shared.kernel.auth import Principal, require

router = APIRouter()
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Id = Annotated[str, Path(pattern=CODE)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='the ETag the command was decided on, "7"')]
Operator = Annotated[Principal, Depends(require(OPERATOR))]
Editor = Annotated[Principal, Depends(require(CATALOGUE_EDITOR))]
EditorOrOperator = Annotated[Principal, Depends(require(CATALOGUE_EDITOR, OPERATOR))]


async def unit_of_work(request: Request) -> UnitOfWork:  # a coroutine: no thread-pool hop
    runtime = request.app.state.runtime
    return UnitOfWork(runtime.pool, runtime.store, request.app.state.services["volume_rules"])


Uow = Annotated[UnitOfWork, Depends(unit_of_work)]


def _expected(if_match: str | None, body: Precondition | None) -> int | None:
    return expected_version(if_match, body.expected_version if body is not None else None)


# ------------------------------------------------------------------------------------ institutions


@router.post("/institutions", status_code=201, tags=["institutions"])
async def register_institution(body: InstitutionIn, principal: Operator, uow: Uow) -> JSONResponse:
    """Register a partner institution (the consortium operator)."""
    state = await institutions.register(uow, Actor.of(principal), body.profile())
    return command_response(state.view(), status=201, location=f"/catalogue/institutions/{state.institution_id}")


@router.put("/institutions/{institution_id}", tags=["institutions"])
async def update_institution(
    institution_id: str, body: InstitutionUpdate, principal: Operator, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    """Replace an institution's profile (the consortium operator)."""
    expected = expected_version(if_match, body.expected_version)
    state = await institutions.update(uow, Actor.of(principal), institution_id, body.profile(), expected)
    return command_response(state.view())


# -------------------------------------------------------------------------------- micro-credentials

MC = "micro-credentials"


@router.post("/micro-credentials", status_code=201, tags=[MC])
async def create_micro_credential(body: NewMicroCredential, principal: Editor, uow: Uow) -> JSONResponse:
    """Draft version 1 of a new micro-credential; the editor's institution becomes its coordinator."""
    view = await MicroCredentials(uow).start(Actor.of(principal), body.micro_credential_id, body.content.draft())
    return command_response(view, status=201, location=f"/micro-credentials/{view['micro_credential_id']}")


@router.get("/micro-credentials/{mc_id}", tags=[MC])
async def micro_credential_state(mc_id: Id, principal: EditorOrOperator, uow: Uow) -> JSONResponse:
    """The working state (draft, sign-off, problems, Annex I report) for the programme's partners."""
    return command_response(await MicroCredentials(uow).state(Actor.of(principal), mc_id))


@router.put("/micro-credentials/{mc_id}/draft", tags=[MC])
async def edit_micro_credential(
    mc_id: Id, body: EditMicroCredential, principal: Editor, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    """Replace the open draft, or open draft N+1 of a published micro-credential."""
    expected = _expected(if_match, body)
    return command_response(
        await MicroCredentials(uow).edit(Actor.of(principal), mc_id, body.content.draft(), expected)
    )


@router.post("/micro-credentials/{mc_id}/propose", tags=[MC])
async def propose_micro_credential(
    mc_id: Id, principal: Editor, uow: Uow, body: Precondition | None = None, if_match: IfMatch = None
) -> JSONResponse:
    """Propose the draft to every listed partner (refused with every content problem)."""
    return command_response(await MicroCredentials(uow).propose(Actor.of(principal), mc_id, _expected(if_match, body)))


@router.post("/micro-credentials/{mc_id}/withdraw", tags=[MC])
async def withdraw_micro_credential(
    mc_id: Id, principal: Editor, uow: Uow, body: Precondition | None = None, if_match: IfMatch = None
) -> JSONResponse:
    """Take the proposal back to draft (approvals lapse)."""
    return command_response(await MicroCredentials(uow).withdraw(Actor.of(principal), mc_id, _expected(if_match, body)))


@router.post("/micro-credentials/{mc_id}/approve", tags=[MC])
async def approve_micro_credential(
    mc_id: Id, principal: Editor, uow: Uow, body: Precondition | None = None, if_match: IfMatch = None
) -> JSONResponse:
    """Approve the proposed version for the editor's own institution (a listed partner)."""
    return command_response(await MicroCredentials(uow).approve(Actor.of(principal), mc_id, _expected(if_match, body)))


@router.post("/micro-credentials/{mc_id}/reject", tags=[MC])
async def reject_micro_credential(
    mc_id: Id, body: Rejection, principal: Editor, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    """Reject the proposed version for the editor's own institution, with a reason: back to draft."""
    return command_response(
        await MicroCredentials(uow).reject(Actor.of(principal), mc_id, body.reason, _expected(if_match, body))
    )


@router.post("/micro-credentials/{mc_id}/publish", tags=[MC])
async def publish_micro_credential(
    mc_id: Id, principal: Editor, uow: Uow, body: Precondition | None = None, if_match: IfMatch = None
) -> JSONResponse:
    """Publish the signed-off draft as immutable version N (refused with every problem)."""
    return command_response(await MicroCredentials(uow).publish(Actor.of(principal), mc_id, _expected(if_match, body)))


@router.post("/micro-credentials/{mc_id}/retire", tags=[MC])
async def retire_micro_credential(
    mc_id: Id, principal: Editor, uow: Uow, body: Retirement | None = None, if_match: IfMatch = None
) -> JSONResponse:
    """No new offerings from now on; existing offerings run to their end."""
    reason = body.reason if body is not None else None
    return command_response(
        await MicroCredentials(uow).retire(Actor.of(principal), mc_id, reason, _expected(if_match, body))
    )


# --------------------------------------------------------------------------------------- offerings


@router.post("/offerings", status_code=201, tags=["offerings"])
async def schedule_offering(body: NewOffering, principal: Editor, uow: Uow) -> JSONResponse:
    """Schedule an edition of a published version (the coordinator's catalogue editors)."""
    view = await offerings.schedule(
        uow, Actor.of(principal), body.offering_id, body.micro_credential_id, body.version, body.terms
    )
    return command_response(view, status=201, location=f"/catalogue/offerings/{view['offering_id']}")


def _transition_route(step: offerings.Transition, summary: str) -> None:
    async def route(
        offering_id: Id,
        principal: EditorOrOperator,
        uow: Uow,
        body: Precondition | None = None,
        if_match: IfMatch = None,
    ) -> JSONResponse:
        expected = _expected(if_match, body)
        return command_response(await offerings.transition(uow, Actor.of(principal), offering_id, step, expected))

    route.__name__ = f"{step}_offering"
    router.add_api_route(
        f"/offerings/{{offering_id}}/{step}",
        route,
        methods=["POST"],
        tags=["offerings"],
        summary=summary,
        response_class=JSONResponse,
    )


_transition_route("open", "Open for enrolment (coordinator's editors or the operator)")
_transition_route("close", "Close enrolment (coordinator's editors or the operator)")
_transition_route("start", "Teaching started: running (coordinator's editors or the operator)")
_transition_route("finish", "The offering is over (coordinator's editors or the operator)")


@router.post("/offerings/{offering_id}/cancel", tags=["offerings"])
async def cancel_offering(
    offering_id: Id, body: Cancellation, principal: Editor, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    """Cancel (the coordinator's editors, with a reason): every enrolled learner is refunded in full."""
    expected = _expected(if_match, body)
    return command_response(await offerings.cancel(uow, Actor.of(principal), offering_id, body.reason, expected))


# ---------------------------------------------------------------------------------------- pathways

PW = "pathways"


@router.post("/pathways", status_code=201, tags=[PW])
async def create_pathway(body: NewPathway, principal: Editor, uow: Uow) -> JSONResponse:
    view = await Pathways(uow).start(Actor.of(principal), body.pathway_id, body.content.draft())
    return command_response(view, status=201, location=f"/pathways/{view['pathway_id']}")


@router.get("/pathways/{pathway_id}", tags=[PW])
async def pathway_state(pathway_id: Id, principal: EditorOrOperator, uow: Uow) -> JSONResponse:
    return command_response(await Pathways(uow).state(Actor.of(principal), pathway_id))


@router.put("/pathways/{pathway_id}/draft", tags=[PW])
async def edit_pathway(
    pathway_id: Id, body: EditPathway, principal: Editor, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    expected = _expected(if_match, body)
    return command_response(await Pathways(uow).edit(Actor.of(principal), pathway_id, body.content.draft(), expected))


def _pathway_step(name: str, summary: str) -> None:
    async def route(
        pathway_id: Id, principal: Editor, uow: Uow, body: Precondition | None = None, if_match: IfMatch = None
    ) -> JSONResponse:
        commands: Any = Pathways(uow)
        return command_response(
            await getattr(commands, name)(Actor.of(principal), pathway_id, _expected(if_match, body))
        )

    route.__name__ = f"{name}_pathway"
    router.add_api_route(
        f"/pathways/{{pathway_id}}/{name}",
        route,
        methods=["POST"],
        tags=[PW],
        summary=summary,
        response_class=JSONResponse,
    )


_pathway_step("propose", "Propose the pathway draft to every listed partner")
_pathway_step("withdraw", "Take the proposal back to draft")
_pathway_step("approve", "Approve for the editor's own institution")
_pathway_step("publish", "Publish the signed-off pathway as version N")


@router.post("/pathways/{pathway_id}/reject", tags=[PW])
async def reject_pathway(
    pathway_id: Id, body: Rejection, principal: Editor, uow: Uow, if_match: IfMatch = None
) -> JSONResponse:
    expected = _expected(if_match, body)
    return command_response(await Pathways(uow).reject(Actor.of(principal), pathway_id, body.reason, expected))
