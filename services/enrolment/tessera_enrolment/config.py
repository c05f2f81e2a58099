"""Settings of the enrolment service (environment variables; see README "Configuration")."""

from tessera_shared.kernel.settings import ServiceSettings


class EnrolmentSettings(ServiceSettings):
    service_name: str = "enrolment"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_enrolment"
    http_port: int = 8102
    public_base_url: str = "http://127.0.0.1:8102"
