"""Settings of the catalogue service (environment variables; see README "Configuration" and
docs/catalogue.md "Configuration")."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from tessera_catalogue.domain.volume import VolumeRules
from tessera_shared.kernel.settings import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = "catalogue"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_catalogue"
    http_port: int = 8101
    public_base_url: str = "http://127.0.0.1:8101"

    # The consortium's volume rules (seeds: 3-30 ECTS, 84-840 notional hours).
    catalogue_min_ects: Decimal = Field(default=Decimal(3), gt=0)
    catalogue_max_ects: Decimal = Field(default=Decimal(30), gt=0)
    catalogue_min_hours: int = Field(default=84, gt=0)
    catalogue_max_hours: int = Field(default=840, gt=0)

    # Dates of offerings (enrolment windows, "open for enrolment") are read in this time zone.
    catalogue_timezone: str = Field(default="Europe/Brussels", description="IANA time zone of the consortium")
    # > 0: every this many seconds, take the lifecycle steps the offerings' dates make due
    # (open, close, start, finish). 0: offerings move only by explicit commands.
    offering_clock_seconds: float = Field(default=0.0, ge=0)

    @field_validator("catalogue_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _ranges(self) -> CatalogueSettings:
        if self.catalogue_min_ects > self.catalogue_max_ects:
            raise ValueError("CATALOGUE_MIN_ECTS exceeds CATALOGUE_MAX_ECTS")
        if self.catalogue_min_hours > self.catalogue_max_hours:
            raise ValueError("CATALOGUE_MIN_HOURS exceeds CATALOGUE_MAX_HOURS")
        return self

    @property
    def volume_rules(self) -> VolumeRules:
        return VolumeRules(
            min_ects=self.catalogue_min_ects,
            max_ects=self.catalogue_max_ects,
            min_hours=self.catalogue_min_hours,
            max_hours=self.catalogue_max_hours,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.catalogue_timezone)
