"""What the page routes share (``app.state.services["credential_pages"]``) and their settings."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tessera_credential.keys.did import DidWeb
from tessera_credential.pages.pdf import Certificates
from tessera_credential.pages.render import Renderer
from tessera_credential.pages.session import CookiePolicy
from tessera_credential.pages.verify import LiveVerifier

SERVICE_KEY = "credential_pages"


class PagesSettings(BaseSettings):
    """Environment variables of the pages (all optional)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    pages_verify_concurrency: int = Field(
        default=2, ge=1, description="page verifications (and, separately, PDF certificates) made at once"
    )
    pages_verify_cache_seconds: float = Field(
        default=60.0, ge=0, description="how long a page reuses a verification report (per credential and status)"
    )
    pages_max_age_seconds: int = Field(default=10, ge=0, description="Cache-Control max-age of credential pages")
    backpack_session_max_seconds: int = Field(
        default=1800, ge=60, le=86400, description="longest life of the backpack cookie"
    )


@dataclass
class PagesContext:
    dids: DidWeb
    settings: PagesSettings
    renderer: Renderer
    verifier: LiveVerifier
    certificates: Certificates
    cookies: CookiePolicy

    @classmethod
    def create(cls, public_base_url: str, settings: PagesSettings) -> PagesContext:
        dids = DidWeb(public_base_url)
        return cls(
            dids=dids,
            settings=settings,
            renderer=Renderer(dids.public_base),
            verifier=LiveVerifier(
                dids,
                concurrency=settings.pages_verify_concurrency,
                ttl_seconds=settings.pages_verify_cache_seconds,
            ),
            certificates=Certificates(concurrency=settings.pages_verify_concurrency),
            cookies=CookiePolicy.for_base(dids.public_base, settings.backpack_session_max_seconds),
        )
