"""Joint sign-off: draft -> proposed -> every listed partner approves (a rejection, with a reason,
sends it back to draft and approvals lapse) -> published by the coordinator as version N.

Each partner's catalogue editors approve or reject for their own institution only; an institution
that is not a listed partner is refused. Publishing is refused with every problem at once: content
problems, a draft never proposed, each missing approval.
"""

from __future__ import annotations

from tessera_catalogue.domain import events as ev
from tessera_catalogue.domain.actors import Actor, require_coordinator_editor, require_partner_editor
from tessera_catalogue.domain.problems import Problems
from tessera_catalogue.domain.versioned import C, P, Versioned
from tessera_shared.contract.base import Event
from tessera_shared.kernel.aggregate import Conflict, DomainError


class SignedOff(Versioned[C, P]):
    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.last_rejection: tuple[str, str] | None = None  # (institution, reason)

    def _propose(self, actor: Actor, problems: list[str]) -> None:
        self._require_exists()
        require_coordinator_editor(actor, self.coordinator_id, f"propose this {self.noun}")
        version = self._open_version()
        if self.proposed:
            raise Conflict(f"version {version} is already proposed")
        found = Problems()
        found.extend(problems)
        found.raise_if_any(f"{self.noun} version {version} cannot be proposed")
        self._step(ev._Proposed, version=version, by=actor.user_id)

    def withdraw_proposal(self, actor: Actor) -> None:
        self._require_exists()
        require_coordinator_editor(actor, self.coordinator_id, f"withdraw this {self.noun}'s proposal")
        version = self._open_version()
        if not self.proposed:
            raise Conflict(f"version {version} is not proposed")
        self._step(ev._ProposalWithdrawn, version=version, by=actor.user_id)

    def _decide(self, actor: Actor) -> tuple[int, str]:
        self._require_exists()
        version = self._open_version()
        partners = self.draft.partner_ids() if self.draft is not None else []
        institution = require_partner_editor(actor, partners, f"sign off this {self.noun}")
        if not self.proposed:
            raise Conflict(f"version {version} is not proposed for sign-off")
        return version, institution

    def approve(self, actor: Actor) -> None:
        """Approve for the actor's own institution (approving twice changes nothing)."""
        version, institution = self._decide(actor)
        if institution not in self.approvals:
            self._step(ev._PartnerApproved, version=version, institution_id=institution, by=actor.user_id)

    def reject(self, actor: Actor, reason: str) -> None:
        version, institution = self._decide(actor)
        if not reason.strip():
            raise DomainError("a rejection needs a reason", field="reason")
        self._step(ev._PartnerRejected, version=version, institution_id=institution, reason=reason, by=actor.user_id)

    def _publish_problems(self, actor: Actor, problems: list[str]) -> int:
        """Authorise publishing and raise with every problem, sign-off included; returns the version."""
        self._require_exists()
        require_coordinator_editor(actor, self.coordinator_id, f"publish this {self.noun}")
        version = self._open_version()
        found = Problems()
        found.extend(problems)
        if not self.proposed:
            found.add("status", f"version {version} has not been proposed for sign-off")
        for i, partner in enumerate(self.draft.partner_ids() if self.draft is not None else []):
            if partner not in self.approvals:
                found.add(f"partners[{i}]", f"approval from {partner} is missing")
        found.raise_if_any(f"{self.noun} version {version} cannot be published")
        return version

    def _apply_step(self, event: Event) -> bool:
        if super()._apply_step(event):
            return True
        if isinstance(event, ev._Proposed):
            self._reset(proposed=True)
        elif isinstance(event, ev._ProposalWithdrawn):
            self._reset(proposed=False)
        elif isinstance(event, ev._PartnerApproved):
            self.approvals[event.institution_id] = event.by
        elif isinstance(event, ev._PartnerRejected):
            self.last_rejection = (event.institution_id, event.reason)
            self._reset(proposed=False)
        else:
            return False
        return True
