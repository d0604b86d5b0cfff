"""HTTP security headers on every response.

A strict Content-Security-Policy (no inline scripts or styles anywhere in our pages), no
framing, no MIME sniffing, a conservative referrer policy, and HSTS when the request came over
HTTPS (ProxyFix makes `request.is_secure` honest behind a TLS-terminating proxy).

In production (`HAOCHA_ENV=production`) the app refuses to start without PUBLIC_BASE_URL, so every
link it prints (rating links, QR codes, Open311 discovery) starts there and never at the request's
`Host`; Flask's TRUSTED_HOSTS is set to that host (plus TRUSTED_HOSTS from the environment), so a
forged `Host` gets 400; and the API documentation (/api/docs, /api/openapi.json) is for signed-in
staff only.
"""

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, request, url_for

from config.settings import SettingsError

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Swagger UI injects its own style elements at run time; its page alone allows inline styles.
CSP_API_DOCS = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HSTS = "max-age=31536000; includeSubDomains"


# The headers every response carries, in order; a view that set one itself keeps its own value.
FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def _set_headers(response: Response) -> Response:
    """Add the security headers the response does not carry yet. Read the present names once:
    `Headers.setdefault` raises and catches a KeyError per missing header, a dozen per request."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    path = request.path
    wanted = [("Content-Security-Policy", CSP_API_DOCS if path == "/api/docs" else CSP), *FIXED_HEADERS]
    if request.is_secure:
        wanted.append(("Strict-Transport-Security", HSTS))
    if path.startswith("/api/") or response.mimetype == "text/html":
        wanted.append(("Cache-Control", "no-store"))
    headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
    return response


API_DOC_PATHS = ("/api/docs", "/api/openapi.json")


def _staff_only_api_docs() -> Any:
    """Production: the API's map is not handed to strangers."""
    if not request.path.startswith(API_DOC_PATHS) or request.path.startswith("/api/docs/assets/"):
        return None
    from core.auth import Unauthorized, current_staff

    if current_staff() is not None:
        return None
    if request.path.startswith("/api/docs"):
        return redirect(url_for("core_pages.login", next=request.path))
    raise Unauthorized()


def production_hosts(app: Flask) -> list[str]:
    """The hosts a production request may name: PUBLIC_BASE_URL's, and TRUSTED_HOSTS's."""
    base = str(app.config.get("PUBLIC_BASE_URL") or "")
    if not base or not urlsplit(base).hostname:
        raise SettingsError("PUBLIC_BASE_URL (https://host) must be set when HAOCHA_ENV=production")
    extra = [h for h in app.config.get("TRUSTED_HOSTS") or [] if h]
    return [str(urlsplit(base).hostname), *extra]


def init_security(app: Flask) -> None:
    app.after_request(_set_headers)
    if app.config.get("HAOCHA_ENV") == "production":
        app.config["TRUSTED_HOSTS"] = production_hosts(app)
        app.before_request(_staff_only_api_docs)
