"""Commands on institutions (the consortium operator's): register, update."""

from __future__ import annotations

from dataclasses import dataclass

from tessera_catalogue.application.repository import Repository
from tessera_catalogue.application.unit_of_work import UnitOfWork, expect
from tessera_catalogue.domain.actors import Actor
from tessera_catalogue.domain.institution import Institution
from tessera_shared.contract.catalogue import InstitutionProfile


@dataclass(frozen=True)
class InstitutionState:
    institution_id: str
    version: int
    profile: InstitutionProfile

    def view(self) -> dict[str, object]:
        return {
            "institution_id": self.institution_id,
            "version": self.version,
            "profile": self.profile.model_dump(mode="json"),
        }


def _state(institution: Institution) -> InstitutionState:
    assert institution.profile is not None
    return InstitutionState(institution.stream_id, institution.version, institution.profile)


async def register(uow: UnitOfWork, actor: Actor, profile: InstitutionProfile) -> InstitutionState:
    async def work(repo: Repository) -> InstitutionState:
        institution = await repo.load(Institution, profile.institution_id)
        institution.register(actor, profile)
        await repo.save(institution)
        return _state(institution)

    return await uow.run(work)


async def update(
    uow: UnitOfWork, actor: Actor, institution_id: str, profile: InstitutionProfile, expected_version: int | None
) -> InstitutionState:
    async def work(repo: Repository) -> InstitutionState:
        institution = await repo.load(Institution, institution_id)
        expect(institution, expected_version, f"institution {institution_id}")
        institution.update(actor, profile)
        await repo.save(institution)
        return _state(institution)

    return await uow.run(work)
