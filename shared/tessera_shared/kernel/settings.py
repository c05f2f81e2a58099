"""Settings every service shares; each service subclasses with its own defaults (one class each).

All values come from the environment (see README, "Configuration").
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tessera_shared.kernel import heap, own_loop


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    service_name: str = Field(default="service", description="catalogue | enrolment | assessment | credential")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/tessera", description="this service's own database"
    )
    database_pool_size: int = Field(default=10, ge=1)
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="comma-separated for a cluster")
    nats_user: str | None = None
    nats_password: str | None = None
    nats_namespace: str = Field(default="", description="prefix for subjects/streams (tests, shared servers)")
    stream_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas of the owned stream")
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    public_base_url: str = Field(default="http://127.0.0.1:8000", description="how users reach this service")
    token_public_key: str = Field(
        default="", description="operator's Ed25519 public key (PEM text or a file path) to verify JWTs"
    )
    token_issuer: str = "tessera-operator"
    token_audience: str = "tessera"
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")
    relay_batch_size: int = Field(default=500, ge=1)
    relay_poll_seconds: float = Field(default=1.0, gt=0)
    consumer_batch_size: int = Field(default=200, ge=1)
    consumer_max_deliver: int = Field(default=5, ge=1, description="deliveries before dead-lettering")
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    consumer_backoff_seconds: float = Field(default=0.5, gt=0, description="first nak delay; doubles")
    consumer_backoff_max_seconds: float = Field(default=30.0, gt=0)
    http_max_in_flight: int = Field(
        default=64, ge=0, description="HTTP requests handled at once; beyond it they wait (0: no limit)"
    )
    http_queue_seconds: float = Field(
        default=2.0, gt=0, description="longest wait for a slot before a 503 with Retry-After"
    )
    gc_young_threshold: int = Field(
        default=heap.YOUNG_THRESHOLD,
        ge=0,
        description="net allocations between young garbage collections (0: Python's 700)",
    )
    switch_interval_ms: float = Field(
        default=own_loop.SWITCH_INTERVAL_MS,
        gt=0,
        le=100,
        description="longest a busy thread keeps the interpreter lock from a waiting one (Python's: 5)",
    )
    run_background: bool = Field(default=True, description="run relay, consumers and projections in-process")
