"""The 好差评 rules, without HTTP: tokens, recording ratings, hidden bad reviews, follow-ups,
standing QR codes, closed tickets, immutability and the rating_recorded signal."""

import re
from datetime import UTC, datetime, timedelta

import factories as f
import pytest
import ratings_factories as rf
from sqlalchemy import func, select

from core import messages
from core.auth import token_digest
from core.calendar import local_date
from core.db import ImmutableRecord, db
from core.errors import Conflict, Gone, NotFound, ValidationFailed
from core.models import Role
from core.signals import rating_recorded, ticket_closed
from ratings import audit, reading, recording, tokens
from ratings.issuers import IssuingParty
from ratings.models import (
    Channel,
    EventKind,
    Rating,
    RatingAuditEvent,
    RatingToken,
    ServiceEvent,
    TokenStatus,
)


def test_a_service_event_gets_a_long_random_token_stored_only_as_a_hash(ctx):
    dept = f.department()
    issued = rf.event(dept, service_item=None, external_ref="BJ-001", staff="A07")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", issued.token)  # 24 random bytes, >= 128 bits
    row = db.session.scalar(select(RatingToken).where(RatingToken.event_id == issued.event.id))
    assert row.token_hash == token_digest(issued.token) and issued.token not in row.token_hash
    stored = db.session.execute(select(RatingToken.token_hash, ServiceEvent.external_ref).join(RatingToken.event)).all()
    assert all(issued.token not in str(value) for pair in stored for value in pair)
    assert issued.expires_at - datetime.now(UTC) == pytest.approx(timedelta(days=7), abs=timedelta(minutes=1))
    assert issued.event.department_id == dept.id and issued.event.region_code == dept.region_code
    assert issued.rate_url.endswith(f"/rate/{issued.token}")
    assert issued.qr_url.endswith(f"/rate/{issued.token}/qr.svg")


def test_one_moment_given_at_the_entry_point_runs_through_a_rating(database):
    """`now` decides the token's expiry, when it was used, and the rating's time and local day."""
    issued_at = datetime(2026, 3, 31, 15, 50, tzinfo=UTC)  # 23:50 on March 31 in Asia/Shanghai
    issued = tokens.create_service_event({}, now=issued_at)
    assert issued.expires_at == issued_at + timedelta(days=7) and issued.event.created_at == issued_at
    rated_at = issued_at + timedelta(minutes=20)  # 00:10 on April 1 there
    rating = recording.rate_with_token(issued.token, 4, None, now=rated_at)
    assert (rating.created_at, rating.local_day.isoformat()) == (rated_at, "2026-04-01")
    db.session.expire_all()
    used = db.session.scalar(select(RatingToken).where(RatingToken.event_id == issued.event.id))
    assert used.status == TokenStatus.USED and used.used_at == rated_at

    lapsing = tokens.create_service_event({}, now=issued_at)
    week_later = issued_at + timedelta(days=7)
    assert tokens.describe_event(lapsing.event, now=week_later - timedelta(seconds=1))["token_status"] == "active"
    assert tokens.describe_event(lapsing.event, now=week_later)["token_status"] == "expired"
    with pytest.raises(Gone):
        recording.rate_with_token(lapsing.token, 5, None, now=week_later)


def test_tokens_are_never_reused(database):
    tokens = {rf.event().token for _ in range(20)}
    assert len(tokens) == 20


def test_an_empty_event_is_valid_and_unknown_codes_are_refused(database):
    assert rf.event().event.department_id is None
    with pytest.raises(ValidationFailed) as failed:
        tokens.create_service_event({"department": "NOPE"})
    assert "department" in failed.value.errors


def test_the_service_item_supplies_department_and_region(database):
    dept = f.department(region="460200")
    item = f.service_item(dept)
    event = rf.event(service_item=item.code).event
    assert (event.department_id, event.service_item_id, event.region_code) == (dept.id, item.id, "460200")


def test_a_handler_issues_for_their_own_department_only(database):
    from core.errors import Forbidden

    handler = f.user(Role.HANDLER)
    party = IssuingParty.staff(handler, "10.0.0.9")
    event = tokens.create_service_event({}, party).event
    assert event.department_id == handler.department_id
    assert (event.issued_via.value, event.created_by_id, event.issuer_address) == ("staff", handler.id, "10.0.0.9")
    other = f.department(region="460200")
    other_item = f.service_item(other)
    for body in ({"department": other.code}, {"service_item": other_item.code}, {"region": "460200"}):
        with pytest.raises(Forbidden):
            tokens.create_service_event(body, party)


def test_resolving_tokens_unknown_used_expired(database):
    with pytest.raises(NotFound):
        tokens.resolve_token("no-such-token-anywhere-at-all-000")
    issued = rf.event()
    assert tokens.resolve_token(issued.token).event.id == issued.event.id
    rf.rate(issued, 5)
    with pytest.raises(Conflict):
        tokens.resolve_token(issued.token)
    stale = rf.event()
    rf.expire(stale.token)
    with pytest.raises(Gone):
        tokens.resolve_token(stale.token)


@pytest.mark.parametrize(
    ("level", "comment", "bad", "hidden"),
    [
        (4, rf.BAD_COMMENT, False, True),
        (5, rf.GOOD_COMMENT, False, False),
        (3, "不满意", False, True),
        (2, rf.BAD_COMMENT, True, False),
        (1, "", True, False),
        (5, "", False, False),
    ],
)
def test_bad_and_hidden_bad_reviews(database, level, comment, bad, hidden):
    rating = rf.rate(rf.event(), level, comment=comment)
    assert (rating.level, rating.is_bad_review, rating.hidden_bad) == (level, bad, hidden)
    assert (rating.sentiment is None) == (not comment)


def test_the_level_the_citizen_chose_is_never_changed(database):
    rating = rf.rate(rf.event(), 4, comment=rf.BAD_COMMENT)
    assert rating.level == 4 and rating.hidden_bad
    rating.level = 2
    with pytest.raises(ImmutableRecord):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Rating, rating.id).level == 4


def test_ratings_are_never_deleted(database):
    rating = rf.rate(rf.event(), 5)
    db.session.delete(rating)
    with pytest.raises(ImmutableRecord):
        db.session.flush()
    db.session.rollback()


def test_the_denormalised_columns_follow_the_event(database):
    dept = f.department(region="460300")
    item = f.service_item(dept)
    rating = rf.rate(rf.event(dept, service_item=item.code), 3, channel=Channel.COUNTER_PAD)
    assert (rating.department_id, rating.region_code, rating.service_item_id) == (dept.id, "460300", item.id)
    assert rating.channel == 4 and rating.rater_type == 1 and rating.assess_number == 1
    assert rating.status.value == "valid" and not rating.is_default and not rating.low_trust
    assert rating.local_day == local_date(rating.created_at)


def test_exactly_one_first_rating_per_event(database):
    issued = rf.event()
    rf.rate(issued, 5)
    with pytest.raises(Conflict):
        recording.record_rating(issued.event, 1, Channel.MOBILE)
    assert db.session.scalar(select(func.count()).where(Rating.event_id == issued.event.id)) == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"reasons": ["slow"]}, "reasons"),  # reason tags on a satisfied level
        ({"contact": {"phone": "12345"}}, "contact"),
        ({"dimensions": {"overall": 9}}, "dimensions"),
        ({"dimensions": {"taste": 3}}, "dimensions"),
        ({"comment": "长" * 201}, "comment"),
        ({"anonymous": True, "contact": {"name": "张三"}}, "contact"),
    ],
)
def test_invalid_input_is_refused_before_the_token_is_used(database, fields, field):
    issued = rf.event()
    with pytest.raises(ValidationFailed) as failed:
        recording.rate_with_token(issued.token, 4, None, **fields)
    assert field in failed.value.errors
    db.session.rollback()
    assert tokens.resolve_token(issued.token).token.status == TokenStatus.ACTIVE


def test_system_channels_are_not_for_the_public(database):
    with pytest.raises(ValidationFailed):
        recording.rate_with_token(rf.event().token, 5, Channel.SYSTEM_DEFAULT)


def test_reasons_dimensions_and_contact_are_stored(database):
    rating = rf.rate(
        rf.event(),
        2,
        reasons=["slow", "attitude", "slow"],
        dimensions={"overall": 2, "attitude": 1},
        contact={"name": "李四", "phone": "+86 138-1234-5678"},
        rater_type=2,
    )
    assert rating.reasons == ["slow", "attitude"]
    assert rating.dimensions == {"overall": 2, "attitude": 1}
    assert (rating.contact_name, rating.contact_phone, rating.is_anonymous) == ("李四", "13812345678", False)
    assert rating.rater_type == 2


def test_rating_recorded_is_sent_inside_the_transaction(database):
    seen = []

    def listener(_sender, rating, **_kw):
        # The row is already flushed: a receiver can reference it in the same transaction.
        seen.append((rating.id, db.session.get(Rating, rating.id) is rating))

    rating_recorded.connect(listener)
    try:
        rating = rf.rate(rf.event(), 1)
    finally:
        rating_recorded.disconnect(listener)
    assert seen == [(rating.id, True)]


def test_every_rating_is_audited(database):
    rating = rf.rate(rf.event(), 2)
    actions = [a.action for a in audit.trail(rating)]
    assert actions == ["rating.recorded"]
    trail = db.session.scalar(select(RatingAuditEvent).where(RatingAuditEvent.rating_id == rating.id))
    trail.detail = "tampered"
    with pytest.raises(ImmutableRecord):
        db.session.flush()
    db.session.rollback()


def test_the_one_follow_up_rating(app, database, sms):
    first = rf.rate(rf.event(), 1, contact={"phone": "13900001111"})
    message = recording.send_follow_up(first)
    assert message is not None and message.phone == "13900001111" and sms.deliver()
    [link] = sms.links()
    token = link.rsplit("/", 1)[-1]
    assert len(token) >= 22 and message.link is None  # random (>= 128 bits), and not kept
    again = recording.send_follow_up(first)  # a new link replaces the old one
    assert again is not None and sms.deliver()
    with pytest.raises(Gone):
        tokens.resolve_token(token)
    token = sms.links()[-1].rsplit("/", 1)[-1]
    target = tokens.resolve_token(token)
    assert target.assess_number == 2
    follow_up = recording.rate_with_token(token, 4, None, comment="整改后满意")
    assert follow_up.assess_number == 2 and follow_up.event_id == first.event_id
    assert follow_up.contact_phone == ""  # the citizen chose not to leave one this time
    with pytest.raises(Conflict):
        recording.rate_with_token(token, 5, None)
    with pytest.raises(Conflict):
        recording.send_follow_up(first)
    with pytest.raises(ValidationFailed):
        recording.issue_follow_up_token(follow_up)


def test_no_follow_up_link_without_the_raters_own_number(database, sms):
    anonymous = rf.rate(rf.event(), 1, anonymous=True)
    assert recording.send_follow_up(anonymous) is None
    assert sms.deliver() == []


def test_a_follow_up_needs_a_first_rating(database):
    issued = rf.event()
    with pytest.raises(Conflict):
        recording.record_rating(issued.event, 4, Channel.MOBILE, assess_number=2)


def test_standing_qr_codes_make_low_trust_ratings_each_time(database):
    dept = f.department()
    issued = tokens.create_standing_code({"label": "3号窗口", "department": dept.code})
    code, token = issued.code, issued.token
    assert issued.rate_url.endswith(f"/rate/{token}") and issued.qr_url.endswith(f"/rate/{token}/qr.svg")
    assert token.startswith(tokens.STANDING_PREFIX) and code.token_hash == token_digest(token)
    first = recording.rate_with_token(token, 5, None)
    second = recording.rate_with_token(token, 2, None, reasons=["long_wait"])
    assert first.event_id != second.event_id
    assert first.low_trust and second.low_trust and first.channel == Channel.QR_CODE
    assert first.event.kind == EventKind.STANDING and first.department_id == dept.id
    manager = f.user(Role.MANAGER)
    tokens.revoke_standing_code(code, manager)
    with pytest.raises(Gone):
        recording.rate_with_token(token, 5, None)


def test_a_closed_ticket_opens_a_service_event_for_its_caller(app, database, sms):
    sent = sms.sent
    dept = f.department()
    ticket = rf.FakeTicket(lead_department_id=dept.id, is_enterprise=True)
    ticket_closed.send(app, ticket=ticket)
    assert sent == []  # nothing leaves inside the transaction
    sms.deliver()
    event = tokens.service_event_for_ticket(ticket.id)
    assert event is not None and event.kind == EventKind.HOTLINE
    assert (event.department_id, event.ticket_number, event.contact_phone) == (dept.id, ticket.number, "13812345678")
    assert event.rater_type == 2
    # Two messages to the caller: the rating link, and the ticket's number with its status link.
    assert [m.phone for m in sent] == ["13812345678"] * 2
    [rate_message] = [m for m in sent if "/rate/" in m.body]
    assert any("/status/" in m.body and ticket.number in m.body for m in sent)
    token = rate_message.body.split("/rate/")[1].split("?")[0]
    assert rate_message.body.split("/rate/")[1].split("?")[1].startswith("ch=6")
    stored = messages.messages_about("service_event", event.id)
    assert [(m.status, m.link) for m in stored] == [("sent", None)]  # the link is not kept
    rating = recording.rate_with_token(token, 2, Channel.SMS)
    # The caller's contact comes with the event, so the bad review can be called back.
    assert rating.contact_phone == "13812345678" and rating.rater_type == 2 and not rating.is_anonymous


def test_an_anonymous_rating_keeps_no_contact_even_on_a_ticket(app, database):
    ticket = rf.FakeTicket()
    issued = tokens.open_event_for_ticket(ticket)
    rating = recording.rate_with_token(issued.token, 1, None, anonymous=True)
    assert rating.is_anonymous and rating.contact_phone == "" and rating.contact_name == ""


def test_closing_a_ticket_again_reuses_its_unrated_event_or_opens_a_new_one(app, database):
    ticket = rf.FakeTicket()
    first = tokens.open_event_for_ticket(ticket)
    again = tokens.open_event_for_ticket(ticket)
    assert again.event.id == first.event.id
    with pytest.raises(Gone):  # the earlier link was replaced
        tokens.resolve_token(first.token)
    recording.rate_with_token(again.token, 2, None)
    reopened = tokens.open_event_for_ticket(ticket)  # 重办, closed again: a new round
    assert reopened.event.id != first.event.id
    assert tokens.service_event_for_ticket(ticket.id).id == reopened.event.id


def test_a_hotline_callback_answer_becomes_a_rating(database):
    agent = f.user(Role.AGENT)
    ticket = rf.FakeTicket(caller_name="王五", caller_phone="13700001234")
    issued = tokens.open_event_for_ticket(ticket)
    rating = recording.record_hotline_rating(ticket, 3, "还行", recorded_by=agent)
    assert rating.channel == Channel.HOTLINE_CALLBACK and rating.recorded_by_id == agent.id
    assert rating.contact_phone == "13700001234"
    with pytest.raises(Conflict):  # the SMS link can no longer be used
        tokens.resolve_token(issued.token)
    with pytest.raises(Conflict):
        recording.record_hotline_rating(ticket, 5)


def test_record_rating_for_callers_in_other_packages(database):
    issued = rf.event()
    rating = recording.record_rating(issued.event, 2, Channel.HOTLINE_CALLBACK, "态度很差", {"name": "赵六"})
    assert rating.contact_name == "赵六" and rating.is_bad_review
    assert reading.get_rating(rating.id) is rating
    with pytest.raises(NotFound):
        reading.get_rating(10**9)
