"""Reference data: Hainan's regions, departments (承办单位) and service items (政务服务事项).

Service functions flush, never commit; the caller (a view or a CLI command) commits once.
"""

import json
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import bindparam, func, select

from core.db import db, mapped_columns
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import Department, Region, ServiceItem, User
from core.prepared import PreparedLookup, as_loaded, in_session


def region_data() -> dict[str, Any]:
    """The bundled list of Hainan's cities and counties."""
    text = resources.files("core").joinpath("data/hainan_regions.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_regions() -> int:
    """Insert or update every bundled region; returns how many there are."""
    regions = region_data()["regions"]
    existing = {r.code: r for r in db.session.scalars(select(Region))}
    for item in regions:
        row = existing.get(item["code"])
        if row is None:
            db.session.add(Region(code=item["code"], name=item["name"], name_en=item.get("name_en", "")))
        else:
            row.name, row.name_en = item["name"], item.get("name_en", "")
    db.session.flush()
    return len(regions)


@cache
def _region_lookup() -> tuple[PreparedLookup, tuple[str, ...]]:
    names, columns = mapped_columns(Region)
    return PreparedLookup(select(*columns).where(Region.code == bindparam("code"))), names


def get_region(code: str) -> Region:
    """The region of this code, in the session (one prepared statement: every ticket asks)."""
    lookup, names = _region_lookup()
    row = lookup.first(code=code)
    if row is None:
        raise ValidationFailed("Unknown region.", {"region_code": [f"No region with code {code}."]})
    return in_session(as_loaded(Region, names, row))


def get_department(code: str) -> Department:
    dept = db.session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"No department with code {code}.")
    return dept


def department_ref(code: str | None, field: str) -> Department | None:
    """The department a request names in `field`, None when it names none, 422 when unknown."""
    if not code:
        return None
    dept = db.session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        raise ValidationFailed("Unknown department.", {field: [f"No department with code {code}."]})
    return dept


def create_department(data: dict[str, Any]) -> Department:
    if db.session.scalar(select(func.count()).where(Department.code == data["code"])):
        raise Conflict("A department with this code exists.", {"code": ["Already used."]})
    get_region(data["region_code"])
    parent = department_ref(data.get("parent_code"), "parent_code")
    dept = Department(
        code=data["code"],
        name=data["name"],
        name_en=data.get("name_en", ""),
        region_code=data["region_code"],
        parent_id=parent.id if parent else None,
    )
    db.session.add(dept)
    db.session.flush()
    return dept


def update_department(code: str, data: dict[str, Any]) -> Department:
    dept = get_department(code)
    if "region_code" in data:
        dept.region_code = get_region(data["region_code"]).code
    if "parent_code" in data:
        parent = department_ref(data["parent_code"], "parent_code")
        if parent is not None and _is_descendant_or_self(parent, dept):
            raise ValidationFailed("A department cannot sit under itself.", {"parent_code": ["Cycle."]})
        dept.parent_id = parent.id if parent else None
    for key in ("name", "name_en", "active"):
        if key in data:
            setattr(dept, key, data[key])
    db.session.flush()
    return dept


def _is_descendant_or_self(candidate: Department, root: Department) -> bool:
    node: Department | None = candidate
    while node is not None:
        if node.id == root.id:
            return True
        node = node.parent
    return False


def list_departments(region_code: str | None = None, q: str | None = None) -> list[Department]:
    stmt = select(Department).order_by(Department.region_code, Department.code)
    if region_code:
        stmt = stmt.where(Department.region_code == region_code)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(Department.name.ilike(like) | Department.code.ilike(like) | Department.name_en.ilike(like))
    return list(db.session.scalars(stmt))


def department_staff(dept: Department) -> list[User]:
    return list(db.session.scalars(select(User).where(User.department_id == dept.id).order_by(User.username)))


def service_item_ref(code: str | None, field: str) -> ServiceItem | None:
    """The service item a request names in `field`, None when it names none, 422 when unknown."""
    if not code:
        return None
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is None:
        raise ValidationFailed("Unknown service item.", {field: [f"No service item with code {code}."]})
    return item


def get_service_item(code: str) -> ServiceItem:
    item = db.session.scalar(select(ServiceItem).where(ServiceItem.code == code))
    if item is None:
        raise NotFound(f"No service item with code {code}.")
    return item


def create_service_item(data: dict[str, Any]) -> ServiceItem:
    if db.session.scalar(select(func.count()).where(ServiceItem.code == data["code"])):
        raise Conflict("A service item with this code exists.", {"code": ["Already used."]})
    dept = department_ref(data["department_code"], "department_code")
    assert dept is not None
    item = ServiceItem(
        code=data["code"],
        name=data["name"],
        name_en=data.get("name_en", ""),
        category=data.get("category", ""),
        keywords=data.get("keywords", ""),
        department_id=dept.id,
        is_public=data.get("is_public", True),
    )
    db.session.add(item)
    db.session.flush()
    return item


def update_service_item(code: str, data: dict[str, Any]) -> ServiceItem:
    item = get_service_item(code)
    if "department_code" in data:
        dept = department_ref(data["department_code"], "department_code")
        assert dept is not None
        item.department_id = dept.id
    for key in ("name", "name_en", "category", "keywords", "is_public", "active"):
        if key in data:
            setattr(item, key, data[key])
    db.session.flush()
    return item


def list_service_items(department_code: str | None = None, q: str | None = None) -> list[ServiceItem]:
    stmt = select(ServiceItem).order_by(ServiceItem.code)
    if department_code:
        stmt = stmt.join(Department, ServiceItem.department_id == Department.id).where(
            Department.code == department_code
        )
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            ServiceItem.name.ilike(like) | ServiceItem.code.ilike(like) | ServiceItem.keywords.ilike(like)
        )
    return list(db.session.scalars(stmt))
