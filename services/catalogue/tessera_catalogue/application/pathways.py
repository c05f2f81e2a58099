"""Commands on stacking pathways: the shared sign-off commands, checked against the partners'
directory and the micro-credentials currently published (loaded from the event store)."""

from __future__ import annotations

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.application.sign_off import SignOffCommands
from tessera_catalogue.domain.actors import Actor
from tessera_catalogue.domain.pathway import Directory, Pathway, Published


async def _lookups(repo: Repository, pathway: Pathway) -> tuple[Directory, Published]:
    draft = pathway.draft
    if draft is None:
        return {}, {}
    return await repo.directory(draft.partner_ids()), await repo.published(draft.micro_credential_ids)


class Pathways(SignOffCommands[Pathway]):
    kind = Pathway
    id_prefix = "pw"

    async def _problems(self, repo: Repository, aggregate: Pathway) -> list[str]:
        return aggregate.problems(*await _lookups(repo, aggregate))

    async def _propose(self, repo: Repository, aggregate: Pathway, actor: Actor) -> None:
        aggregate.propose(actor, *await _lookups(repo, aggregate))

    async def _publish(self, repo: Repository, aggregate: Pathway, actor: Actor) -> None:
        aggregate.publish(actor, *await _lookups(repo, aggregate))
