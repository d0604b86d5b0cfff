"""One commit point: a write request commits once after its view, a failed one (an error, or an
answer of 400 or more, or a page that discarded its work) commits nothing, and a safe request
that writes is caught. The test session rolls back at the end of each request as production's
does, so a view that flushed and never committed loses its write here too."""

from collections.abc import Iterator
from pathlib import Path

import factories as f
import pytest
from flask import Flask
from sqlalchemy import func, select
from tests_support import build_app_with

from callbacks.models import RectificationCase
from core.db import db, insert_now, insert_rows
from core.models import Region, Role
from core.unit_of_work import SafeMethodWrote, discard
from ratings.models import RatingAuditEvent, RatingToken


@pytest.fixture
def probe_app(tmp_path: Path) -> Iterator[Flask]:
    app = build_app_with(f"sqlite:///{tmp_path / 'unit.db'}", create_schema=True)

    def _region(code: str) -> Region:
        region = Region(code=code, name=f"测试{code}")
        db.session.add(region)
        db.session.flush()
        return region

    @app.post("/probe/ok/<code>")
    def ok(code: str) -> tuple[str, int]:
        _region(code)
        return "made", 201

    @app.post("/probe/refused/<code>")
    def refused(code: str) -> tuple[str, int]:
        _region(code)
        return "no", 422

    @app.post("/probe/discarded/<code>")
    def discarded(code: str) -> tuple[str, int]:
        _region(code)
        discard()
        return "shown", 200

    @app.post("/probe/raises/<code>")
    def raises(code: str) -> str:
        _region(code)
        raise RuntimeError("boom")

    @app.get("/probe/get-writes/<code>")
    def get_writes(code: str) -> str:
        _region(code)
        return "wrote"

    @app.get("/probe/get-inserts-now/<code>")
    def get_inserts_now(code: str) -> str:
        insert_now(Region(code=code, name=f"测试{code}"))
        return "wrote"

    @app.get("/probe/get-inserts-rows/<code>")
    def get_inserts_rows(code: str) -> str:
        insert_rows(Region, {"code": code, "name": f"测试{code}"})
        return "wrote"

    yield app
    with app.app_context():
        db.engine.dispose()


def _exists(app: Flask, code: str) -> bool:
    with app.app_context():
        found = db.session.get(Region, code) is not None
        db.session.remove()
        return found


def test_the_commit_point(probe_app):
    client = probe_app.test_client()
    assert client.post("/probe/ok/990001").status_code == 201
    assert _exists(probe_app, "990001")
    assert client.post("/probe/refused/990002").status_code == 422
    assert client.post("/probe/discarded/990003").status_code == 200
    assert client.post("/probe/raises/990004").status_code == 500
    assert not any(_exists(probe_app, c) for c in ("990002", "990003", "990004"))


def test_a_safe_request_that_writes_fails_under_test(probe_app, caplog):
    answer = probe_app.test_client().get("/probe/get-writes/990005")
    assert answer.status_code == 500  # any test of such a page fails
    assert SafeMethodWrote.__name__ in caplog.text and "safe methods never write" in caplog.text
    assert not _exists(probe_app, "990005")


def test_a_safe_request_that_inserts_without_a_flush_is_caught_too(probe_app, caplog):
    answer = probe_app.test_client().get("/probe/get-inserts-now/990007")
    assert answer.status_code == 500
    assert "safe methods never write" in caplog.text
    assert not _exists(probe_app, "990007")


def test_a_safe_request_that_inserts_rows_without_objects_is_caught_too(probe_app, caplog):
    answer = probe_app.test_client().get("/probe/get-inserts-rows/990008")
    assert answer.status_code == 500
    assert "safe methods never write" in caplog.text
    assert not _exists(probe_app, "990008")


def test_a_safe_request_that_writes_is_rolled_back_and_logged_in_production(probe_app, caplog):
    probe_app.config["TESTING"] = False
    try:
        assert probe_app.test_client().get("/probe/get-writes/990006").status_code == 200
    finally:
        probe_app.config["TESTING"] = True
    assert not _exists(probe_app, "990006")
    assert "safe methods never write" in caplog.text


def test_views_and_pages_never_commit_by_hand():
    root = Path(__file__).resolve().parents[2]
    files = [*root.glob("*/views.py"), *root.glob("*/pages.py"), *root.glob("*/*/views.py"), *root.glob("*/*/pages.py")]
    offenders = [
        str(p.relative_to(root)) for p in files if ".venv" not in p.parts and "session.commit" in p.read_text()
    ]
    assert files and offenders == []


def test_opening_a_published_case_writes_nothing(client, sms):
    """Regression: the case page used to renew a lapsed 追评 link on GET (a flushed, never
    committed write whose link then answered 410). It now shows only where the link was sent."""
    from callbacks_support import bad_rating, staff

    from callbacks import service
    from callbacks.models import AttemptResult, Callback, Purpose

    dept = f.department()
    people = staff(dept)
    rating = bad_rating(dept)
    verify = db.session.scalar(select(Callback).where(Callback.rating_id == rating.id))
    service.record_attempt(verify, people["agent"], AttemptResult.REACHED, answer=service.Answer(verified=True))
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    service.submit_report(case, people["handler"], "已整改")
    service.accept_case(case, people["manager"])
    report_back = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.RECTIFICATION_REPORT))
    service.record_attempt(report_back, people["agent"], AttemptResult.REACHED, "已告知")
    db.session.commit()
    sms.deliver()
    # The 追评 link lapses unused.
    for token in db.session.scalars(select(RatingToken).where(RatingToken.assess_number == 2)):
        token.expires_at = token.created_at
    db.session.commit()

    def counts() -> tuple[int, int]:
        tokens = db.session.scalar(select(func.count()).select_from(RatingToken))
        audits = db.session.scalar(select(func.count()).select_from(RatingAuditEvent))
        return tokens, audits

    before = counts()
    f.login(client, f.user(Role.MANAGER))
    page = client.get(f"/cases/{case.id}")
    assert page.status_code == 200 and "/rate/" not in page.get_data(as_text=True)
    assert counts() == before
