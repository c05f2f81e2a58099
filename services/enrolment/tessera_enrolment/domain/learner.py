"""The learner aggregate (stream ``learner-<id>``): who may register whom and what changes.

Learners register themselves (their token's subject becomes the learner id) or a partner's
registrar registers them. Only a registrar or an operator may mark an email address verified;
changing the address clears the flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from tessera_shared.contract.base import Event
from tessera_shared.contract.enrolment import LearnerProfile, LearnerRegistered, LearnerUpdated
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, Forbidden, NotFound


def stream_id(learner_id: str) -> str:
    return f"learner-{learner_id}"


@dataclass(frozen=True)
class Actor:
    """Who acts, reduced to what the learner rules need."""

    subject: str
    institution: str | None
    is_operator: bool = False
    is_registrar: bool = False

    @property
    def is_staff(self) -> bool:
        return self.is_operator or self.is_registrar


class Learner(Aggregate):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.profile: LearnerProfile | None = None
        self.registered_by: str | None = None

    @property
    def existing(self) -> LearnerProfile:
        if self.profile is None:
            raise NotFound(f"learner {self.stream_id.removeprefix('learner-')} is not registered", field="learner_id")
        return self.profile

    def register(self, actor: Actor, profile: LearnerProfile) -> None:
        if self.profile is not None:
            raise Conflict(f"learner {profile.learner_id} is already registered", field="learner_id")
        if not actor.is_staff and actor.subject != profile.learner_id:
            raise Forbidden("a learner registers only themself")
        if profile.email_verified and not actor.is_staff:
            raise DomainError("only a registrar or an operator can mark an email verified", field="email_verified")
        self._record(LearnerRegistered(learner=profile, registered_by=actor.subject))

    def update(self, actor: Actor, profile: LearnerProfile) -> bool:
        """Record the new profile; False when nothing changed (no event)."""
        current = self.existing
        if profile.learner_id != current.learner_id:
            raise DomainError("the learner id cannot change", field="learner_id")
        if profile.email.lower() != current.email.lower() and not (actor.is_staff and profile.email_verified):
            profile = profile.model_copy(update={"email_verified": False})
        elif profile.email_verified and not current.email_verified and not actor.is_staff:
            raise DomainError("only a registrar or an operator can mark an email verified", field="email_verified")
        if profile == current:
            return False
        self._record(LearnerUpdated(learner=profile, updated_by=actor.subject))
        return True

    def apply(self, event: Event) -> None:
        if isinstance(event, LearnerRegistered):
            self.profile = event.learner
            self.registered_by = event.registered_by
        elif isinstance(event, LearnerUpdated):
            self.profile = event.learner
