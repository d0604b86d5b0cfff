"""Open311 API keys: issued by `flask apikeys create NAME`, shown once, stored as SHA-256 hashes,
revocable. Functions flush; the caller commits."""

import hashlib
import re
import secrets

from sqlalchemy import select

from core.db import db, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from hotline.open311.models import ApiKey

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A recognisable prefix (for secret scanners, and so a key never starts with "-" on a command line).
PREFIX = "o311_"


def key_digest(raw: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(raw.encode()).hexdigest()


def active_key(name: str) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))


def create_key(name: str) -> tuple[ApiKey, str]:
    """A new key for the client NAME; the plain key is returned once and never stored."""
    if not NAME.match(name):
        raise ValidationFailed("Invalid name.", {"name": ["Letters, digits, . _ - (1-64)."]})
    if active_key(name) is not None:
        raise Conflict(f"An active key named {name} exists; revoke it first.", {"name": ["In use."]})
    raw = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, key_hash=key_digest(raw), created_at=utcnow())
    db.session.add(key)
    db.session.flush()
    return key, raw


def revoke_key(name: str) -> ApiKey:
    """Revoke the active key named NAME: from now on it is refused with 403."""
    key = active_key(name)
    if key is None:
        raise NotFound(f"No active key named {name}.")
    key.revoked_at = utcnow()
    db.session.flush()
    return key


def list_keys() -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).order_by(ApiKey.name, ApiKey.created_at)))


def find_active(raw: str) -> ApiKey | None:
    """The active key with this plain value, or None."""
    if not raw:
        return None
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == key_digest(raw)))
    return key if key is not None and key.active else None
