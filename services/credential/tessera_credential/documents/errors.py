"""Errors of the document layer (pure: raised before anything is signed or stored)."""

from __future__ import annotations


class DocumentError(ValueError):
    """Base class: the inputs cannot be turned into a valid credential document."""


class DocumentInputError(DocumentError):
    """Inconsistent issuance inputs (issuer is not the coordinator, an awarding body would not sign...)."""


class SchemaValidationError(DocumentError):
    """A generated document does not pass a JSON Schema it must pass (a bug, never the learner's fault)."""

    def __init__(self, schema: str, errors: tuple[str, ...]) -> None:
        super().__init__(f"document fails {schema}: " + "; ".join(errors[:5]))
        self.schema = schema
        self.errors = errors


class SigningInputError(DocumentError):
    """A signing request that would produce a credential failing verification (wrong issuer key...)."""


class ElmExportError(DocumentError):
    """The ELM export cannot be produced (a value with no ELM mapping) or fails the EDC SHACL shapes."""
