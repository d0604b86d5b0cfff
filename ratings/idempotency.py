"""`Idempotency-Key` on the public rating API: a retry with the same key and body gets the first
201 again; the same key with another body is refused (422). Records live RATING_IDEMPOTENCY_HOURS
and are swept by the token sweep job."""

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Response, current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.db import db, utcnow
from core.errors import Conflict, ValidationFailed
from ratings.models import IdempotencyRecord

HEADER = "Idempotency-Key"
RATINGS = "ratings"
MAX_KEY_LENGTH = 128


def key_from(header: str | None) -> str | None:
    """The request's key (the header's value), or None; 422 for an empty, overlong or
    non-printable key."""
    key = header
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed("Invalid Idempotency-Key.", {HEADER: [f"1-{MAX_KEY_LENGTH} printable characters."]})
    return key


def fingerprint(data: Mapping[str, Any]) -> str:
    """A digest of the validated request body, independent of key order."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _ttl() -> timedelta:
    return timedelta(hours=int(current_app.config["RATING_IDEMPOTENCY_HOURS"]))


def replay(scope: str, key: str, request_hash: str) -> Response | None:
    """The stored response for this key, or None when the key is new (or has lapsed)."""
    record = db.session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at > utcnow() - _ttl(),
        )
    )
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise ValidationFailed(
            "This Idempotency-Key was used with a different request.", {HEADER: ["Use a new key for a new request."]}
        )
    response = Response(record.body, status=record.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember(scope: str, key: str, request_hash: str, response: Response) -> None:
    """Store a response in the caller's transaction, so it exists exactly when its effect does.
    Two requests racing with one key and different bodies (say, two tokens) both miss `replay`;
    on PostgreSQL the second insert then waits for the first and hits the unique key: that is
    the caller's conflict (409, and its rating rolls back with it), not a server error."""
    db.session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at <= utcnow() - _ttl(),
        )
    )
    record = IdempotencyRecord(
        scope=scope,
        key=key,
        request_hash=request_hash,
        status_code=response.status_code,
        body=response.get_data(as_text=True),
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
    except IntegrityError as exc:
        raise Conflict(
            "This Idempotency-Key is in use by another request.", {HEADER: ["Use a new key for a new request."]}
        ) from exc


def sweep() -> int:
    """Delete lapsed records; returns how many."""
    result = db.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= utcnow() - _ttl()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
