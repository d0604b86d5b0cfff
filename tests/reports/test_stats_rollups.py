"""The rollups equal a direct computation over the raw ratings: after inserts, voids by an
upheld appeal, department corrections, around Asia/Shanghai midnight, and after a
bulk rebuild."""

from datetime import UTC, datetime, timedelta

import factories as f
import ratings_factories as rf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stats_support import every_raw, every_rollup, rating

from core.calendar import local_date
from core.db import db, utcnow
from core.models import Role
from ratings import service as ratings_service
from ratings.models import RatingStatus
from reports.stats import service
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
    appeal = ratings_service.file_appeal(bad, handler, "malicious", "恶意差评")
    ratings_service.decide_appeal(appeal, manager, True)
    db.session.commit()
    figures = service.satisfaction(filters)
    assert (figures["total"], figures["valid"], figures["bad_rate"]) == (2, 1, 0.0)
    raw = ratings_service.satisfaction_summary(today, today, department_id=dept.id)
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
    service.rebuild_rollups()
    assert every_rollup() == incremental == every_raw()


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
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=ACTIONS)
def test_rollups_equal_the_raw_rows_for_random_data(database, actions):
    """Cumulative over the examples: whatever came before, rollups == raw rows afterwards."""
    depts = [None, f.department(), f.department()]
    made = []
    for moment, level, dept, channel, rater, default, low, then in actions:
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
        made.append((row, then))
    db.session.flush()
    for row, then in made:
        if "void" in then or "rejected" in then:
            row.void()
        if "confirmed" in then:
            row.status = RatingStatus.VALID
        if "move" in then:
            row.department_id = depts[2].id if row.department_id != depts[2].id else depts[1].id
    db.session.commit()
    assert every_rollup() == every_raw()
