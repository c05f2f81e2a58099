"""Seats of one offering while a command holds its seats row locked.

The database row (``offering_seats``: capacity, taken, tickets) is the authority: a command locks it
(``SELECT ... FOR UPDATE``), decides with this ledger and writes it back with a conditional update
that cannot take more than the capacity, under a ``CHECK (taken <= capacity)``. Every command that
changes who holds a seat or who waits locks the row first, so admissions, cancellations and
promotions of one offering are serialised: arrival order is the order in which requests get the
lock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SeatLedger:
    offering_id: str
    capacity: int
    taken: int
    tickets: int  # waitlist tickets handed out so far (the last ticket number)
    taken_before: int = -1

    def __post_init__(self) -> None:
        self.taken_before = self.taken

    @property
    def free(self) -> int:
        return self.capacity - self.taken

    def take(self) -> bool:
        if self.taken >= self.capacity:
            return False
        self.taken += 1
        return True

    def release(self) -> None:
        if self.taken <= 0:
            raise AssertionError(f"offering {self.offering_id}: releasing a seat nobody holds")
        self.taken -= 1

    def next_ticket(self) -> int:
        self.tickets += 1
        return self.tickets
