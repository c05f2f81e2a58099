"""The service's sense of time: instants in UTC, calendar dates in the consortium's time zone.

Enrolment windows and dated refund rules are calendar dates ("before 1 December"), so "today" is
taken in one configured zone (Europe/Brussels by default) rather than in UTC or the host's zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


@dataclass
class Clock:
    timezone: str = "Europe/Brussels"
    fixed: datetime | None = None  # set to freeze time (tests, replays); must be timezone-aware
    _zone: ZoneInfo = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.timezone)

    def now(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(self._zone).date()

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("a frozen time must be timezone-aware")
        self.fixed = at

    def unfreeze(self) -> None:
        self.fixed = None
