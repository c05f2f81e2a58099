"""HTML rendering: one Jinja2 environment (autoescaping, strict undefined) and the pages' headers.

Every HTML response carries:

* ``Content-Security-Policy``: nothing but the inline stylesheet (allowed by its SHA-256), images
  from this service and https, forms posting to this service; no scripts at all (the pages need none);
* ``Referrer-Policy: no-referrer``: a credential page's URL is its share link (a capability); it
  must not leak to logo hosts or to LinkedIn through ``Referer``;
* ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``X-Robots-Tag: noindex``;
* ``Content-Language`` and ``Vary: Accept-Language`` (the language is negotiated).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from tessera_credential.pages.i18n import Translator

CSS = resources.files("tessera_credential.pages").joinpath("pages.css").read_text(encoding="utf-8")
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode()
CSP = (
    f"default-src 'none'; style-src '{CSS_HASH}'; img-src 'self' https: data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tessera_credential.pages", "templates"),
        autoescape=True,  # every template is HTML: all values escaped unless explicitly trusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["css"] = Markup(CSS)  # constant package file (hashed for the CSP)
    return env


class Renderer:
    """Renders the templates for one deployment (``public_base``: absolute links, language switcher)."""

    def __init__(self, public_base: str) -> None:
        self.public_base = public_base.rstrip("/")
        self.env = _environment()

    def url(self, path: str) -> str:
        return f"{self.public_base}{path}"

    def render(self, template: str, *, t: Translator, path: str, **context: Any) -> str:
        languages = t.switcher(lambda code: f"{self.url(path)}?lang={code}")
        return self.env.get_template(template).render(
            t=t, lang=t.language, languages=languages, base=self.public_base, **context
        )

    def page(
        self,
        template: str,
        *,
        t: Translator,
        path: str,
        status_code: int = 200,
        cache_control: str = "no-store",
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        body = self.render(template, t=t, path=path, **context)
        all_headers = {
            **SECURITY_HEADERS,
            "Cache-Control": cache_control,
            "Content-Language": t.language,
            "Vary": "Accept-Language",
            **(headers or {}),
        }
        return HTMLResponse(body, status_code=status_code, headers=all_headers)
