"""The command line of API.md: users, tokens, calendar, demo."""

from datetime import date
from pathlib import Path

from sqlalchemy import func, inspect, select

from core.calendar import is_working_day, local_date
from core.db import db, utcnow
from core.models import Department, Role, ServiceItem, User
from ratings.models import Rating

SCHEDULE_2026 = Path(__file__).resolve().parents[1] / "data" / "cn-holidays-2026.json"


def test_users_create_with_password_on_stdin(runner):
    result = runner.invoke(
        args=["users", "create", "zhangsan", "--role", "manager", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "zhangsan"))
    assert user is not None and user.role == Role.MANAGER


def test_users_create_refuses_weak_password_and_handler_without_department(runner):
    weak = runner.invoke(args=["users", "create", "lisi", "--role", "agent", "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "12" in weak.output
    no_dept = runner.invoke(
        args=["users", "create", "wangwu", "--role", "handler", "--password-stdin"], input="a long enough password\n"
    )
    assert no_dept.exit_code != 0 and "department" in no_dept.output.lower()


def test_tokens_create_prints_token_alone_on_last_line(runner, client):
    runner.invoke(
        args=["users", "create", "tokuser", "--role", "agent", "--password-stdin"], input="a long enough password\n"
    )
    result = runner.invoke(args=["tokens", "create", "tokuser"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert " " not in token and len(token) >= 40
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json["username"] == "tokuser"
    assert runner.invoke(args=["tokens", "create", "nobody"]).exit_code != 0


def test_calendar_load(runner, tmp_path):
    result = runner.invoke(args=["calendar", "load", str(SCHEDULE_2026)])
    assert result.exit_code == 0, result.output
    assert "2026" in result.output and "6 make-up workdays" in result.output
    assert is_working_day(date(2026, 10, 10))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    failed = runner.invoke(args=["calendar", "load", str(bad)])
    assert failed.exit_code != 0


def test_demo_load_is_realistic_and_idempotent(runner):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "demo_manager" in result.output
    departments = db.session.scalar(select(func.count()).select_from(Department))
    items = db.session.scalar(select(func.count()).select_from(ServiceItem))
    assert departments >= 19 * 5 and items >= departments
    roles = set(db.session.scalars(select(User.role)))
    assert roles == set(Role)
    again = runner.invoke(args=["demo", "load", "--if-empty"])
    assert again.exit_code == 0 and "not empty" in again.output
    assert db.session.scalar(select(func.count()).select_from(Department)) == departments


def test_demo_ratings_load_keeps_every_index_and_readable_times(runner):
    """The bulk load drops the secondary indexes for speed (SQLite) and makes them again."""

    def indexes():
        inspector = inspect(db.engine)
        return {t: sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(t)) for t in TABLES}

    before = indexes()
    assert all(before.values())
    result = runner.invoke(args=["demo", "load", "--ratings", "500"])
    assert result.exit_code == 0, result.output
    db.session.rollback()
    assert indexes() == before
    times = db.session.scalars(select(Rating.created_at)).all()
    assert len(times) == 500 and all(t.tzinfo is not None and t <= utcnow() for t in times)
    assert {local_date(t) for t in times} == set(db.session.scalars(select(Rating.local_day)))


TABLES = ("ratings", "service_events")
