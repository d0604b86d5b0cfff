"""Staff pages: intake, worklists, the ticket page and its move forms, search, notifications."""

import re
from datetime import timedelta

import factories as f
import hotline_factories as hf
from sqlalchemy import select

from core.db import db, utcnow
from core.models import Role
from hotline import service
from hotline.models import Ticket, TicketStatus


def signed_in(client, role, dept=None):
    staff = f.user(role, dept)
    assert f.login(client, staff).status_code == 302
    return staff


def html_of(response) -> str:
    return response.get_data(as_text=True)


def test_intake_form_is_fast_accessible_and_csp_ready(client):
    agent = signed_in(client, Role.AGENT)
    hf.ticket(agent, region_code="460200")
    page = client.get("/hotline/new")
    assert page.status_code == 200
    html = html_of(page)
    assert 'name="csrf_token"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline scripts"
    assert "style=" not in html
    assert 'id="caller_phone"' in html and "autofocus" in html
    assert 'value="460200 三亚市"' in html  # the agent's last region is the default, with its name
    assert re.search(r'value="consultation"\s+checked', html)
    assert re.search(r'<label for="content">', html) and 'list="department-list"' in html
    assert "新建工单" in html  # Chinese by default
    assert "New ticket" in html_of(client.get("/hotline/new?lang=en"))


def test_intake_creates_and_dispatches_then_shows_the_timeline(client):
    signed_in(client, Role.AGENT)
    dept = f.department()
    form = {
        "caller_phone": "139 1234 5678",
        "caller_name": "周九",
        "type": "complaint",
        "content": "小区门口垃圾堆放多日无人清理",
        "region_code": "460100 海口市",
        "address": "海口市美兰区海甸岛",
        "lead_department": f"{dept.code} {dept.name}",
        "urgency": "normal",
        "channel": "phone",
        "is_enterprise": "true",
    }
    response = client.post("/hotline/new", data=form)
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert response.headers["Location"].endswith(f"/hotline/tickets/{ticket.number}")
    assert ticket.status == TicketStatus.DISPATCHED and ticket.is_enterprise and ticket.caller_phone == "13912345678"
    html = html_of(client.get(f"/hotline/tickets/{ticket.number}"))
    assert ticket.number in html and "周九" in html and "13912345678" in html  # agent, detail
    assert "受理" in html and "派单" in html and 'id="timeline"' in html


def test_intake_shows_errors_and_the_duplicate_check_without_javascript(client):
    agent = signed_in(client, Role.AGENT)
    earlier = hf.ticket(agent, caller_phone="13812345000")
    bad = client.post(
        "/hotline/new", data={"caller_phone": "123", "type": "help", "content": "求助", "region_code": "460100"}
    )
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in html_of(bad) and 'id="caller_phone-error"' in html_of(bad)
    check = client.post(
        "/hotline/new", data={"action": "check", "caller_phone": "13812345000", "type": "help", "content": ""}
    )
    assert check.status_code == 200 and earlier.number in html_of(check)
    assert db.session.scalar(select(Ticket).order_by(Ticket.id.desc())) is earlier  # nothing created


def test_department_queue_and_handling_forms(client):
    dept = f.department()
    ticket = hf.ticket(dept=dept, confidential=True, caller_name="吴十", caller_phone="13612340000")
    signed_in(client, Role.HANDLER, dept)
    queue = html_of(client.get("/hotline/department"))
    assert ticket.number in queue and "保密" in queue and "吴" not in queue
    page = html_of(client.get(f"/hotline/tickets/{ticket.number}"))
    assert "保密" in page and "13612340000" not in page and "****0000" not in page and "吴十" not in page
    assert 'id="move-take"' in page and 'id="move-return"' in page and 'id="move-dispatch"' not in page
    assert 'name="version"' in page
    taken = client.post(f"/hotline/tickets/{ticket.number}/take", data={"version": ticket.version})
    assert taken.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.TAKEN
    again = client.post(f"/hotline/tickets/{ticket.number}/take", data={}, follow_redirects=True)
    assert "不能进行此操作" in html_of(again) and "答复办结" in html_of(again)
    client.post(f"/hotline/tickets/{ticket.number}/reply", data={"reply": "已清理完毕"})
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.CLOSED and ticket.reply == "已清理完毕"


def test_returning_a_ticket_leads_back_to_the_queue(client):
    dept = f.department()
    ticket = hf.ticket(dept=dept)
    signed_in(client, Role.HANDLER, dept)
    response = client.post(f"/hotline/tickets/{ticket.number}/return", data={"reason": "非本单位职责"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/hotline/department")


def test_other_departments_tickets_are_404_on_pages_too(client):
    ticket = hf.ticket(dept=f.department())
    signed_in(client, Role.HANDLER, f.department())
    assert client.get(f"/hotline/tickets/{ticket.number}").status_code == 404
    assert client.post(f"/hotline/tickets/{ticket.number}/take", data={}).status_code == 404


def test_worklists_put_overdue_first(client):
    agent = signed_in(client, Role.AGENT)
    recent = hf.ticket(agent, dept=f.department())
    late = hf.ticket(agent, dept=f.department(), now=utcnow() - timedelta(days=30))
    html = html_of(client.get("/hotline/"))
    assert html.index(late.number) < html.index(recent.number)
    assert "已超期" in html


def test_manager_sees_extension_requests_and_approves(client):
    ticket, handler = hf.taken()
    service.make_move("request_extension", ticket, handler, {"working_days": 4, "reason": "需协调"})
    f.saved(ticket)
    signed_in(client, Role.MANAGER)
    assert ticket.number in html_of(client.get("/hotline/"))
    client.post(f"/hotline/tickets/{ticket.number}/approve_extension", data={"working_days": "4"})
    db.session.refresh(ticket)
    assert ticket.extension_count == 1


def test_search_filters_and_pages(client):
    agent = signed_in(client, Role.AGENT)
    for _ in range(3):
        hf.ticket(agent, content="咨询公积金提取")
    hf.ticket(agent, content="投诉出租车绕路", type="complaint")
    html = html_of(client.get("/hotline/tickets?q=出租车&status=&type=complaint"))
    assert html.count("/hotline/tickets/HN") == 1
    first = html_of(client.get("/hotline/tickets?limit=2"))
    assert 'rel="next"' in first
    nxt = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', first)
    assert nxt is not None
    bad = client.get("/hotline/tickets?cursor=nonsense")
    assert bad.status_code == 200 and 'role="alert"' in html_of(bad)


def test_notifications_page_lists_and_marks_read(client):
    manager = signed_in(client, Role.MANAGER)
    ticket, handler = hf.taken()
    service.make_move("request_extension", ticket, handler, {"working_days": 2, "reason": "需要时间"})
    f.saved(ticket)
    html = html_of(client.get("/hotline/notifications"))
    assert ticket.number in html
    client.post("/hotline/notifications")
    assert ticket.number not in html_of(client.get("/hotline/notifications"))
    assert manager is not None


def test_home_page_links_by_role(client):
    signed_in(client, Role.AGENT)
    home = html_of(client.get("/"))
    assert "/hotline/new" in home and "/hotline/department" not in home
