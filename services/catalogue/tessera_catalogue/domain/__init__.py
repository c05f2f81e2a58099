"""The catalogue's pure domain: aggregates that decide and record events. No I/O here."""

from tessera_catalogue.domain.actors import CATALOGUE_EDITOR, OPERATOR, Actor
from tessera_catalogue.domain.annex_i import AnnexICompleteness, annex_i_completeness
from tessera_catalogue.domain.draft import MicroCredentialDraft, PathwayDraft
from tessera_catalogue.domain.institution import Institution
from tessera_catalogue.domain.micro_credential import MicroCredential
from tessera_catalogue.domain.offering import Offering, OfferingStatus
from tessera_catalogue.domain.pathway import Pathway
from tessera_catalogue.domain.volume import VolumeRules

__all__ = [
    "CATALOGUE_EDITOR",
    "OPERATOR",
    "Actor",
    "AnnexICompleteness",
    "Institution",
    "MicroCredential",
    "MicroCredentialDraft",
    "Offering",
    "OfferingStatus",
    "Pathway",
    "PathwayDraft",
    "VolumeRules",
    "annex_i_completeness",
]
