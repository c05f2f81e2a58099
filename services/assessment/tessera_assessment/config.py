"""Settings of the assessment service (environment variables; see README "Configuration" and
docs/assessment.md for the ones only this service has)."""

from pydantic import Field

from tessera_shared.kernel.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_assessment"
    http_port: int = 8103
    public_base_url: str = "http://127.0.0.1:8103"
    upload_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="largest bulk upload body accepted (413 above)"
    )
    upload_max_rows: int = Field(default=50_000, ge=1, description="most rows in one bulk upload (413 above)")
