"""Shared fixtures: every test runs on SQLite and, when TEST_DATABASE_URL is set, on that
database too, inside a transaction that is rolled back afterwards (SQLAlchemy 2's "join a
session into an external transaction" recipe)."""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import settings
from sqlalchemy.orm import Session, scoped_session, sessionmaker
from tests_support import build_app, build_app_with, postgres_scratch_database, reset_schema

from core.calendar import invalidate_calendar
from core.db import db

# Property tests: `make test` tries a dozen examples each; .ci/run sets HYPOTHESIS_PROFILE=thorough
# (tests that name their own max_examples keep it).
settings.register_profile("quick", max_examples=12, deadline=None)
settings.register_profile("thorough", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _compile_catalogs() -> None:
    """Compile stale .mo files, so `pytest` alone works as well as `make test`."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in PROJECT_ROOT.glob("*/translations/*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src:
                catalog = read_po(src)
            with mo.open("wb") as dst:
                write_mo(dst, catalog)


_compile_catalogs()

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
# TEST_SKIP_SQLITE=1 runs only TEST_DATABASE_URL (CI runs SQLite in a run of its own first).
BACKENDS = ([] if TEST_DATABASE_URL and os.environ.get("TEST_SKIP_SQLITE") == "1" else ["sqlite"]) + (
    ["postgresql"] if TEST_DATABASE_URL else []
)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app per backend for the whole session, its schema created once."""
    os.environ.setdefault("HAOCHA_INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = TEST_DATABASE_URL
    application = build_app(url)
    reset_schema(application)
    yield application
    with application.app_context():
        db.engine.dispose()


class TestScopedSession(scoped_session[Session]):
    """Outlives the app contexts of the requests a test makes; closed when the test ends.

    At the end of each request (Flask-SQLAlchemy calls `remove`) it rolls back what the request
    did not commit, exactly as production's session does when it closes: a view that flushed a
    write and never committed loses it here too."""

    def remove(self) -> None:
        self.registry().rollback()

    def close_for_good(self) -> None:
        super().remove()


@pytest.fixture
def database(app: Flask) -> Iterator[Any]:
    """The db handle, with db.session bound to a connection whose transaction is rolled back."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        factory = sessionmaker(bind=connection, class_=Session, join_transaction_mode="create_savepoint")
        session = TestScopedSession(factory)
        db.session = session  # type: ignore[method-assign]
        invalidate_calendar()
        try:
            yield db
        finally:
            session.close_for_good()
            db.session = original  # type: ignore[method-assign]
            outer.rollback()
            connection.close()
            invalidate_calendar()


@pytest.fixture
def client(app: Flask, database: Any) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask, database: Any) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def ctx(app: Flask, database: Any) -> Iterator[None]:
    """A request context, for service tests that need one (e.g. url_for)."""
    with app.test_request_context():
        yield


@pytest.fixture
def fresh_app(app: Flask, tmp_path: Path) -> Iterator[Flask]:
    """An app on a new, empty database of the same backend as `app`, committing for real.

    For tests that need real commits across threads or processes (concurrency, crash safety).
    Use `with fresh_app.app_context():` and commit as production code does.
    """
    with app.app_context():
        backend = db.engine.dialect.name
    if backend == "sqlite":
        application = build_app_with(f"sqlite:///{tmp_path / 'fresh.db'}", create_schema=True)
        yield application
        with application.app_context():
            db.engine.dispose()
    else:
        for url in postgres_scratch_database():
            application = build_app_with(url, create_schema=True)
            yield application
            with application.app_context():
                db.engine.dispose()


class SmsOutbox:
    """Captures what core.messages hands to the SMS sender; `deliver()` runs the sending job."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def deliver(self) -> list[Any]:
        from core import messages

        before = len(self.sent)
        messages.deliver_due()
        return self.sent[before:]

    def links(self) -> list[str]:
        """The /rate/ links in the messages sent so far, in order."""
        import re

        return [m for msg in self.sent for m in re.findall(r"(?:https?://[^\s/]+)?/rate/[^\s?]+", msg.body)]


@pytest.fixture
def sms() -> Iterator[SmsOutbox]:
    from core import messages

    outbox = SmsOutbox()
    messages.set_sender(outbox.sent.append)
    yield outbox
    messages.set_sender(None)
