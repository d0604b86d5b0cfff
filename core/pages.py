"""Staff sign-in and sign-out, the home page, the health check, every staff member's
notifications, and the admins' account page."""

import logging
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select, text
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core import notify, users
from core.auth import authenticate, current_staff, end_session, require_staff, roles_required, start_session
from core.db import db
from core.errors import DomainError
from core.extensions import limiter
from core.models import Role, User
from core.unit_of_work import discard

bp = Blueprint("core_pages", __name__)
log = logging.getLogger("haocha.pages")

# Links on the staff home page, contributed by the domain packages: (endpoint, label, roles).
NAV_LINKS: list[tuple[str, Any, tuple[str, ...]]] = []


def add_nav_link(endpoint: str, label: Any, *roles: str) -> None:
    """Offer a page on the staff home page to the given roles (label: a lazy_gettext string)."""
    if not any(link[0] == endpoint for link in NAV_LINKS):
        NAV_LINKS.append((endpoint, label, roles))


# Figures the domain packages add to /healthz (e.g. the reporting backlog): shown, never a failure.
HEALTH_FIGURES: dict[str, Callable[[], Any]] = {}


def add_health_figure(name: str, figure: Callable[[], Any]) -> None:
    """Show `name: figure()` in /healthz; a figure that fails shows null and never fails the check."""
    HEALTH_FIGURES[name] = figure


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


class BadNext(DomainError):
    """`next` holds control characters: no browser sends that by itself."""

    status = 400


def _check_next(target: str | None) -> None:
    """Control characters (CR LF, NUL, ...) in `next` are an attack on the redirect or its
    header: refuse the request (400) before anything is done, never a 500 after sign-in. A tab is
    left to `_safe_next`, which sends it home (browsers drop tabs: /<tab>/evil is //evil)."""
    if target and any(unicodedata.category(char).startswith("C") and char != "\t" for char in target):
        raise BadNext(_("The return address is not valid."))


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths (/hotline/...), so the sign-in page cannot be used as an open
    redirect: no scheme, no host, no // or /\\ (browsers read both as another host); anything
    else goes to the home page."""
    home = url_for("core_pages.home")
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\") or any(c.isspace() for c in target):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return home
    return target


@bp.route("/")
def home() -> str:
    staff = current_staff()
    links = []
    if staff is not None:
        links = [
            {"url": url_for(endpoint), "label": label}
            for endpoint, label, roles in NAV_LINKS
            if staff.role.value in roles
        ]
    return render_template("home.html", staff=staff, staff_links=links)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def login() -> Any:
    _check_next(request.args.get("next"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong username or password.")
    elif request.method == "POST":
        error = _("Please fill in both fields.")
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    end_session()
    return redirect(url_for("core_pages.login"))


def redis_health() -> str | None:
    """'ok' or 'down' for the Redis behind the shared rate limits; None when none is configured."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=0.3, socket_timeout=0.3)
    try:
        client.ping()
    except redis.RedisError:
        return "down"
    finally:
        client.close()
    return "ok"


@bp.route("/healthz")
def healthz() -> Any:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:
        db.session.rollback()
        return {"status": "error", "database": "unavailable"}, 503
    body: dict[str, Any] = {"status": "ok", "database": "ok"}
    redis_state = redis_health()
    if redis_state is not None:
        body["redis"] = redis_state
        if redis_state != "ok":
            body["status"] = "degraded"  # limits count per worker until Redis is back
    for name, figure in HEALTH_FIGURES.items():
        try:
            body[name] = figure()
        except Exception:
            log.exception("health figure %s failed", name)
            body[name] = None
        db.session.rollback()
    return body


# -- notifications -----------------------------------------------------------------------------

add_nav_link("core_pages.notifications", _l("Notifications"), *(r.value for r in Role))


@bp.route("/hotline/notifications", methods=["GET", "POST"])
@roles_required(*Role)
def notifications() -> Any:
    """The signed-in staff member's unread notifications (督办, extension requests, cases...),
    each linking to its subject's page where its package registered one; POST marks them all
    read. (The URL is older than this page's place in core.)"""
    staff = require_staff()
    if request.method == "POST":
        notify.mark_all_read(staff)
        return redirect(url_for(".notifications"))
    return render_template("notifications.html", notes=notify.unread_for(staff, limit=200))


# -- account controls (admins) ------------------------------------------------------------------

add_nav_link("core_pages.accounts", _l("Staff accounts"), Role.ADMIN.value)


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def accounts() -> str:
    """Every staff account, with deactivate / activate buttons."""
    staff = require_staff()
    rows = list(db.session.scalars(select(User).order_by(User.username)))
    return render_template("admin_users.html", staff=staff, users=rows)


@bp.route("/admin/users/<username>")
@roles_required(Role.ADMIN)
def account(username: str) -> str:
    """One account and its bearer tokens, each revocable."""
    user = users.get_user(username)
    return render_template("admin_user.html", user=user, tokens=users.list_tokens(user), state=users.token_state)


def _set_active(username: str, active: bool) -> Response:
    user = users.get_user(username)
    try:
        users.set_active(user, active, require_staff())
    except DomainError as error:
        discard()
        flash(_("You cannot deactivate your own account.") if error.status == 409 else error.message, "error")
        return redirect(url_for(".accounts"))
    flash(_("%(name)s activated.", name=username) if active else _("%(name)s deactivated.", name=username), "notice")
    return redirect(url_for(".accounts"))


@bp.route("/admin/users/<username>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate_account(username: str) -> Response:
    """Deactivate an account: its sessions and tokens end at once."""
    return _set_active(username, False)


@bp.route("/admin/users/<username>/activate", methods=["POST"])
@roles_required(Role.ADMIN)
def activate_account(username: str) -> Response:
    """Activate an account again."""
    return _set_active(username, True)


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(Role.ADMIN)
def revoke_token(token_id: int) -> Response:
    """Revoke one bearer token: refused from the next request on."""
    token = users.revoke_token(users.find_token(str(token_id)))
    username = token.user.username
    flash(_("Token %(id)s revoked.", id=token_id), "notice")
    return redirect(url_for(".account", username=username))
