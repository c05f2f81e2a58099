"""Settings of the catalogue service (environment variables; see README "Configuration")."""

from tessera_shared.kernel.settings import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = "catalogue"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_catalogue"
    http_port: int = 8101
    public_base_url: str = "http://127.0.0.1:8101"
