"""Staff accounts: creation and validation of roles and departments, password strength, and the
account controls of admins (deactivate, activate, list and revoke bearer tokens)."""

import re
from datetime import datetime

from sqlalchemy import select, update
from zxcvbn import zxcvbn

from core.auth import hash_password, token_digest
from core.db import db, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import ApiToken, Department, Role, StaffSession, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
MIN_PASSWORD_LENGTH = 12
# zxcvbn's scale: 0-2 fall to an online or a fast offline guessing attack; 3 is "safely
# unguessable" for an account behind rate limits and argon2.
MIN_PASSWORD_SCORE = 3
# zxcvbn measures time per character; nobody types more than this, and an attacker's megabyte
# must not cost a second of CPU.
PASSWORD_CHECK_CHARS = 100
TOO_GUESSABLE = (
    "密码太容易被猜到：请用至少12个字符，几个不常见的词组合最好。"
    " / The password is too easy to guess: use at least 12 characters; a few uncommon words work well."
)


def check_password_strength(password: str, *user_inputs: str) -> None:
    """ASVS: at least 12 characters, any characters allowed, no composition rules; and not easy to
    guess by zxcvbn's estimate (repeats like aaaaaaaaaaaa, common passwords, the username)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "Password too short.",
            {"password": [f"至少{MIN_PASSWORD_LENGTH}个字符 / At least {MIN_PASSWORD_LENGTH} characters."]},
        )
    result = zxcvbn(password[:PASSWORD_CHECK_CHARS], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_PASSWORD_SCORE:
        hint = result["feedback"].get("warning") or ""
        raise ValidationFailed("Password too weak.", {"password": [TOO_GUESSABLE + (f" ({hint})" if hint else "")]})


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
    check_password_strength(password, username, display_name)
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


# -- account controls ---------------------------------------------------------------------------


def get_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("User not found.")
    return user


def set_active(user: User, active: bool, actor: User | None = None, *, now: datetime | None = None) -> User:
    """Activate or deactivate an account. Deactivating ends the user's web sessions and revokes
    their bearer tokens at once (activating again does not bring them back). Admins cannot
    deactivate themselves, so the last way in is never locked by mistake."""
    if not active and actor is not None and actor.id == user.id:
        raise Conflict("You cannot deactivate your own account.")
    now = now or utcnow()
    user.active = active
    if not active:
        db.session.execute(
            update(StaffSession)
            .where(StaffSession.user_id == user.id, StaffSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        db.session.execute(
            update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
        )
    db.session.flush()
    return user


def list_tokens(user: User) -> list[ApiToken]:
    """A user's bearer tokens, newest first (their values are never stored, so never shown)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def find_token(token_or_id: str) -> ApiToken:
    """A token by its id (as `tokens list` shows it) or by its value."""
    value = token_or_id.strip()
    if value.isdigit() and len(value) < 19:
        row = db.session.get(ApiToken, int(value))
    else:
        row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(value)))
    if row is None:
        raise NotFound("Token not found.")
    return row


def revoke_token(token: ApiToken, *, now: datetime | None = None) -> ApiToken:
    """Refuse the token from the next request on; revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
    db.session.flush()
    return token


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """active, revoked or expired."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
