"""The institution aggregate: a consortium partner, registered and updated by the operator."""

from __future__ import annotations

from tessera_catalogue.domain.actors import Actor, require_operator
from tessera_shared.contract.base import Event
from tessera_shared.contract.catalogue import InstitutionProfile, InstitutionRegistered, InstitutionUpdated
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, NotFound


class Institution(Aggregate):
    """Stream id = the SCHAC home organisation (``ugent.be``)."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.profile: InstitutionProfile | None = None

    def register(self, actor: Actor, profile: InstitutionProfile) -> None:
        require_operator(actor, "register institutions")
        if self.profile is not None:
            raise Conflict(f"institution {self.stream_id} is already registered", field="institution_id")
        self._check_id(profile)
        self._record(InstitutionRegistered(institution=profile))

    def update(self, actor: Actor, profile: InstitutionProfile) -> None:
        """Replace the profile; an update that changes nothing records nothing."""
        require_operator(actor, "update institutions")
        if self.profile is None:
            raise NotFound(f"institution {self.stream_id} is not registered", field="institution_id")
        self._check_id(profile)
        if profile != self.profile:
            self._record(InstitutionUpdated(institution=profile))

    def _check_id(self, profile: InstitutionProfile) -> None:
        if profile.institution_id != self.stream_id:
            raise DomainError(
                f"institution_id {profile.institution_id!r} does not match {self.stream_id!r}",
                field="institution_id",
            )

    def apply(self, event: Event) -> None:
        if isinstance(event, InstitutionRegistered | InstitutionUpdated):
            self.profile = event.institution
