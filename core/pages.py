"""Staff sign-in and sign-out, the home page, and the health check."""

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import text
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from core.auth import authenticate, current_staff, end_session, start_session
from core.db import db
from core.extensions import limiter

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


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the sign-in page cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("core_pages.home")


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
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.username.data or "", form.password.data or "")
        if user is not None:
            start_session(user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        error = _("Wrong username or password.")
    elif request.method == "POST":
        error = _("Please fill in both fields.")
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    end_session()
    db.session.commit()
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
