"""Commands on micro-credentials: the shared sign-off commands plus the Annex I report and retire."""

from __future__ import annotations

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.application.sign_off import SignOffCommands, View
from tessera_catalogue.domain.actors import Actor
from tessera_catalogue.domain.micro_credential import MicroCredential
from tessera_shared.contract.catalogue import InstitutionProfile


async def _directory(repo: Repository, mc: MicroCredential) -> dict[str, InstitutionProfile]:
    """The registered institutions among the draft's partners (what propose and publish check)."""
    return await repo.directory(mc.draft.partner_ids() if mc.draft is not None else [])


class MicroCredentials(SignOffCommands[MicroCredential]):
    kind = MicroCredential
    id_prefix = "mc"

    async def _problems(self, repo: Repository, aggregate: MicroCredential) -> list[str]:
        return aggregate.problems(await _directory(repo, aggregate), self.uow.rules)

    async def _propose(self, repo: Repository, aggregate: MicroCredential, actor: Actor) -> None:
        aggregate.propose(actor, await _directory(repo, aggregate), self.uow.rules)

    async def _publish(self, repo: Repository, aggregate: MicroCredential, actor: Actor) -> None:
        aggregate.publish(actor, await _directory(repo, aggregate), self.uow.rules)

    async def _extra_view(self, repo: Repository, aggregate: MicroCredential) -> View:
        report = aggregate.completeness(await _directory(repo, aggregate))
        return {"annex_i": report.summary() if report is not None else None}

    async def retire(self, actor: Actor, mc_id: str, reason: str | None, expected: int | None) -> View:
        async def decide(repo: Repository, aggregate: MicroCredential) -> None:
            aggregate.retire(actor, reason)

        return await self._command(mc_id, expected, decide)
