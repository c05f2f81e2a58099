"""Domain events the catalogue records internally while a version is drafted and signed off.

They are not part of the public contract (partners see only the published snapshot): declared
``internal=True``, they stay in the catalogue's event store and never reach the outbox. They are
stored, so they follow the same naming and versioning rules. The published, retired, scheduled ...
events are the contract's own classes (``tessera_shared.contract.catalogue``).
"""

from __future__ import annotations

from pydantic import Field

from tessera_catalogue.domain.draft import MicroCredentialDraft, PathwayDraft
from tessera_shared.contract.base import Event


class _Step(Event):
    version: int = Field(ge=1, description="the version number the draft will be published as")
    by: str


class _Drafted(_Step):
    """A draft of ``version`` was started (version 1, or N+1 by editing published version N)."""

    coordinator_id: str


class _Edited(_Step):
    """The open draft's content was replaced."""


class _Proposed(_Step):
    """The draft was proposed to every listed partner for sign-off."""


class _ProposalWithdrawn(_Step):
    """The coordinator took the proposal back to draft (approvals lapse)."""


class _PartnerApproved(_Step):
    institution_id: str


class _PartnerRejected(_Step):
    """A partner rejected the proposal; it returns to draft and approvals lapse."""

    institution_id: str
    reason: str = Field(min_length=1)


_MC = "tessera.catalogue.micro-credential"


class MicroCredentialDrafted(_Drafted, type=f"{_MC}.drafted", version=1, internal=True):
    micro_credential_id: str
    content: MicroCredentialDraft


class MicroCredentialDraftEdited(_Edited, type=f"{_MC}.draft-edited", version=1, internal=True):
    micro_credential_id: str
    content: MicroCredentialDraft


class MicroCredentialProposed(_Proposed, type=f"{_MC}.proposed", version=1, internal=True):
    micro_credential_id: str


class MicroCredentialProposalWithdrawn(_ProposalWithdrawn, type=f"{_MC}.proposal-withdrawn", version=1, internal=True):
    micro_credential_id: str


class MicroCredentialPartnerApproved(_PartnerApproved, type=f"{_MC}.partner-approved", version=1, internal=True):
    micro_credential_id: str


class MicroCredentialPartnerRejected(_PartnerRejected, type=f"{_MC}.partner-rejected", version=1, internal=True):
    micro_credential_id: str


_PW = "tessera.catalogue.pathway"


class PathwayDrafted(_Drafted, type=f"{_PW}.drafted", version=1, internal=True):
    pathway_id: str
    content: PathwayDraft


class PathwayDraftEdited(_Edited, type=f"{_PW}.draft-edited", version=1, internal=True):
    pathway_id: str
    content: PathwayDraft


class PathwayProposed(_Proposed, type=f"{_PW}.proposed", version=1, internal=True):
    pathway_id: str


class PathwayProposalWithdrawn(_ProposalWithdrawn, type=f"{_PW}.proposal-withdrawn", version=1, internal=True):
    pathway_id: str


class PathwayPartnerApproved(_PartnerApproved, type=f"{_PW}.partner-approved", version=1, internal=True):
    pathway_id: str


class PathwayPartnerRejected(_PartnerRejected, type=f"{_PW}.partner-rejected", version=1, internal=True):
    pathway_id: str


INTERNAL_EVENTS: tuple[type[Event], ...] = (
    MicroCredentialDrafted,
    MicroCredentialDraftEdited,
    MicroCredentialProposed,
    MicroCredentialProposalWithdrawn,
    MicroCredentialPartnerApproved,
    MicroCredentialPartnerRejected,
    PathwayDrafted,
    PathwayDraftEdited,
    PathwayProposed,
    PathwayProposalWithdrawn,
    PathwayPartnerApproved,
    PathwayPartnerRejected,
)
