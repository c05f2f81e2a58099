"""The micro-credential aggregate: a versioned joint programme, signed off by every partner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tessera_catalogue.domain import events as ev
from tessera_catalogue.domain.actors import Actor, require_coordinator_editor
from tessera_catalogue.domain.annex_i import AnnexICompleteness, annex_i_completeness
from tessera_catalogue.domain.definition import build_definition, definition_problems
from tessera_catalogue.domain.draft import MicroCredentialDraft
from tessera_catalogue.domain.sign_off import SignedOff
from tessera_catalogue.domain.volume import VolumeRules
from tessera_shared.contract.base import Event
from tessera_shared.contract.catalogue import (
    InstitutionProfile,
    MicroCredentialDefinition,
    MicroCredentialRetired,
    MicroCredentialVersionPublished,
    PartnerApproval,
)
from tessera_shared.kernel.aggregate import Conflict, NotFound

Directory = Mapping[str, InstitutionProfile]


class MicroCredential(SignedOff[MicroCredentialDraft, MicroCredentialDefinition]):
    """Stream id = the micro-credential id. Version N, once published, never changes."""

    noun = "micro-credential"
    id_field = "micro_credential_id"
    events: ClassVar[dict[type[Event], type[Event]]] = {
        ev._Drafted: ev.MicroCredentialDrafted,
        ev._Edited: ev.MicroCredentialDraftEdited,
        ev._Proposed: ev.MicroCredentialProposed,
        ev._ProposalWithdrawn: ev.MicroCredentialProposalWithdrawn,
        ev._PartnerApproved: ev.MicroCredentialPartnerApproved,
        ev._PartnerRejected: ev.MicroCredentialPartnerRejected,
    }

    def start_draft(self, actor: Actor, content: MicroCredentialDraft) -> None:
        """Draft version 1; the actor's institution becomes the coordinator."""
        self._start(actor, content)

    def problems(self, directory: Directory, rules: VolumeRules = VolumeRules()) -> list[str]:
        """Every reason the open draft cannot be published yet (sign-off aside)."""
        if self.draft is None or self.coordinator_id is None:
            return []
        return definition_problems(
            self.draft,
            micro_credential_id=self.stream_id,
            coordinator_id=self.coordinator_id,
            directory=directory,
            rules=rules,
        )

    def completeness(self, directory: Directory) -> AnnexICompleteness | None:
        return annex_i_completeness(self.draft, directory) if self.draft is not None else None

    def propose(self, actor: Actor, directory: Directory, rules: VolumeRules = VolumeRules()) -> None:
        """Propose the draft to every partner; refused with every content problem."""
        self._propose(actor, self.problems(directory, rules))

    def publish(self, actor: Actor, directory: Directory, rules: VolumeRules = VolumeRules()) -> None:
        """Publish the signed-off draft as immutable version N; refused with every problem."""
        version = self._publish_problems(actor, self.problems(directory, rules))
        assert self.draft is not None
        self._record(
            MicroCredentialVersionPublished(
                micro_credential_id=self.stream_id,
                version=version,
                definition=build_definition(self.draft, directory),
                approvals=tuple(
                    PartnerApproval(institution_id=i, approved_by=self.approvals[i]) for i in self.draft.partner_ids()
                ),
                published_by=actor.user_id,
            )
        )

    def retire(self, actor: Actor, reason: str | None = None) -> None:
        """No new offerings from now on; existing offerings run to their end. An open draft is dropped."""
        self._require_exists()
        require_coordinator_editor(actor, self.coordinator_id, "retire this micro-credential")
        if self.retired:
            raise Conflict(f"micro-credential {self.stream_id} is already retired")
        latest = self.latest_version
        if latest is None:
            raise Conflict(f"micro-credential {self.stream_id} was never published; nothing to retire")
        self._record(
            MicroCredentialRetired(
                micro_credential_id=self.stream_id, last_version=latest, reason=reason, retired_by=actor.user_id
            )
        )

    def version_definition(self, version: int) -> MicroCredentialDefinition:
        try:
            return self.published[version]
        except KeyError:
            raise NotFound(
                f"micro-credential {self.stream_id} has no published version {version}", field="version"
            ) from None

    def apply(self, event: Event) -> None:
        if self._apply_step(event):
            return
        if isinstance(event, MicroCredentialVersionPublished):
            self._published(event.version, event.definition)
        elif isinstance(event, MicroCredentialRetired):
            self.retired = True
            self.draft, self.draft_version = None, None
            self._reset(proposed=False)
