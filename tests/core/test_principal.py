"""The staff member behind a credential, built from one prepared statement's row (core.principal)."""

from datetime import timedelta
from typing import Any

import factories as f
import pytest
from flask import request
from sqlalchemy import event, inspect

from core.auth import _BEARER, _SESSION, _load_from_bearer, token_digest
from core.db import db, utcnow
from core.models import ApiToken, Department, Region, Role, StaffSession, User


def _statements() -> list[str]:
    """Statements run from now on (the lookup's own cursor among them: its listeners see it)."""
    seen: list[str] = []

    @event.listens_for(db.session.connection(), "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    return seen


def _fresh_handler() -> tuple[dict[str, str], int, int]:
    department = f.department(region="460100")
    staff = f.user(Role.HANDLER, department)
    headers = f.bearer(staff)
    ids = staff.id, department.id
    db.session.expunge_all()  # as a new request's session: nothing held
    return headers, *ids


def test_a_bearer_token_gives_a_persistent_user_with_department_and_region(app, database):
    headers, user_id, department_id = _fresh_handler()
    with app.test_request_context("/api/v1/me", headers=headers):
        seen = _statements()
        user = _load_from_bearer(request)
        assert user is not None and user.id == user_id and user.via_token
        assert user.role is Role.HANDLER and user.active is True
        assert user.department is not None and user.department.id == department_id
        assert user.department.region.code == "460100" and user.department.region.name
        # One statement: department and region came with the row, no lazy load.
        assert len(seen) == 1 and "FROM users" in seen[0] and "api_tokens.token_hash" in seen[0]
        state = inspect(user)
        assert state.persistent and not state.modified
        assert db.session.get(User, user_id) is user
        assert db.session.get(Department, department_id) is user.department
        assert db.session.get(Region, "460100") is user.department.region
        assert not (db.session.new or db.session.dirty)
        # A column left out of the statement loads on first use, as an expired one does.
        assert user.password_hash.startswith("$argon2id$")
        assert len(seen) == 2 and "password_hash" in seen[1]


def test_the_built_user_is_tracked_like_a_loaded_one(app, database):
    headers, user_id, _ = _fresh_handler()
    with app.test_request_context("/api/v1/me", headers=headers):
        user = _load_from_bearer(request)
        assert user is not None
        user.display_name = "王主任"
        assert user in db.session.dirty
        db.session.flush()
        db.session.expunge_all()
        assert db.session.get(User, user_id).display_name == "王主任"


def test_a_user_the_session_already_holds_is_used_as_it_is(app, database):
    staff = f.user(Role.MANAGER)
    headers = f.bearer(staff)
    with app.test_request_context("/api/v1/me", headers=headers):
        assert _load_from_bearer(request) is staff


def test_a_user_without_department_and_refused_tokens(app, database):
    staff = f.user(Role.MANAGER)
    headers = f.bearer(staff)
    db.session.expunge_all()
    with app.test_request_context("/api/v1/me", headers=headers):
        user = _load_from_bearer(request)
        assert user is not None and user.department is None and user.role is Role.MANAGER
    with app.test_request_context("/api/v1/me", headers={"Authorization": "Bearer not-a-token"}):
        assert _load_from_bearer(request) is None


@pytest.mark.parametrize("change", ["revoked", "expired", "inactive"])
def test_the_statement_refuses_what_it_must(app, database, change):
    staff = f.user(Role.AGENT)
    headers = f.bearer(staff)
    token = headers["Authorization"].removeprefix("Bearer ")
    row = db.session.query(ApiToken).filter_by(token_hash=token_digest(token)).one()
    if change == "revoked":
        row.revoked_at = utcnow()
    elif change == "expired":
        row.expires_at = utcnow()
    else:
        staff.active = False
    db.session.flush()
    assert _BEARER.first(digest=token_digest(token), now=utcnow()) is None


def test_a_staff_session_is_refused_once_expired_or_revoked(app, database):
    staff = f.user(Role.AGENT)
    token = "a-session-token"
    row = StaffSession(token_hash=token_digest(token), user_id=staff.id, expires_at=utcnow() + timedelta(minutes=1))
    db.session.add(row)
    db.session.flush()
    with app.test_request_context():
        found = _SESSION.first(digest=token_digest(token), now=utcnow())
        assert found is not None and found[0] == staff.id
        assert _SESSION.first(digest=token_digest(token), now=utcnow() + timedelta(minutes=2)) is None
        row.revoked_at = utcnow()
        db.session.flush()
        assert _SESSION.first(digest=token_digest(token), now=utcnow()) is None
