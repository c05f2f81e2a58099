"""Pure credential documents (no database, no HTTP, no network).

- `inputs`: validated issuance inputs (`IssuanceInput`, `InstitutionRef`, `LearnerIdentity`...).
- `ob3`: the unsigned Open Badges 3.0 `OpenBadgeCredential` carrying every Annex I element.
- `signing`: the issuer's proof first, then one proof per co-awarding partner (a W3C proof set).
- `pathway` / `clr`: the CLR 2.0 `ClrCredential` of a pathway, bundling the stacked credentials.
- `elm`: the ELM v3 / EDC JSON-LD export, checked with the EU SHACL shapes.
- `schemas`: both 1EdTech OB 3.0 JSON Schemas (and CLR 2.0), from vendored copies.
- `annex_i`: where each Annex I element lives (OB3 and ELM paths).
"""

from tessera_credential.documents.annex_i import ANNEX_I, AnnexIElement, resolve
from tessera_credential.documents.clr import build_clr_credential
from tessera_credential.documents.elm import (
    DisplayImage,
    ElmValidation,
    LegalIdentifier,
    build_elm_credential,
    export_elm,
    validate_elm,
)
from tessera_credential.documents.errors import (
    DocumentError,
    DocumentInputError,
    ElmExportError,
    SchemaValidationError,
    SigningInputError,
)
from tessera_credential.documents.inputs import (
    AwardInfo,
    InstitutionRef,
    IssuanceInput,
    LearnerIdentity,
    StatusEntry,
)
from tessera_credential.documents.ob3 import build_ob3_credential
from tessera_credential.documents.pathway import PathwayIssuanceInput
from tessera_credential.documents.schemas import SchemaResult, ensure_valid_ob3, validate_clr, validate_ob3
from tessera_credential.documents.signing import sign_credential

__all__ = [
    "ANNEX_I",
    "AnnexIElement",
    "AwardInfo",
    "DisplayImage",
    "DocumentError",
    "DocumentInputError",
    "ElmExportError",
    "ElmValidation",
    "InstitutionRef",
    "IssuanceInput",
    "LearnerIdentity",
    "LegalIdentifier",
    "PathwayIssuanceInput",
    "SchemaResult",
    "SchemaValidationError",
    "SigningInputError",
    "StatusEntry",
    "build_clr_credential",
    "build_elm_credential",
    "build_ob3_credential",
    "ensure_valid_ob3",
    "export_elm",
    "resolve",
    "sign_credential",
    "validate_clr",
    "validate_elm",
    "validate_ob3",
]
