"""Settings of the assessment service (environment variables; see README "Configuration")."""

from tessera_shared.kernel.settings import ServiceSettings


class AssessmentSettings(ServiceSettings):
    service_name: str = "assessment"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_assessment"
    http_port: int = 8103
    public_base_url: str = "http://127.0.0.1:8103"
