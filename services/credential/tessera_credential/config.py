"""Settings of the credential service (environment variables; see README "Configuration")."""

from tessera_shared.kernel.settings import ServiceSettings


class CredentialSettings(ServiceSettings):
    service_name: str = "credential"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tessera_credential"
    http_port: int = 8104
    public_base_url: str = "http://127.0.0.1:8104"
    # Two awarding consumers with four learner partitions each, the issuance batches in flight, the
    # relay and HTTP share the pool: 10 would make the partitions queue for connections.
    database_pool_size: int = 16
