"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import func, select
from tests_support import build_app_with, postgres_scratch_database

from core.db import Base, db
from core.models import Region


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrated.db"
    elif not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL not set: PostgreSQL migrations run in CI")
    else:
        yield from postgres_scratch_database()


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
