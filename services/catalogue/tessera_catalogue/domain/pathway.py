"""The pathway aggregate: a larger credential stacked from micro-credentials of any partners
(all of them / at least N / ECTS total >= x), versioned and signed off like a micro-credential."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from tessera_catalogue.domain import events as ev
from tessera_catalogue.domain.actors import Actor
from tessera_catalogue.domain.draft import PathwayDraft
from tessera_catalogue.domain.partners import partner_problems, profiles
from tessera_catalogue.domain.sign_off import SignedOff
from tessera_shared.contract.base import Event
from tessera_shared.contract.catalogue import (
    InstitutionProfile,
    MicroCredentialDefinition,
    PartnerApproval,
    PathwayDefinition,
    PathwayPublished,
)
from tessera_shared.contract.criteria import PathwayMember, pathway_narratives, validate_pathway_rule

Directory = Mapping[str, InstitutionProfile]
Published = Mapping[str, MicroCredentialDefinition]
"""Micro-credential id -> its latest published definition, for micro-credentials not retired."""


class Pathway(SignedOff[PathwayDraft, PathwayDefinition]):
    noun = "pathway"
    id_field = "pathway_id"
    events: ClassVar[dict[type[Event], type[Event]]] = {
        ev._Drafted: ev.PathwayDrafted,
        ev._Edited: ev.PathwayDraftEdited,
        ev._Proposed: ev.PathwayProposed,
        ev._ProposalWithdrawn: ev.PathwayProposalWithdrawn,
        ev._PartnerApproved: ev.PathwayPartnerApproved,
        ev._PartnerRejected: ev.PathwayPartnerRejected,
    }

    def start_draft(self, actor: Actor, content: PathwayDraft) -> None:
        self._start(actor, content)

    def _members(self, draft: PathwayDraft, published: Published) -> tuple[PathwayMember, ...]:
        return tuple(
            PathwayMember(micro_credential_id=i, title=published[i].title, ects=published[i].workload.ects)
            for i in dict.fromkeys(draft.micro_credential_ids)
            if i in published
        )

    def problems(self, directory: Directory, published: Published) -> list[str]:
        draft = self.draft
        if draft is None or self.coordinator_id is None:
            return []
        problems = [f"{name}: is required" for name in ("title", "description", "rule") if getattr(draft, name) is None]
        ids = draft.micro_credential_ids
        if not ids:
            problems.append("micro_credential_ids: a pathway needs at least one micro-credential")
        for i, mc_id in enumerate(ids):
            if mc_id in ids[:i]:
                problems.append(f"micro_credential_ids[{i}]: {mc_id} is listed twice")
            elif mc_id not in published:
                problems.append(f"micro_credential_ids[{i}]: {mc_id} is not a published, current micro-credential")
        if draft.rule is not None:
            problems += validate_pathway_rule(draft.rule, self._members(draft, published))
        return problems + partner_problems(draft.partners, self.coordinator_id, directory)

    def propose(self, actor: Actor, directory: Directory, published: Published) -> None:
        self._propose(actor, self.problems(directory, published))

    def publish(self, actor: Actor, directory: Directory, published: Published) -> None:
        version = self._publish_problems(actor, self.problems(directory, published))
        draft = self.draft
        assert draft is not None and draft.title and draft.description and draft.rule
        members = self._members(draft, published)
        definition = PathwayDefinition(
            title=draft.title,
            description=draft.description,
            members=members,
            rule=draft.rule,
            level=draft.level,
            partners=profiles(draft.partners, directory),
            narrative=pathway_narratives(draft.rule, members, draft.languages),
        )
        approvals = tuple(PartnerApproval(institution_id=i, approved_by=self.approvals[i]) for i in draft.partner_ids())
        self._record(
            PathwayPublished(
                pathway_id=self.stream_id,
                version=version,
                definition=definition,
                approvals=approvals,
                published_by=actor.user_id,
            )
        )

    def apply(self, event: Event) -> None:
        if not self._apply_step(event) and isinstance(event, PathwayPublished):
            self._published(event.version, event.definition)
