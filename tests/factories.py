"""Factory helpers for tests: departments, staff, tokens, sign-in."""

import itertools
from typing import Any

from flask.testing import FlaskClient

from core.auth import issue_api_token
from core.db import db
from core.models import Department, Role, ServiceItem, User
from core.refdata import create_department, create_service_item
from core.users import create_user

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def saved(obj: Any) -> Any:
    """Commit, as a request would; the test's outer transaction still rolls everything back."""
    db.session.commit()
    return obj


def department(code: str | None = None, region: str = "460100", name: str | None = None, **kw: Any) -> Department:
    code = code or f"D{next(_seq):04d}"
    return saved(create_department({"code": code, "name": name or f"测试部门{code}", "region_code": region, **kw}))


def service_item(dept: Department, code: str | None = None, **kw: Any) -> ServiceItem:
    code = code or f"S{next(_seq):04d}"
    return saved(create_service_item({"code": code, "name": f"测试事项{code}", "department_code": dept.code, **kw}))


def user(role: Role | str = Role.AGENT, dept: Department | None = None, username: str | None = None) -> User:
    role = Role(role)
    if role == Role.HANDLER and dept is None:
        dept = department()
    username = username or f"{role.value}{next(_seq)}"
    return saved(create_user(username, role.value, PASSWORD, dept.code if dept else None, username))


def bearer(staff: User) -> dict[str, str]:
    """An Authorization header for a new token of `staff`."""
    token = issue_api_token(staff, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def login(client: FlaskClient, staff: User, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"username": staff.username, "password": password})
