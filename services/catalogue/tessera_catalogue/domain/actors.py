"""Who acts, and the authorisation rules that are part of the domain.

The operator (the consortium's administrator) registers and updates institutions. A catalogue editor
acts for their own institution only: the coordinator's editors edit, propose, publish and retire a
programme and schedule its offerings; every listed partner's editors approve or reject for that
partner. Anyone else is refused with :class:`Forbidden`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from tessera_shared.kernel.aggregate import Forbidden

OPERATOR = "operator"
CATALOGUE_EDITOR = "catalogue-editor"  # the role names of tessera_shared.kernel.auth.ROLES


class PrincipalLike(Protocol):
    """What the kernel's authenticated ``Principal`` offers (kept structural: no FastAPI here)."""

    @property
    def subject(self) -> str: ...

    @property
    def institution(self) -> str | None: ...

    @property
    def roles(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Actor:
    """The authenticated caller: a user id, the institution they belong to (none for the operator's
    staff) and their roles."""

    user_id: str
    institution_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: PrincipalLike) -> Actor:
        return cls(user_id=principal.subject, institution_id=principal.institution, roles=frozenset(principal.roles))

    def has(self, role: str) -> bool:
        return role in self.roles

    def is_editor_of(self, institution_id: str | None) -> bool:
        return institution_id is not None and self.institution_id == institution_id and self.has(CATALOGUE_EDITOR)


def require_operator(actor: Actor, action: str) -> None:
    if not actor.has(OPERATOR):
        raise Forbidden(f"only the consortium operator may {action}")


def require_coordinator_editor(actor: Actor, coordinator_id: str | None, action: str) -> None:
    """``actor`` must be a catalogue editor of the programme's coordinating institution."""
    if not actor.is_editor_of(coordinator_id):
        raise Forbidden(f"only catalogue editors of the coordinator ({coordinator_id}) may {action}")


def require_partner_editor(actor: Actor, partner_ids: Iterable[str], action: str) -> str:
    """``actor`` must be a catalogue editor of one of ``partner_ids``; returns that institution."""
    partners = set(partner_ids)
    if not actor.has(CATALOGUE_EDITOR) or actor.institution_id not in partners:
        raise Forbidden(
            f"only catalogue editors of a listed partner may {action}; "
            f"{actor.institution_id or 'no institution'} is not a partner"
        )
    return actor.institution_id
