"""Helpers for tests that need an app of their own (another database or other settings)."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.app import create_app
from core.db import Base, db
from core.refdata import load_regions

TEST_CONFIG: dict[str, Any] = {
    "TESTING": True,
    "WTF_CSRF_ENABLED": False,
    "RATELIMIT_ENABLED": False,
    "SESSION_COOKIE_SECURE": False,
    "SECRET_KEY": "test-secret-key-not-for-production",
    # The test client rates from 127.0.0.1, the address that issued its tokens a moment before:
    # the fraud signals would hold every rating. Tests of the signals rate from other addresses
    # and set these back (tests/ratings/test_rating_integrity.py).
    "REVIEW_EXEMPT_NETWORKS": ["127.0.0.0/8"],
    "REVIEW_STAFF_TOKEN_SECONDS": 0,
}


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh app context, as a server does, even while a test holds one
    (otherwise `g` would carry the signed-in user and the locale from one request to the next)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def build_app(url: str, **overrides: Any) -> Flask:
    application = create_app({**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url, **overrides})
    application.test_client_class = IsolatedClient
    return application


def reset_schema(app: Flask) -> None:
    """Drop and create every table, then load the reference regions."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        load_regions()
        db.session.commit()


def build_app_with(url: str, create_schema: bool = False, **overrides: Any) -> Flask:
    app = build_app(url, **overrides)
    if create_schema:
        reset_schema(app)
    return app


def postgres_scratch_database() -> Iterator[str]:
    """A new, empty PostgreSQL database beside TEST_DATABASE_URL's, dropped afterwards."""
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"haocha_scratch_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def app_with_limits(url: str, **overrides: Any) -> Iterator[Flask]:
    """An app on a new database with rate limiting on (memory storage unless overridden); the
    shared limiter is switched back and the engine disposed afterwards."""
    from core.extensions import limiter

    was_enabled = limiter.enabled
    app = build_app_with(
        url, create_schema=True, **{"RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://", **overrides}
    )
    try:
        yield app
    finally:
        limiter.enabled = was_enabled
        # The limiter is one object for every app in the process, and init_app does not reset its
        # "storage is down" flag: after a Redis-down test, later apps would count partly in the
        # old fallback storage and partly in their own.
        limiter._storage_dead = False
        with app.app_context():
            db.engine.dispose()
