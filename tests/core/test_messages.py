"""Citizen messages: written in the transaction, sent after commit by the job, retried with
backoff when the gateway fails, given up after the limit; the link never outlives sending."""

from datetime import timedelta

import pytest

from core import messages
from core.db import db, utcnow
from core.models import CitizenMessage


class FlakyGateway:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[messages.OutgoingMessage] = []

    def __call__(self, message: messages.OutgoingMessage) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise messages.SendFailed("gateway timeout")
        self.sent.append(message)


@pytest.fixture
def gateway():
    holder: dict[str, FlakyGateway] = {}

    def install(failures: int) -> FlakyGateway:
        holder["g"] = FlakyGateway(failures)
        messages.set_sender(holder["g"])
        return holder["g"]

    yield install
    messages.set_sender(None)


def test_a_message_is_retried_with_backoff_then_sent_once(app, database, gateway):
    flaky = gateway(failures=2)
    row = messages.enqueue("follow_up", "13900001111", "追评：{link}", link="https://x.example/rate/abc")
    db.session.commit()
    now = utcnow()
    assert messages.deliver_due(now) == "0 sent, 1 failed"
    assert row.status == "pending" and row.attempts == 1 and row.next_attempt_at > now
    assert messages.deliver_due(now) == "0 sent, 0 failed"  # not due yet
    later = row.next_attempt_at + timedelta(seconds=1)
    messages.deliver_due(later)
    messages.deliver_due(row.next_attempt_at + timedelta(seconds=1))
    assert row.status == "sent" and row.attempts == 3 and row.link is None
    assert [m.body for m in flaky.sent] == ["追评：https://x.example/rate/abc"]
    messages.deliver_due(utcnow() + timedelta(days=1))
    assert len(flaky.sent) == 1  # never twice


def test_a_message_fails_for_good_after_the_limit(app, database, gateway, monkeypatch):
    monkeypatch.setitem(app.config, "CITIZEN_MESSAGE_MAX_ATTEMPTS", 2)
    gateway(failures=10)
    row = messages.enqueue("follow_up", "13900001111", "追评：{link}", link="https://x.example/rate/abc")
    db.session.commit()
    messages.deliver_due(utcnow())
    messages.deliver_due(utcnow() + timedelta(hours=2))
    assert row.status == "failed" and row.link is None and row.last_error == "gateway timeout"


def test_the_production_log_sender_delivers_nothing(app, database, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "HAOCHA_ENV", "production")
    row = messages.enqueue("satisfaction", "13900001111", "评价：{link}", link="https://x.example/rate/secret-token")
    db.session.commit()
    messages.deliver_due(utcnow())
    assert row.status == "pending" and "no SMS gateway" in row.last_error
    assert "secret-token" not in caplog.text and "13900001111" not in caplog.text


def test_a_link_needs_its_placeholder(database):
    with pytest.raises(ValueError, match="placeholder"):
        messages.enqueue("x", "13900001111", "no placeholder", link="https://x.example/rate/abc")
    assert db.session.query(CitizenMessage).count() == 0
