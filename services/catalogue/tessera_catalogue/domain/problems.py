"""Collect every problem before refusing, so that the caller can fix them all at once."""

from __future__ import annotations

from collections.abc import Iterable

from tessera_shared.kernel.aggregate import DomainError


class Problems:
    """A list of ``"<field path>: <message>"`` strings (the 422 response names each field)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")

    def extend(self, problems: Iterable[str]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def raise_if_any(self, message: str) -> None:
        if self.items:
            field = self.items[0].split(":", 1)[0] if len(self.items) == 1 else None
            raise DomainError(f"{message}: {'; '.join(self.items)}", field=field, problems=list(self.items))
