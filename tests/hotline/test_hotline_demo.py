"""`flask demo load --tickets N`: realistic, consistent tickets."""

from collections import Counter

from sqlalchemy import func, select

from core.db import db
from core.models import User
from hotline import service
from hotline.models import Ticket, TicketEvent, TicketStatus


def test_demo_tickets_are_varied_and_their_events_replay_to_their_state(runner):
    result = runner.invoke(args=["demo", "load", "--tickets", "400", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "400 tickets" in result.output
    tickets = list(db.session.scalars(select(Ticket)))
    assert len(tickets) == 400
    assert len({t.number for t in tickets}) == 400
    statuses = Counter(t.status for t in tickets)
    assert statuses[TicketStatus.ARCHIVED] > 0 and statuses[TicketStatus.DISPATCHED] > 0
    assert len(statuses) >= 6
    assert len({t.type for t in tickets}) == 6 and len({t.region_code for t in tickets}) >= 10
    assert any("\u4e00" <= ch <= "\u9fff" for ch in tickets[0].content)
    events: dict[int, list[TicketEvent]] = {}
    for row in db.session.scalars(select(TicketEvent).order_by(TicketEvent.id)):
        events.setdefault(row.ticket_id, []).append(row)
    for ticket in tickets:
        assert service.replay(events[ticket.id]) == ticket.status, ticket.number
        if ticket.status in (TicketStatus.ACCEPTED, TicketStatus.RETURNED):
            assert ticket.lead_department_id is None  # with the agents, waiting for dispatch
        elif ticket.status != TicketStatus.MERGED:
            assert ticket.lead_department_id is not None

    # Loading more continues the numbering and the ids.
    again = runner.invoke(args=["demo", "load", "--tickets", "50", "--seed", "8"])
    assert again.exit_code == 0, again.output
    assert db.session.scalar(select(func.count(func.distinct(Ticket.number)))) == 450

    # Ids and numbers handed out in bulk do not collide with the next ticket logged normally.
    agent = db.session.scalar(select(User).where(User.username == "demo_agent"))
    made = service.create_ticket({"type": "help", "content": "求助：路灯不亮", "region_code": "460100"}, agent)
    db.session.flush()
    assert made.id > max(t.id for t in tickets) and made.number not in {t.number for t in tickets}
