"""Staff accounts: creation and validation of roles and departments."""

import re

from sqlalchemy import select

from core.auth import hash_password
from core.db import db
from core.errors import Conflict, ValidationFailed
from core.models import Department, Role, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD_LENGTH = 12


def check_password_strength(password: str) -> None:
    """ASVS: at least 12 characters, any characters allowed, no composition rules."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("Password too short.", {"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]})


def create_user(
    username: str,
    role: str,
    password: str,
    department_code: str | None = None,
    display_name: str = "",
) -> User:
    """Create a staff account; a handler must belong to a department."""
    if not USERNAME_RE.match(username):
        raise ValidationFailed("Invalid username.", {"username": ["3-64 letters, digits, . _ -"]})
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise ValidationFailed("Unknown role.", {"role": [f"One of {', '.join(r.value for r in Role)}."]}) from exc
    check_password_strength(password)
    if db.session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict("Username taken.", {"username": ["Already used."]})
    department = None
    if department_code:
        department = db.session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise ValidationFailed("Unknown department.", {"department": [f"No department {department_code}."]})
    if role_value == Role.HANDLER and department is None:
        raise ValidationFailed("A handler needs a department.", {"department": ["Required for handlers."]})
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role_value,
        department_id=department.id if department else None,
    )
    db.session.add(user)
    db.session.flush()
    return user
