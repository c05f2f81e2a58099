"""From draft to published definition: every problem at once, then the immutable snapshot."""

from __future__ import annotations

from collections.abc import Mapping

from tessera_catalogue.domain.annex_i import annex_i_problems
from tessera_catalogue.domain.draft import MicroCredentialDraft
from tessera_catalogue.domain.elements import component_problems, element_problems, required_problems
from tessera_catalogue.domain.partners import partner_problems, profiles
from tessera_catalogue.domain.volume import VolumeRules, volume_problems
from tessera_shared.contract.catalogue import InstitutionProfile, MicroCredentialDefinition
from tessera_shared.contract.criteria import narratives


def definition_problems(
    draft: MicroCredentialDraft,
    *,
    micro_credential_id: str,
    coordinator_id: str,
    directory: Mapping[str, InstitutionProfile],
    rules: VolumeRules,
) -> list[str]:
    """Every reason ``draft`` cannot be published (sign-off aside), each naming its field path."""
    return [
        *annex_i_problems(draft, directory),
        *required_problems(draft),
        *volume_problems(draft.workload, draft.components, rules),
        *partner_problems(draft.partners, coordinator_id, directory),
        *component_problems(draft),
        *element_problems(draft, micro_credential_id),
    ]


def build_definition(
    draft: MicroCredentialDraft, directory: Mapping[str, InstitutionProfile]
) -> MicroCredentialDefinition:
    """The published snapshot of a draft without problems; the criteria narrative is generated in
    English plus every language of instruction a template exists for."""
    if draft.criteria is None:
        raise ValueError("a draft without criteria cannot be published (see definition_problems)")
    titles = {c.code: c.title for c in draft.components}
    return MicroCredentialDefinition.model_validate(
        {
            **draft.model_dump(exclude={"partners"}),
            "partners": profiles(draft.partners, directory),
            "criteria_narrative": narratives(draft.criteria, draft.languages, titles),
        }
    )
