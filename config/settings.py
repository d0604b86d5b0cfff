"""Settings read from environment variables (12-factor), merged over the domain defaults."""

import json
import os
import secrets
from pathlib import Path
from typing import Any

from config.domain import DOMAIN_DEFAULTS

TRUE_WORDS = {"1", "true", "yes", "on"}


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in TRUE_WORDS


def _coerce(raw: str, default: Any) -> Any:
    """Read an environment override in the type of the default it replaces."""
    if isinstance(default, bool):
        return raw.strip().lower() in TRUE_WORDS
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, dict):
        # A mapping names the keys it changes; the others keep their defaults.
        loaded = json.loads(raw)
        if not isinstance(loaded, dict):
            raise ValueError(f"expected a JSON object, got {raw!r}")
        return {**default, **loaded}
    if isinstance(default, list):
        return json.loads(raw)
    return raw


MIN_SECRET_KEY_BYTES = 32
# Values people paste from examples; a key that appears in documentation protects nothing.
PLACEHOLDER_SECRETS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "secret-key",
        "secret_key",
        "dev",
        "development",
        "test",
        "password",
        "your-secret-key",
        "please-change-me",
        "x",
        "...",
    }
)


class SettingsError(RuntimeError):
    """The environment asks for something the service must not run with; the message says why."""


def check_secret_key(key: str) -> None:
    """Refuse a production SECRET_KEY an attacker could guess: it signs staff sessions and CSRF."""
    stripped = key.strip()
    if stripped.lower() in PLACEHOLDER_SECRETS or len(set(stripped)) < 8:
        raise SettingsError(
            "SECRET_KEY is a placeholder or too simple; set a random value of at least "
            f"{MIN_SECRET_KEY_BYTES} bytes, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if len(stripped.encode()) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(
            f"SECRET_KEY is {len(stripped.encode())} bytes; production needs at least {MIN_SECRET_KEY_BYTES} "
            "random bytes, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )


def _secret_key(instance_path: Path, production: bool) -> str:
    """SECRET_KEY from the environment; in development a random key kept under instance/."""
    key = os.environ.get("SECRET_KEY")
    if production:
        if not key:
            raise SettingsError("SECRET_KEY must be set when HAOCHA_ENV=production")
        check_secret_key(key)
    if key:
        return key
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def load_settings(instance_path: Path) -> dict[str, Any]:
    """Build the Flask config mapping from the environment and the domain defaults."""
    production = os.environ.get("HAOCHA_ENV", "development") == "production"
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'haocha.db'}"
    redis_url = os.environ.get("REDIS_URL", "")
    settings: dict[str, Any] = {
        "HAOCHA_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance_path, production),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No ping at every checkout (a round trip per request): a connection idle longer than
        # this is pinged before use (core.db), and a disconnect met mid-request invalidates the pool.
        "DB_PING_AFTER_IDLE_S": float(os.environ.get("DB_PING_AFTER_IDLE_S", "10")),
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000")),
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        # Redis down: count in memory (per worker) with a logged warning instead of failing
        # requests, and give up on a dead server quickly rather than hang each request.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
        "RATELIMIT_ENABLED": _env_bool("RATELIMIT_ENABLED", True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "PROXY_COUNT": int(os.environ.get("PROXY_COUNT", "0")),
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "").rstrip("/"),
        # Hosts a request may name besides PUBLIC_BASE_URL's (comma-separated; production only).
        "TRUSTED_HOSTS": [h.strip() for h in os.environ.get("TRUSTED_HOSTS", "").split(",") if h.strip()] or None,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # The largest request body accepted (413 above it); nothing the app takes is bigger.
        "MAX_CONTENT_LENGTH": int(os.environ.get("MAX_CONTENT_LENGTH", str(1024 * 1024))),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # 实时上报: the provincial platform's receiving URL (empty: the outbox fills, nothing is
        # sent), the shared HMAC-SHA256 signing secret, and the per-request timeout.
        "REPORTING_URL": os.environ.get("REPORTING_URL", "").strip(),
        "REPORTING_SECRET": os.environ.get("REPORTING_SECRET", ""),
        "REPORTING_TIMEOUT_SECONDS": float(os.environ.get("REPORTING_TIMEOUT_SECONDS", "10")),
        # Requests in flight at once (each to a different service event), over a kept connection pool.
        "REPORTING_CONCURRENCY": int(os.environ.get("REPORTING_CONCURRENCY", "32")),
        # Acknowledged rows older than this are pruned (counted in the acknowledgement log first).
        "REPORTING_RETENTION_DAYS": int(os.environ.get("REPORTING_RETENTION_DAYS", "30")),
        # The delivery job logs a warning while the oldest owed report is older than this.
        "REPORTING_LAG_WARNING_SECONDS": float(os.environ.get("REPORTING_LAG_WARNING_SECONDS", "300")),
        # Citizen SMS (core.messages): log|http (unset: http when a gateway URL is set), the
        # city's gateway URL, the shared HMAC-SHA256 signing secret, and the per-request timeout.
        "SMS_SENDER": os.environ.get("SMS_SENDER", "").strip().lower(),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL", "").strip(),
        "SMS_GATEWAY_SECRET": os.environ.get("SMS_GATEWAY_SECRET", ""),
        "SMS_GATEWAY_TIMEOUT_SECONDS": float(os.environ.get("SMS_GATEWAY_TIMEOUT_SECONDS", "10")),
        "SCHEDULER_EMBEDDED": _env_bool("SCHEDULER_EMBEDDED", False),
        "SCHEDULER_HEARTBEAT_SECONDS": int(os.environ.get("SCHEDULER_HEARTBEAT_SECONDS", "30")),
        "SCHEDULER_LOCK_FILE": os.environ.get("SCHEDULER_LOCK_FILE", str(instance_path / "scheduler.lock")),
        # job_runs rows older than this are pruned (never one whose tick is still current).
        "SCHEDULER_RUNS_RETENTION_DAYS": int(os.environ.get("SCHEDULER_RUNS_RETENTION_DAYS", "3")),
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_LIFETIME_HOURS": int(os.environ.get("SESSION_LIFETIME_HOURS", "12")),
        "PASSWORD_ARGON2_MEMORY_KIB": int(os.environ.get("PASSWORD_ARGON2_MEMORY_KIB", "19456")),
        "PASSWORD_ARGON2_TIME_COST": int(os.environ.get("PASSWORD_ARGON2_TIME_COST", "2")),
        "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_CHECK_DEFAULT": False,  # core.app checks CSRF on pages, not the token API
        # flask-smorest / OpenAPI
        "API_TITLE": "haocha 12345 & 好差评 API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/assets/",
    }
    for name, default in DOMAIN_DEFAULTS.items():
        raw = os.environ.get(name)
        settings[name] = default if raw is None else _coerce(raw, default)
    return settings
