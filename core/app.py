"""The application factory."""

import importlib
import importlib.util
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, current_app, redirect, request, url_for
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from config import load_settings
from core.auth import Unauthorized, init_auth
from core.db import db, init_db, set_write_intent
from core.errors import error_payload, init_errors, wants_json
from core.extensions import csrf, limiter, migrate
from core.i18n import init_i18n
from core.input_guard import init_input_guard
from core.logs import init_request_logging
from core.metrics import init_metrics
from core.scheduler import add_jobs
from core.security import init_security
from core.templating import init_templating
from core.unit_of_work import UnitOfWorkFlask, init_unit_of_work

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Domain packages, in the direction data flows; each has init_app(app, api).
DOMAIN_PACKAGES = ("hotline", "hotline.open311", "ratings", "callbacks", "reports")


def _on_unauthorized(_error: Unauthorized) -> Any:
    if wants_json():
        body = error_payload(401, "Sign in or send a valid bearer token.")
        return body, 401, {"WWW-Authenticate": 'Bearer realm="haocha"'}
    return redirect(url_for("core_pages.login", next=request.full_path.rstrip("?")))


CSRF_FREE_PREFIXES = ("/api/", "/open311/")


def _before_request() -> None:
    # Every request reads in autocommit and begins its transaction at the first write statement
    # (core.db), so authentication and validation run outside the write lock.
    set_write_intent(False)
    # The API authenticates writes with bearer tokens or API keys, never cookies (core.auth),
    # so only pages need CSRF tokens.
    if current_app.config["WTF_CSRF_ENABLED"] and not request.path.startswith(CSRF_FREE_PREFIXES):
        csrf.protect()


def _warn_about_limits(app: Flask) -> None:
    """Production without Redis still starts (one server, one worker is a valid deployment), but
    every limit then counts per worker process: say so loudly at every start."""
    if app.config["HAOCHA_ENV"] == "production" and not app.config.get("REDIS_URL"):
        logging.getLogger("haocha.limits").warning(
            "REDIS_URL is not set: rate limits and rating-fraud counters are kept per worker process, "
            "so each limit is multiplied by the number of gunicorn workers. Set REDIS_URL in production."
        )


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (and, for tests, explicit overrides)."""
    instance = Path(os.environ.get("HAOCHA_INSTANCE_PATH", PROJECT_ROOT / "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    app = UnitOfWorkFlask("haocha", instance_path=str(instance), root_path=str(PROJECT_ROOT / "core"))
    app.config.update(load_settings(instance))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(PROJECT_ROOT / name.replace(".", "/") / "translations") for name in ("core", *DOMAIN_PACKAGES)
    )
    if overrides:
        app.config.update(overrides)
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]

    init_request_logging(app)
    _warn_about_limits(app)
    init_db(app)
    init_unit_of_work(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    init_auth(app)
    init_i18n(app)
    csrf.init_app(app)
    limiter.init_app(app)
    init_errors(app)
    init_input_guard(app)
    init_security(app)
    init_templating(app)
    init_metrics(app)
    app.register_error_handler(Unauthorized, _on_unauthorized)
    app.before_request(_before_request)

    from core import cli, jobs, pages, views
    from core.api import make_api

    api = make_api(app)
    app.register_blueprint(pages.bp)
    api.register_blueprint(views.blp)
    cli.register(app)
    add_jobs(app, jobs.JOBS)

    for name in DOMAIN_PACKAGES:
        if importlib.util.find_spec(name) is None:
            continue
        package = importlib.import_module(name)
        init = getattr(package, "init_app", None)
        if init is not None:
            init(app, api)

    app.add_url_rule("/favicon.ico", "favicon", lambda: Response(status=204))
    return app
