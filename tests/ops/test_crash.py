"""Crash safety under gunicorn: SIGKILL of the master and workers mid-run loses no answered
rating and doubles none (bench/crash_test.py, at N=300, on each test backend)."""

import sys
from pathlib import Path

import pytest
from tests_support import postgres_scratch_database

from core.db import db

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from crash_test import run_crash_test

N = 300


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_killing_gunicorn_mid_run_loses_and_doubles_no_rating(app, tmp_path):
    with app.app_context():
        backend = db.engine.dialect.name
    if backend == "sqlite":
        report = run_crash_test(f"sqlite:///{tmp_path / 'crash.db'}", N, tmp_path)
        assert report.integrity == "ok"
    else:
        for url in postgres_scratch_database():
            report = run_crash_test(url, N, tmp_path)
    assert report.ok, report.summary()
    assert len(report.killed_pids) == 3  # the master and both workers
    assert report.answered_before_kill.get("201", 0) >= N * 0.4
    assert report.stored == N
