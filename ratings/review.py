"""Fraud signals and the manager's review of held ratings (评价精准).

A rating that looks staged is stored, but held as *pending review*: it is left out of every
official figure (statistics, callbacks, provincial reporting) until a manager confirms it (it
then counts, as of that moment) or rejects it (voided, audited, never deleted). The signals, and
why each exists, are in docs/ratings.md; their thresholds live in config/domain.py.

Addresses are never stored: a rating keeps keyed hashes of its address and network, enough to
count recent ratings from the same place and nothing more.
"""

import hashlib
import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select, text

from core.db import db, is_postgresql, utcnow
from core.errors import Conflict, Forbidden
from core.models import Role, User
from core.signals import rating_recorded
from ratings import audit
from ratings.models import IssuedVia, Rating, RatingStatus, ServiceEvent

ISSUER_ADDRESS = "issuer_address"
ADDRESS_BURST = "address_burst"
NETWORK_BURST = "network_burst"
INSTANT_STAFF_TOKEN = "instant_staff_token"  # noqa: S105 (a reason code, not a secret)
DEPARTMENT_BURST = "department_burst"
REASONS = (ISSUER_ADDRESS, ADDRESS_BURST, NETWORK_BURST, INSTANT_STAFF_TOKEN, DEPARTMENT_BURST)


def _cfg(key: str) -> Any:
    return current_app.config[key]


@dataclass(frozen=True)
class Client:
    """Where a citizen's rating came from: the request's (proxy-corrected) address."""

    address: str

    def _network(self) -> str:
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:
            return self.address
        prefix = 24 if ip.version == 4 else 48
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))

    def _keyed(self, value: str) -> str:
        key = str(_cfg("SECRET_KEY")).encode()
        return hmac.new(key, f"haocha:client:{value}".encode(), hashlib.sha256).hexdigest()[:32]

    @property
    def address_hash(self) -> str:
        return self._keyed(self.address)

    @property
    def network_hash(self) -> str:
        return self._keyed(self._network())

    @property
    def exempt(self) -> bool:
        """A registered counter device or service-hall network, where everyone shares an address."""
        try:
            ip = ipaddress.ip_address(self.address)
        except ValueError:
            return False
        for network in _cfg("REVIEW_EXEMPT_NETWORKS") or []:
            try:
                if ip in ipaddress.ip_network(str(network), strict=False):
                    return True
            except ValueError:
                continue
        return False


def _serialize_per_network(client: Client) -> None:
    """Make counting and inserting atomic per network on PostgreSQL (a transaction-scoped advisory
    lock), so twenty concurrent ratings cannot all see nine before them. SQLite writers are
    serialised already (BEGIN IMMEDIATE)."""
    if is_postgresql():
        key = int(client.network_hash[:15], 16)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _recent(column: Any, value: str, since: datetime) -> int:
    stmt = select(func.count()).select_from(Rating).where(column == value, Rating.created_at >= since)
    return int(db.session.scalar(stmt) or 0)


def _department_burst(event: ServiceEvent, level: int, now: datetime) -> bool:
    """Far more ratings of this level in the last hour than the department's own hourly average."""
    if event.department_id is None:
        return False
    hour_ago = now - timedelta(hours=1)
    same = (Rating.department_id == event.department_id, Rating.level == level, Rating.assess_number == 1)
    recent = int(db.session.scalar(select(func.count()).where(*same, Rating.created_at >= hour_ago)) or 0) + 1
    if recent < int(_cfg("REVIEW_BURST_MIN")):
        return False
    days = int(_cfg("REVIEW_BURST_BASELINE_DAYS"))
    baseline = int(
        db.session.scalar(
            select(func.count()).where(
                *same, Rating.created_at >= now - timedelta(days=days), Rating.created_at < hour_ago
            )
        )
        or 0
    )
    return recent > float(_cfg("REVIEW_BURST_FACTOR")) * baseline / (days * 24)


def hold_reasons(event: ServiceEvent, level: int, client: Client | None, now: datetime | None = None) -> list[str]:
    """Why a citizen's rating of `event` should wait for review; empty when it counts at once.

    Called inside the rating's transaction, before the insert (see _serialize_per_network).
    """
    if client is None:
        return []
    now = now or utcnow()
    reasons: list[str] = []
    if not client.exempt:
        _serialize_per_network(client)
        if _cfg("REVIEW_SAME_ADDRESS") and event.issuer_address and event.issuer_address == client.address:
            reasons.append(ISSUER_ADDRESS)
        since = now - timedelta(minutes=int(_cfg("REVIEW_ADDRESS_WINDOW_MINUTES")))
        if _recent(Rating.client_hash, client.address_hash, since) >= int(_cfg("REVIEW_ADDRESS_MAX")):
            reasons.append(ADDRESS_BURST)
        if _recent(Rating.client_net_hash, client.network_hash, since) >= int(_cfg("REVIEW_NETWORK_MAX")):
            reasons.append(NETWORK_BURST)
    if event.issued_via == IssuedVia.STAFF:
        age = (now - event.created_at).total_seconds()
        if age < float(_cfg("REVIEW_STAFF_TOKEN_SECONDS")):
            reasons.append(INSTANT_STAFF_TOKEN)
    if _department_burst(event, level, now):
        reasons.append(DEPARTMENT_BURST)
    return reasons


# --- the manager's review ------------------------------------------------------------------


def _audit(action: str, rating: Rating, actor: User, note: str) -> None:
    detail = {"note": note, "reasons": rating.review_reasons or []}
    audit.record(action, actor, detail, event_id=rating.event_id, rating_id=rating.id)


def _decide(rating: Rating, manager: User, now: datetime) -> None:
    if manager.role != Role.MANAGER:
        raise Forbidden("Only managers review held ratings.")
    if not rating.is_pending_review:
        raise Conflict("This rating is not waiting for review.", {"status": [rating.status.value]})
    rating.reviewed_by_id = manager.id
    rating.reviewed_at = now


def confirm(rating: Rating, manager: User, note: str = "", *, now: datetime | None = None) -> Rating:
    """The rating is genuine: it counts from now on, and what follows a rating (a bad review's
    callback, the provincial report) happens now."""
    _decide(rating, manager, now or utcnow())
    rating.status = RatingStatus.VALID
    _audit("review.confirmed", rating, manager, note.strip())
    db.session.flush()
    rating_recorded.send(current_app._get_current_object(), rating=rating, stored_now=False)  # type: ignore[attr-defined]
    return rating


def reject(rating: Rating, manager: User, note: str = "", *, now: datetime | None = None) -> Rating:
    """The rating was staged: voided (kept, audited, never counted)."""
    now = now or utcnow()
    _decide(rating, manager, now)
    rating.void(now)
    _audit("review.rejected", rating, manager, note.strip())
    db.session.flush()
    return rating


def pending_query(filters: Mapping[str, Any] | None = None) -> Select[Rating]:
    """Ratings held for review, oldest first."""
    stmt = select(Rating).where(Rating.status == RatingStatus.PENDING).order_by(Rating.created_at, Rating.id)
    filters = filters or {}
    if filters.get("department_id"):
        stmt = stmt.where(Rating.department_id == filters["department_id"])
    return stmt
