"""Commands on offerings: schedule an edition of a published version; move it through its lifecycle,
by command (the coordinator's catalogue editors, or the operator) or by the offerings' own dates
(:func:`advance_offerings`, run by the clock loop or ``tessera catalogue advance-offerings``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

import structlog

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.application.sign_off import new_id
from tessera_catalogue.application.unit_of_work import UnitOfWork, expect
from tessera_catalogue.domain.actors import OPERATOR, Actor
from tessera_catalogue.domain.micro_credential import MicroCredential
from tessera_catalogue.domain.offering import Offering
from tessera_catalogue.domain.offering_clock import Step, due_steps
from tessera_shared.contract.terms import OfferingTerms
from tessera_shared.kernel.aggregate import Conflict

log = structlog.get_logger(__name__)
View = dict[str, Any]

# The clock acts with the operator's authority, which the domain allows for every step but cancel.
CLOCK = Actor(user_id="system:offering-clock", roles=frozenset({OPERATOR}))


def view(offering: Offering) -> View:
    scheduled = offering.scheduled
    assert scheduled is not None
    return {
        "offering_id": offering.stream_id,
        "status": offering.status.value if offering.status else None,
        "version": offering.version,
        "micro_credential_id": scheduled.micro_credential_id,
        "micro_credential_version": scheduled.micro_credential_version,
        "coordinator_id": scheduled.coordinator_id,
        "fee": str(scheduled.fee),
        "terms": scheduled.terms.model_dump(mode="json"),
    }


async def schedule(
    uow: UnitOfWork,
    actor: Actor,
    offering_id: str | None,
    micro_credential_id: str,
    version: int,
    terms: OfferingTerms,
) -> View:
    new = offering_id or new_id("off")

    async def work(repo: Repository) -> View:
        offering = await repo.load(Offering, new)
        if offering.version:
            raise Conflict(f"offering {new} already exists", field="offering_id")
        mc = await repo.load(MicroCredential, micro_credential_id)
        offering.schedule(actor, mc, version, terms)
        await repo.save(offering)
        return view(offering)

    return await uow.run(work)


Transition = Literal["open", "close", "start", "finish"]


def _step(offering: Offering, actor: Actor, step: Step) -> None:
    {"open": offering.open, "close": offering.close, "start": offering.start, "finish": offering.finish}[step](actor)


async def transition(uow: UnitOfWork, actor: Actor, offering_id: str, step: Transition, expected: int | None) -> View:
    async def work(repo: Repository) -> View:
        offering = await repo.load(Offering, offering_id)
        expect(offering, expected, f"offering {offering_id}")
        _step(offering, actor, step)
        await repo.save(offering)
        return view(offering)

    return await uow.run(work)


async def cancel(uow: UnitOfWork, actor: Actor, offering_id: str, reason: str, expected: int | None) -> View:
    async def work(repo: Repository) -> View:
        offering = await repo.load(Offering, offering_id)
        expect(offering, expected, f"offering {offering_id}")
        offering.cancel(actor, reason)
        await repo.save(offering)
        return view(offering)

    return await uow.run(work)


# ------------------------------------------------------------------------------------ the clock


async def advance_offerings(uow: UnitOfWork, today: date) -> dict[str, list[Step]]:
    """Take every lifecycle step the offerings' dates make due on ``today``; one transaction per
    offering. Each is decided on its stream as loaded in its own transaction, so a concurrent
    command or a second replica's clock never causes a wrong step (a step already taken is simply
    no longer due)."""

    async def unfinished(repo: Repository) -> list[str]:
        return await repo.unfinished_offering_ids()

    candidates = await uow.read(unfinished)
    taken: dict[str, list[Step]] = {}
    for offering_id in candidates:

        async def work(repo: Repository, offering_id: str = offering_id) -> list[Step]:
            offering = await repo.load(Offering, offering_id)
            if offering.scheduled is None:
                return []
            steps = due_steps(offering.status, offering.scheduled.terms, today)
            for step in steps:
                _step(offering, CLOCK, step)
            await repo.save(offering)
            return steps

        steps = await uow.run(work)
        if steps:
            taken[offering_id] = steps
            log.info("offering advanced by its dates", offering_id=offering_id, steps=steps, today=str(today))
    return taken


class OfferingClock:
    """Runs :func:`advance_offerings` every ``interval`` seconds with ``today()``'s date until stopped."""

    def __init__(self, uow: UnitOfWork, interval: float, today: Callable[[], date]) -> None:
        self.uow = uow
        self.interval = interval
        self.today = today
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.advance_offerings_now()
            except Exception:  # a failed tick is logged and retried at the next one
                log.exception("offering clock tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)

    async def advance_offerings_now(self) -> dict[str, list[Step]]:
        return await advance_offerings(self.uow, self.today())
