"""Settings of the enrolment service (environment variables; see README "Configuration" and
docs/enrolment.md for the service's own)."""

from pydantic import Field

from tessera_shared.kernel.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    service_name: str = "enrolment"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_enrolment"
    http_port: int = 8102
    public_base_url: str = "http://127.0.0.1:8102"
    consent_terms_version: str = Field(
        default="2025-1",
        description="the data-sharing terms learners accept when enrolling; requests naming another are refused",
    )
    timezone: str = Field(
        default="Europe/Brussels", description="the consortium's calendar: enrolment windows and refund dates"
    )
    bulk_max_rows: int = Field(default=10_000, ge=1, description="rows accepted in one bulk enrolment upload")
