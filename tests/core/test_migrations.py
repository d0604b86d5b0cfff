"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import os
import uuid
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests_support import build_app_with

from core.db import Base, db
from core.models import Region


def _postgres_scratch_database() -> Iterator[str]:
    base = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"haocha_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.db"
    elif not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL migrations run in CI")
    else:
        yield from _postgres_scratch_database()


def test_upgrade_head_matches_the_models(scratch_url):
    app = build_app_with(scratch_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        assert db.session.scalar(select(func.count()).select_from(Region)) == 19
        db.session.remove()
        db.engine.dispose()
