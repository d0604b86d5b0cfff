"""Issuer keys and who may issue rating tokens for what (评价精准).

A rating token lets a citizen rate one department's service, so whoever issues it chooses whose
figures the rating lands in. Staff issue only for their own department (its service items, its
region); business systems and counter devices issue through issuer keys scoped to departments,
never through a person's account. Every event records who issued it, how and from where.

Functions flush, never commit.
"""

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.auth import token_digest
from core.db import db, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import Department, Region, ServiceItem, User
from core.refdata import department_ref, service_item_ref
from ratings.models import IssuedVia, Issuer

KEY_PREFIX = "iss_"
HEADER = "X-Issuer-Key"


@dataclass(frozen=True)
class IssuingParty:
    """Who is issuing: a staff member, an issuer key, or the system itself (tickets, demo)."""

    via: IssuedVia
    user: User | None = None
    issuer: Issuer | None = None
    address: str = ""

    @classmethod
    def staff(cls, user: User, address: str = "") -> "IssuingParty":
        return cls(IssuedVia.STAFF, user=user, address=address)

    @classmethod
    def key(cls, issuer: Issuer, address: str = "") -> "IssuingParty":
        return cls(IssuedVia.ISSUER, issuer=issuer, address=address)

    @property
    def allowed_department_ids(self) -> frozenset[int] | None:
        """The departments this party may issue for; None: any (the system)."""
        if self.issuer is not None:
            return frozenset(int(i) for i in self.issuer.department_ids or [])
        if self.user is not None:
            return frozenset({self.user.department_id}) if self.user.department_id else frozenset()
        return None

    @property
    def limit_key(self) -> str:
        if self.issuer is not None:
            return f"issuer:{self.issuer.id}"
        return f"user:{self.user.id}" if self.user is not None else "system"


SYSTEM = IssuingParty(IssuedVia.SYSTEM)


@dataclass
class Placement:
    """Where a service was given: department, service item and region, consistent with each other."""

    department: Department | None
    service_item: ServiceItem | None
    region_code: str | None


def _region_code(code: str | None) -> str | None:
    if not code:
        return None
    if db.session.get(Region, code) is None:
        raise ValidationFailed("Unknown region.", {"region": [f"No region with code {code}."]})
    return code


OWN_ONLY = "Rating links may be issued for your own department's services only."


def place(data: Mapping[str, Any], party: IssuingParty) -> Placement:
    """The department, item and region a new event rates, within what `party` may issue for.

    403 when the request names another department, another department's service item, or a
    region other than the department's own; the system (no party) may place anything.
    """
    item = service_item_ref(data.get("service_item"), "service_item")
    dept = department_ref(data.get("department"), "department")
    region = _region_code(data.get("region"))
    allowed = party.allowed_department_ids
    if dept is None and item is not None:
        dept = item.department
    if dept is None and allowed is not None and len(allowed) == 1:
        dept = db.session.get(Department, next(iter(allowed)))
    if allowed is not None:
        if dept is None and (region or len(allowed) > 1):
            raise ValidationFailed("Name the department.", {"department": ["Required for this issuer."]})
        if dept is not None and dept.id not in allowed:
            raise Forbidden(OWN_ONLY)
    if item is not None and dept is not None and item.department_id != dept.id:
        raise (
            Forbidden(OWN_ONLY)
            if allowed is not None
            else ValidationFailed(
                "The service item belongs to another department.", {"service_item": ["Not this department's."]}
            )
        )
    if dept is not None:
        if region and region != dept.region_code and allowed is not None:
            raise Forbidden(OWN_ONLY)
        region = region or dept.region_code
    return Placement(dept, item, region)


# --- issuer keys ---------------------------------------------------------------------------


def _departments(codes: Iterable[str]) -> list[Department]:
    found = []
    for code in codes:
        dept = db.session.scalar(select(Department).where(Department.code == code))
        if dept is None:
            raise NotFound(f"No department with code {code}.")
        found.append(dept)
    if not found:
        raise ValidationFailed("An issuer key needs at least one department.", {"department": ["Required."]})
    return found


def create_issuer(name: str, department_codes: Iterable[str]) -> tuple[Issuer, str]:
    """A new issuer key for a business system or counter device; the key is returned once."""
    name = name.strip()
    if not name:
        raise ValidationFailed("Name the issuer.", {"name": ["Required."]})
    if db.session.scalar(select(Issuer).where(Issuer.name == name)) is not None:
        raise Conflict(f"An issuer named {name} exists already.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    issuer = Issuer(
        name=name, key_hash=token_digest(key), department_ids=[d.id for d in _departments(department_codes)]
    )
    db.session.add(issuer)
    db.session.flush()
    return issuer, key


def revoke_issuer(name: str) -> Issuer:
    issuer = db.session.scalar(select(Issuer).where(Issuer.name == name))
    if issuer is None:
        raise NotFound(f"No issuer named {name}.")
    if issuer.active:
        issuer.active, issuer.revoked_at = False, utcnow()
        db.session.flush()
    return issuer


def list_issuers() -> list[Issuer]:
    return list(db.session.scalars(select(Issuer).order_by(Issuer.name)))


def authenticate_issuer(key: str) -> Issuer | None:
    """The active issuer holding this key, or None."""
    if not key.startswith(KEY_PREFIX):
        return None
    issuer = db.session.scalar(select(Issuer).where(Issuer.key_hash == token_digest(key)))
    if issuer is None or not issuer.active:
        return None
    return issuer


def department_codes(issuer: Issuer) -> list[str]:
    ids = list(issuer.department_ids or [])
    if not ids:
        return []
    return list(db.session.scalars(select(Department.code).where(Department.id.in_(ids)).order_by(Department.code)))
