"""The staff member behind a credential (a bearer token, a session cookie), found by one statement.

Every authenticated request pays for this, so it is kept lean. The statement (the credential's row
joined to its active user, the user's department and that department's region) is a
`core.prepared.PreparedLookup`, run on the request connection's own DBAPI cursor; the row then
becomes the User (with its Department and Region) by `core.prepared.as_loaded`, and the user joins
the session, its department and region with it, as if a query had loaded them. Relationships,
lazy loads (of the columns left out, such as the password hash), flushes and expiry behave as
usual. An object the session already holds is used as it is.
"""

from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import InstrumentedAttribute

from core.models import Department, Region, User
from core.prepared import as_loaded, in_session

# What a request needs of its staff member; the rest (password hash, creation times) loads on use.
USER_COLUMNS = ("id", "username", "display_name", "role", "department_id", "locale", "active")
DEPARTMENT_COLUMNS = ("id", "code", "name", "name_en", "region_code", "parent_id", "active")
REGION_COLUMNS = ("code", "name", "name_en")
_WIDTHS = (len(USER_COLUMNS), len(DEPARTMENT_COLUMNS), len(REGION_COLUMNS))


def principal_select(*extra: ColumnElement[Any] | InstrumentedAttribute[Any]) -> Select[Any]:
    """SELECT the staff member's columns (user, department, region) and then `extra`, from users
    outer-joined to their department and its region; the caller joins its credential and filters."""
    return (
        select(
            *(User.__table__.c[name] for name in USER_COLUMNS),
            *(Department.__table__.c[name] for name in DEPARTMENT_COLUMNS),
            *(Region.__table__.c[name] for name in REGION_COLUMNS),
            *extra,
        )
        .select_from(User)
        .outerjoin(Department, Department.id == User.department_id)
        .outerjoin(Region, Region.code == Department.region_code)
    )


def staff_member(row: tuple[Any, ...]) -> tuple[User, tuple[Any, ...]]:
    """The User of a `principal_select` row (with its department and region), and the row's extra
    columns."""
    users, departments, regions = _WIDTHS
    user_values = row[:users]
    department_values = row[users : users + departments]
    region_values = row[users + departments : users + departments + regions]
    department = None
    if department_values[0] is not None:
        region = as_loaded(Region, REGION_COLUMNS, region_values)
        department = as_loaded(Department, DEPARTMENT_COLUMNS, department_values, region=region)
    user = as_loaded(User, USER_COLUMNS, user_values, department=department)
    in_session(user)  # its department and region with it
    return user, row[users + departments + regions :]
