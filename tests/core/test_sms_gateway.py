"""The HTTP SMS-gateway sender against a stand-in gateway on 127.0.0.1 that verifies every
signature and dedupes by idempotency key: chosen by configuration, signed and keyed, retried
through the outbox, never sent twice, and the soak (scaled for `make test`; bench/sms_soak.py is
the full 200-event, 10-second-outage version)."""

import json
import time

import pytest
from sms_gateway_support import SmsGateway, soak

from core import messages
from core.db import db, utcnow

SECRET = "test-sms-secret"


@pytest.fixture
def gateway():
    server = SmsGateway(SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def http_sms(app, monkeypatch, gateway):
    """The session app's configured sender pointed at the gateway, with fast retries."""
    messages.set_sender(None)
    for key, value in {
        "SMS_SENDER": "",
        "SMS_GATEWAY_URL": gateway.url,
        "SMS_GATEWAY_SECRET": SECRET,
        "SMS_GATEWAY_TIMEOUT_SECONDS": 5.0,
        "CITIZEN_MESSAGE_RETRY_SECONDS": 0.1,
        "CITIZEN_MESSAGE_MAX_ATTEMPTS": 100,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    return app


def test_the_sender_follows_the_configuration(app, monkeypatch):
    with app.app_context():
        monkeypatch.setitem(app.config, "SMS_SENDER", "")
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", "")
        assert messages.configured_sender_name() == "log"
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", "https://sms.example/send")
        assert messages.configured_sender_name() == "http"
        monkeypatch.setitem(app.config, "SMS_SENDER", "log")
        assert messages.configured_sender_name() == "log"
        monkeypatch.setitem(app.config, "SMS_SENDER", "carrier-pigeon")
        with pytest.raises(ValueError, match="SMS_SENDER"):
            messages.configured_sender_name()


def test_a_message_is_signed_keyed_and_sent_once(database, http_sms, gateway):
    row = messages.enqueue("satisfaction", "13900001111", "评价：{link}", link="https://x.example/rate/abc")
    db.session.commit()
    assert messages.deliver_due() == "1 sent, 0 failed"
    assert row.status == "sent" and row.link is None and gateway.rejected == 0
    headers = gateway.headers[0]
    assert headers["Idempotency-Key"] == str(row.id)
    assert headers["X-Haocha-Signature"].startswith("sha256=")
    assert abs(int(headers["X-Haocha-Timestamp"]) - time.time()) < 60
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert gateway.accepted[str(row.id)] == {
        "messageId": str(row.id),
        "to": "13900001111",
        "text": "评价：https://x.example/rate/abc",
        "sentAt": int(headers["X-Haocha-Timestamp"]),
    }
    assert messages.deliver_due() == "0 sent, 0 failed"
    assert gateway.requests == 1  # never twice


def test_the_signature_detects_tampering():
    body = messages.encode_body(messages.OutgoingMessage(7, "13900001111", "评价：x"), 1700000000)
    assert json.loads(body)["messageId"] == "7"
    signature = messages.sign(SECRET, body)
    assert messages.verify(SECRET, body, signature)
    assert not messages.verify(SECRET, body.replace(b"139", b"138"), signature)
    assert not messages.verify("another-secret", body, signature)


def test_a_wrong_secret_is_refused_and_retried(database, http_sms, gateway, monkeypatch):
    monkeypatch.setitem(http_sms.config, "SMS_GATEWAY_SECRET", "not-the-gateways")
    row = messages.enqueue("satisfaction", "13900001111", "评价：{link}", link="https://x.example/rate/abc")
    db.session.commit()
    assert messages.deliver_due() == "0 sent, 1 failed"
    assert row.status == "pending" and row.last_error.startswith("HTTP 401") and gateway.rejected == 1
    assert row.link == "https://x.example/rate/abc"  # kept until it is sent


def test_an_unreachable_gateway_ends_the_round_and_messages_wait(database, http_sms, gateway):
    rows = [messages.enqueue("satisfaction", f"1390000111{n}", "评价：{link}", link=f"https://x/{n}") for n in range(3)]
    db.session.commit()
    gateway.stop()
    assert messages.deliver_due() == "0 sent, 1 failed"  # the first refusal stops the round
    assert [r.attempts for r in rows] == [1, 0, 0] and "unreachable" in rows[0].last_error
    gateway.start()
    messages.deliver_due(utcnow() + messages._backoff(1))
    assert {r.status for r in rows} == {"sent"} and len(gateway.accepted) == 3


def test_unsigned_sending_is_refused(database, http_sms, gateway, monkeypatch):
    monkeypatch.setitem(http_sms.config, "SMS_GATEWAY_SECRET", "")
    row = messages.enqueue("satisfaction", "13900001111", "评价：{link}", link="https://x.example/rate/abc")
    db.session.commit()
    messages.deliver_due()
    assert row.status == "pending" and "SMS_GATEWAY_SECRET" in row.last_error and gateway.requests == 0


@pytest.mark.slow
def test_soak_every_event_gets_exactly_one_signed_message_through_an_outage(database, http_sms, gateway):
    result = soak(gateway, events=20, outage=2.0, timeout=120)
    assert result["accepted"] == 20 and result["right_number"] == 20
    assert result["outbox"] == {"sent": 20}
    assert result["rejected_signatures"] == 0 and result["duplicates"] == 0
    assert result["most_attempts"] > 1  # the outage was felt, and ridden out by retries
