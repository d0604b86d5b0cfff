"""Staff authentication and authorisation.

- Passwords: argon2id (OWASP ASVS 5.0 parameters, from config).
- Web sessions: a random token in the signed cookie, its hash in `staff_sessions`; sign-out
  revokes the row, so a replayed cookie is refused.
- API: `Authorization: Bearer TOKEN`, stored only as a SHA-256 hash, refused once revoked or
  expired. Over the API a browser session is honoured for safe (read-only) methods only, so the
  API needs no CSRF token.
- A deactivated user is refused from the next request on, by session and by token alike.
- One decorator, `roles_required`, for role checks; `department_scope` for the rule that a
  handler never sees another department's objects (404, not 403, so nothing leaks).
"""

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, Request, Response, current_app, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user, login_user, logout_user
from sqlalchemy import ColumnElement, bindparam, or_, select

from core.db import db, note_snapshot, snapshot_column, utcnow
from core.errors import Forbidden, NotFound
from core.models import ApiToken, Role, StaffSession, User
from core.prepared import PreparedLookup
from core.principal import principal_select, staff_member

P = ParamSpec("P")
R = TypeVar("R")

login_manager = LoginManager()
login_manager.login_view = "core_pages.login"
login_manager.session_protection = None  # the server-side session row is the protection
# With protection off Flask-Login never compares its identifier (a hash of the caller's address
# and user agent), yet computes it for every request and stores it in the cookie at sign-in.
login_manager._session_identifier_generator = str

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _credential(model: type[ApiToken] | type[StaffSession], unexpired: ColumnElement[bool]) -> PreparedLookup:
    """A credential found by the hash of its secret, with its active user, while not revoked and
    `unexpired`: one prepared statement (core.principal)."""
    return PreparedLookup(
        principal_select(model.id, snapshot_column())
        .join(model, model.user_id == User.id)
        .where(model.token_hash == bindparam("digest"), model.revoked_at.is_(None), unexpired, User.active.is_(True))
    )


_BEARER = _credential(ApiToken, or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")))
_SESSION = _credential(StaffSession, StaffSession.expires_at > bindparam("now"))


def token_digest(token: str) -> str:
    """The stored form of a bearer or session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=current_app.config["PASSWORD_ARGON2_TIME_COST"],
        memory_cost=current_app.config["PASSWORD_ARGON2_MEMORY_KIB"],
        parallelism=1,
    )


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(user: User, password: str) -> bool:
    """Check a password; rehash in place when the configured parameters have changed."""
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None. Takes the same time for unknown names."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher().hash(password)  # equalise timing so usernames cannot be probed
        return None
    return user if verify_password(user, password) else None


def start_session(user: User) -> None:
    """Sign a user in: record a server-side session and put its token in the cookie."""
    token = secrets.token_urlsafe(32)
    hours = current_app.config["SESSION_LIFETIME_HOURS"]
    db.session.add(
        StaffSession(
            token_hash=token_digest(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=hours),
            ip=request.remote_addr or "",
        )
    )
    user.session_token = token
    # A CSRF token seen before sign-in (on a shared machine, or planted) is not carried over.
    session.pop("csrf_token", None)
    login_user(user)


def end_session() -> None:
    """Sign out: revoke the server-side session so the cookie can never be replayed."""
    token = getattr(current_user, "session_token", None)
    if token:
        row = db.session.scalar(select(StaffSession).where(StaffSession.token_hash == token_digest(token)))
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
    logout_user()


def issue_api_token(user: User, name: str = "", expires_days: int | None = None) -> str:
    """Create a bearer token, valid for `expires_days` days (None: until revoked); the plain value
    is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    db.session.add(ApiToken(token_hash=token_digest(token), user_id=user.id, name=name, expires_at=expires_at))
    return token


@login_manager.user_loader
def _load_from_session(token: str) -> User | None:
    row = _SESSION.first(digest=token_digest(token), now=utcnow())
    if row is None:
        return None
    user, (_, snapshot) = staff_member(row)
    note_snapshot(db.session.connection(), snapshot)
    user.session_token = token
    return user


@login_manager.request_loader
def _load_from_bearer(req: Any) -> User | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    token = header[len("Bearer ") :].strip()
    row = _BEARER.first(digest=token_digest(token), now=utcnow())
    if row is None:
        return None
    user, (token_id, snapshot) = staff_member(row)
    note_snapshot(db.session.connection(), snapshot)
    user.via_token = True
    g.api_token_id = token_id
    return user


class Unauthorized(Exception):
    """No valid credentials: 401 on the API, a redirect to the sign-in page elsewhere."""


def current_staff() -> User | None:
    """The signed-in staff member for this request, honouring the API's session rule."""
    if not current_user.is_authenticated:
        return None
    user: User = current_user._get_current_object()
    if request.path.startswith("/api/") and not user.via_token and request.method not in SAFE_METHODS:
        return None
    return user


def carries_staff_credentials() -> bool:
    """Whether this request comes with any staff credential: a signed-in session cookie (on any
    method) or an `Authorization: Bearer` header, valid or not. Used where staff must never act
    (a citizen's rating), so a staff browser cannot slip through the API's cookie rule."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return True
    return bool(current_user and current_user.is_authenticated)


def roles_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow only signed-in staff with one of `roles` (401 when not signed in, 403 otherwise)."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            user = current_staff()
            if user is None:
                raise Unauthorized()
            if roles and not user.has_role(*roles):
                raise Forbidden("Your role may not do this.")
            return view(*args, **kwargs)

        wrapper.required_roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorator


def require_staff() -> User:
    """The current staff member inside a `roles_required` view."""
    user = current_staff()
    if user is None:
        raise Unauthorized()
    return user


def visible_department_id(user: User) -> int | None:
    """The department a user is confined to, or None when they see every department."""
    return user.department_id if user.role == Role.HANDLER else None


def ensure_visible(user: User, department_id: int | None, what: str = "Object") -> None:
    """404 when a handler asks for another department's object, so its existence stays hidden."""
    scope = visible_department_id(user)
    if scope is not None and department_id != scope:
        raise NotFound(f"{what} not found.")


T = TypeVar("T")


def get_visible(model: type[T], ident: Any, user: User | None, what: str) -> T:
    """The row of `model` with this id, 404 when there is none or when `user` is a handler of
    another department (None: the system, which sees everything). The row needs `department_id`."""
    row = db.session.get(model, ident) if ident is not None else None
    if row is None:
        raise NotFound(f"{what} not found.")
    if user is not None:
        ensure_visible(user, row.department_id, what)  # type: ignore[attr-defined]
    return row


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, which builds its signing serializer only for a request that
    brings a session cookie (saving builds it only for a session with something in it): an API
    call with a bearer token, or a citizen's rating, does not pay for it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """As Flask's, without working out the cookie's seven attributes for an empty session with
        no cookie to delete (every API call with a bearer token, every citizen's page)."""
        if not session and not session.modified:
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_auth(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
    login_manager.init_app(app)
