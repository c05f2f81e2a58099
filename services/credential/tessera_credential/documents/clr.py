"""The CLR 2.0 `ClrCredential` of a pathway award: the stacked micro-credentials, bundled and signed.

`credentialSubject` (a `ClrSubject`) holds the learner's identifiers, the achievements (the pathway
first, then each stacked micro-credential's achievement, copied from its credential), every stacked
OB 3.0 credential as issued (`verifiableCredential`, each keeping its own proofs, so an employer can
verify them independently) and one `Association` per member (`isPartOf` the pathway achievement).
The bundle is signed like a micro-credential: issuer first, then each co-awarding partner
(`documents.signing.sign_credential`).
"""

from __future__ import annotations

import copy
from typing import Any

from tessera_credential.documents.common import (
    CLR_CONTEXT,
    CLR_SCHEMA_IDS,
    credential_schemas,
    identity_objects,
    pick_text,
    profile,
    status_entry,
    xsd_datetime,
)
from tessera_credential.documents.ob3 import explanation_narrative
from tessera_credential.documents.pathway import (
    PathwayIssuanceInput,
    build_pathway_achievement,
    member_achievement,
)


def build_clr_credential(issuance: PathwayIssuanceInput) -> dict[str, Any]:
    """The unsigned pathway `ClrCredential`."""
    preferred = issuance.preferred()
    pathway = build_pathway_achievement(issuance, preferred)
    members = [copy.deepcopy(member_achievement(c)) for c in issuance.credentials]
    subject: dict[str, Any] = {
        "type": ["ClrSubject"],
        "identifier": identity_objects(issuance.learner),
        "achievement": [pathway, *members],
        "verifiableCredential": [copy.deepcopy(c) for c in issuance.credentials],
        "association": [
            {"type": "Association", "associationType": "isPartOf", "sourceId": m["id"], "targetId": pathway["id"]}
            for m in members
        ],
    }
    credential: dict[str, Any] = {
        "@context": list(CLR_CONTEXT),
        "id": issuance.credential_id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": pathway["name"],
        "description": pick_text(issuance.definition.description, preferred)[1],
        "issuer": profile(issuance.issuer, preferred),
        "validFrom": xsd_datetime(issuance.awarded_at),
        "awardedDate": xsd_datetime(issuance.awarded_at),
        "credentialSubject": subject,
    }
    if issuance.explanation is not None:
        credential["evidence"] = [
            {
                "id": f"{issuance.credential_id}#evidence-pathway",
                "type": ["Evidence"],
                "name": "Evaluation of the pathway rule",
                "narrative": explanation_narrative(issuance.explanation),
                "genre": "Criteria evaluation",
            }
        ]
    credential["credentialSchema"] = credential_schemas(CLR_SCHEMA_IDS)
    credential["credentialStatus"] = status_entry(issuance.status)
    return credential
