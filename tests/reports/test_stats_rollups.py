"""The rollups plus the not-yet-folded changes equal a direct computation over the raw ratings:
after inserts, voids by an upheld appeal, department corrections, ratings held for review and
then confirmed or rejected, around Asia/Shanghai midnight, with folds at any point in between,
and after a bulk rebuild. A rating's transaction writes no shared row."""

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import factories as f
import ratings_counts as rc
import ratings_factories as rf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from stats_support import by_group, every_folded, every_raw, every_rollup, queued, rating

from core.calendar import local_date
from core.db import db, utcnow
from core.models import Department, Role
from ratings import appeals
from ratings.models import RatingStatus
from reports.stats import fold, service
from reports.stats.models import FoldState
from reports.stats.service import Filters

# 2026-03-31 16:00 UTC is midnight of April 1 in Asia/Shanghai: a day, month and quarter boundary.
MIDNIGHT = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


def test_a_new_rating_is_counted_on_its_local_day(database):
    dept = f.department()
    before = rating(MIDNIGHT - timedelta(seconds=1), 5, dept)
    after = rating(MIDNIGHT, 1, dept)
    db.session.flush()
    assert (before.local_day.isoformat(), after.local_day.isoformat()) == ("2026-03-31", "2026-04-01")
    march = service.satisfaction(Filters(before.local_day, before.local_day, department_id=dept.id))
    april = service.satisfaction(Filters(after.local_day, after.local_day, department_id=dept.id))
    assert (march["valid"], march["satisfaction_rate"]) == (1, 1.0)
    assert (april["valid"], april["bad_rate"]) == (1, 1.0)
    assert every_rollup() == every_raw()


def test_an_upheld_appeal_leaves_the_figures_at_once(database):
    dept = f.department()
    handler, manager = f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    bad = rf.rate(rf.event(dept), 1)
    rf.rate(rf.event(dept), 5)
    today = local_date(utcnow())
    filters = Filters(today, today, department_id=dept.id)
    assert service.satisfaction(filters)["bad_rate"] == 0.5
    appeal = appeals.file_appeal(bad, handler, "malicious", "恶意差评")
    appeals.decide_appeal(appeal, manager, True)
    db.session.commit()
    figures = service.satisfaction(filters)
    assert (figures["total"], figures["valid"], figures["bad_rate"]) == (2, 1, 0.0)
    raw = rc.satisfaction_summary(today, today, department_id=dept.id)
    assert {k: figures[k] for k in raw} == raw
    assert every_rollup() == every_raw()


def test_a_corrected_department_moves_the_rating(database):
    first, second = f.department(), f.department()
    row = rating(MIDNIGHT, 2, first)
    db.session.commit()
    row.department_id = second.id  # callbacks' verification may correct it (expired object)
    db.session.commit()
    day = local_date(MIDNIGHT)
    grouped = service.satisfaction(Filters(day, day), "department")
    keys = {g["key"]: g["valid"] for g in grouped["groups"]}
    assert str(first.id) not in keys and keys[str(second.id)] == 1
    assert every_rollup() == every_raw()


def test_rebuild_gives_the_same_rollups(database):
    dept = f.department()
    item = f.service_item(dept)
    for i, level in enumerate([1, 2, 3, 4, 5, 5]):
        rating(MIDNIGHT + timedelta(hours=i * 7), level, dept, item, channel=1 + i % 3, is_default=i == 5)
    db.session.flush()
    incremental = every_rollup()
    assert queued() > 0
    service.rebuild_rollups()
    assert every_rollup() == incremental == every_raw()
    assert queued() == 0 and every_folded() == incremental


MOMENTS = st.integers(min_value=-3 * 3600, max_value=3 * 3600).map(lambda s: MIDNIGHT + timedelta(seconds=s))
ACTIONS = st.lists(
    st.tuples(
        MOMENTS,
        st.integers(1, 5),  # level
        st.integers(0, 2),  # department (0: none)
        st.integers(1, 6),  # channel
        st.integers(1, 2),  # rater type
        st.booleans(),  # system default
        st.booleans(),  # low trust
        st.sampled_from(["keep", "void", "move", "void and move", "held", "held, confirmed", "held, rejected"]),
        st.sampled_from(["never", "after insert", "after change", "both"]),  # when the job folds
    ),
    min_size=1,
    max_size=12,
)
WIDE = Filters(local_date(MIDNIGHT) - timedelta(days=1), local_date(MIDNIGHT) + timedelta(days=1), include_default=True)


def served(group_by: str, column: str) -> dict[object, tuple[int, ...]]:
    """What the statistics queries read (rollups + tail) against the raw rows, per group."""
    return dict(service.counts(WIDE, group_by)), by_group(column)


def assert_exact() -> None:
    assert every_rollup() == every_raw()
    for group_by, column in (("department", "department_id"), ("channel", "channel"), ("day", "local_day")):
        read, raw = served(group_by, column)
        assert read == raw, group_by


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_rollups_and_tail_equal_the_raw_rows_for_random_data(database, actions):
    """Cumulative over the examples: whatever came before, and wherever the job folded,
    rollups + tail == raw rows, and the statistics queries read exactly that."""
    depts = [None, f.department(), f.department()]
    made = []
    for moment, level, dept, channel, rater, default, low, then, folds in actions:
        status = RatingStatus.PENDING if "held" in then else RatingStatus.VALID
        row = rating(
            moment,
            level,
            depts[dept],
            channel=channel,
            rater_type=rater,
            is_default=default,
            low_trust=low,
            status=status,
        )
        made.append((row, then, folds))
        db.session.flush()
        if folds in ("after insert", "both"):
            fold.fold()
            assert queued() == 0
    assert_exact()
    for row, then, folds in made:
        if "void" in then or "rejected" in then:
            row.void()
        if "confirmed" in then:
            row.status = RatingStatus.VALID
        if "move" in then:
            row.department_id = depts[2].id if row.department_id != depts[2].id else depts[1].id
        db.session.commit()
        if folds in ("after change", "both"):
            fold.fold()
            assert every_folded() == every_raw() and queued() == 0
    assert_exact()


def test_a_rating_writes_no_shared_row(client):
    """No hot rows: a rating's transaction inserts its own rows and updates none of the rollups
    or the watermark (the fold job alone writes those)."""
    dept = f.department()
    token = rf.event(dept).token
    fold.fold()  # the watermark row exists from here on
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()).lower())

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.post("/api/v1/ratings", json={"token": token, "level": 2, "comment": "太慢"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.json
    writes = [s for s in statements if s.startswith(("insert", "update", "delete"))]
    assert any(s.startswith("insert into stats_rating_changes") for s in writes)
    shared = ("stats_rating_days", "stats_department_days", "stats_channel_days", "stats_fold_state")
    assert not [s for s in writes if any(name in s for name in shared)], writes
    assert every_rollup() == every_raw()


def test_a_fold_moves_the_queue_into_the_rollups_once(database):
    dept = f.department()
    for level in (1, 3, 5):
        rating(MIDNIGHT, level, dept)
    db.session.commit()
    assert queued() == 3 and every_folded() == {name: Counter() for name in every_folded()}
    assert fold.fold() == 3
    state = db.session.get(FoldState, 1)
    token = state.token
    assert queued() == 0 and every_folded() == every_raw()
    assert fold.fold() == 0  # twice: nothing left to add twice
    assert every_folded() == every_raw() and db.session.get(FoldState, 1).token == token
    day = local_date(MIDNIGHT)
    assert service.satisfaction(Filters(day, day, department_id=dept.id))["valid"] == 3


def test_the_fold_takes_batches_and_commits_each(database, app):
    dept = f.department()
    for i in range(7):
        rating(MIDNIGHT + timedelta(minutes=i), 1 + i % 5, dept)
    db.session.commit()
    assert fold.fold_batch(3) == 3
    assert queued() == 4 and every_rollup() == every_raw()
    assert fold.fold(limit=3) == 4
    assert queued() == 0 and every_folded() == every_raw()


def test_the_answer_cache_outlives_writes_elsewhere_and_never_serves_stale_figures(ctx):
    here, elsewhere = f.department(), f.department()
    rating(MIDNIGHT, 5, here)
    db.session.commit()
    fold.fold()
    day = local_date(MIDNIGHT)
    filters = Filters(day, day, department_id=here.id)
    first = service.satisfaction_json(filters)
    assert json.loads(first)["valid"] == 1
    rating(MIDNIGHT, 1, elsewhere)  # another department: this answer still stands
    db.session.commit()
    assert service.satisfaction_json(filters) is first
    late = rating(MIDNIGHT, 1, here)  # here, not folded yet: seen at once
    db.session.commit()
    second = json.loads(service.satisfaction_json(filters))
    assert (second["valid"], second["bad_rate"]) == (2, 0.5)
    fold.fold()
    assert json.loads(service.satisfaction_json(filters)) == second
    late.void()  # a change after the fold: seen at once too
    db.session.commit()
    third = json.loads(service.satisfaction_json(filters))
    assert (third["total"], third["valid"], third["bad_rate"]) == (2, 1, 0.0)


def test_two_folders_at_once_never_count_a_change_twice(fresh_app):
    """Writers and two folders racing, committing for real: afterwards the rollups hold each
    rating once (on PostgreSQL the folders skip each other's rows; on SQLite they queue)."""
    with fresh_app.app_context():
        depts = [f.department(), f.department()]
        db.session.commit()
        dept_ids = [d.id for d in depts]
        db.session.remove()
    writing = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        with fresh_app.app_context():
            try:
                for i in range(40):
                    dept = db.session.get(Department, dept_ids[(n + i) % 2])
                    row = rating(MIDNIGHT + timedelta(minutes=i), 1 + (n + i) % 5, dept)
                    db.session.commit()
                    if i % 3 == 0:
                        row.void()
                        db.session.commit()
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    def folder() -> None:
        with fresh_app.app_context():
            try:
                while writing.is_set():
                    fold.fold(limit=7)
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    writing.set()
    folders = [threading.Thread(target=folder) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in folders + writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    writing.clear()
    for thread in folders:
        thread.join(120)
    assert not errors, errors
    with fresh_app.app_context():
        fold.fold()
        assert queued() == 0
        assert every_folded() == every_raw()
        assert sum(every_raw()["stats_rating_days"].values()) == 120
        db.session.remove()


def test_a_change_made_from_stale_memory_counts_from_the_stored_row(fresh_app):
    """One session moves a rating while another, holding it as it was, voids it: the second
    change is worked out from the row as stored (the move included), not from its memory."""
    from sqlalchemy.orm import Session

    from ratings.models import Rating

    with fresh_app.app_context():
        first, second = f.department(), f.department()
        row = rating(MIDNIGHT, 2, first)
        db.session.flush()
        rating_id, second_id = row.id, second.id
        db.session.commit()  # nothing loaded after this: SQLite has one writer at a time
        other = Session(db.engine, expire_on_commit=False)
        stale = other.get(Rating, rating_id)
        other.commit()  # its transaction ends; the object keeps the first department
        row.department_id = second_id
        db.session.commit()
        stale.void()
        other.commit()
        other.close()
        db.session.expire_all()
        assert (row.department_id, row.status) == (second_id, RatingStatus.VOIDED)
        assert every_rollup() == every_raw()
        fold.fold()
        assert every_folded() == every_raw()
        db.session.remove()


def test_the_fold_job_is_scheduled_and_has_a_command(runner, app):
    from core.scheduler import scheduled_jobs

    assert [(j.name, j.seconds(app.config)) for j in scheduled_jobs(app) if j.name == "reports.stats-fold"] == [
        ("reports.stats-fold", app.config["STATS_FOLD_SECONDS"])
    ]
    rating(MIDNIGHT, 4, f.department())
    db.session.commit()
    assert queued() == 1
    result = runner.invoke(args=["stats", "fold"])
    assert result.exit_code == 0 and "1 changes folded" in result.output
    assert queued() == 0 and every_folded() == every_raw()
