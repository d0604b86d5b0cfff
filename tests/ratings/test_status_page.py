"""The citizen's reference number and status link: issued with a first rating (stored hashed),
shown on the thanks page once and sent to the rater's own number, and a status page that tells,
without staff names or internal notes, what happened since — up to the published report and the
追评 offered through the status link itself. Also: the form always says what is being rated."""

import re

import factories as f
from sqlalchemy import select

from callbacks import service as callbacks
from callbacks.models import AttemptResult, Callback, Purpose, RectificationCase
from core.db import db
from core.models import Role
from ratings import status, tokens
from ratings.models import Rating

STATUS_LINK = re.compile(r'href="(/status/[A-Za-z0-9_-]+)"')


def _rate(client, dept, level=1, phone="13912345678", comment="窗口让我跑了三趟"):
    issued = tokens.create_service_event({"department": dept.code})
    db.session.commit()
    form = {"level": str(level), "comment": comment, "contact_name": "张三", "contact_phone": phone}
    answer = client.post(f"/rate/{issued.token}", data=form)
    assert answer.status_code == 303
    thanks = client.get(answer.headers["Location"]).get_data(as_text=True)
    rating = db.session.scalar(select(Rating).where(Rating.event_id == issued.event.id))
    return rating, thanks


def test_the_thanks_page_gives_a_reference_and_a_private_status_link(client, sms):
    dept = f.department()
    rating, thanks = _rate(client, dept)
    link = db.session.scalar(select(status.StatusLink).where(status.StatusLink.rating_id == rating.id))
    assert link is not None and re.fullmatch(r"HC[2-9A-Z]{8}", link.reference)
    assert link.reference in thanks
    [path] = STATUS_LINK.findall(thanks)
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 22 and link.token_hash != token and token not in link.token_hash  # stored hashed
    # Shown once: the thanks page again no longer has it.
    assert "/status/" not in client.get("/rate/thanks").get_data(as_text=True)
    # The confirmation message: the reference and the link, to the rater's own number only.
    [message] = sms.deliver()
    assert message.phone == "13912345678"
    assert link.reference in message.body and message.body.endswith(path)
    assert "张三" not in message.body and "窗口" not in message.body


def test_the_status_page_follows_the_case_to_the_report_and_the_follow_up(client, sms):
    dept = f.department(name="海口市不动产登记中心")
    agent, handler, manager = f.user(Role.AGENT), f.user(Role.HANDLER, dept), f.user(Role.MANAGER)
    rating, thanks = _rate(client, dept)
    [path] = STATUS_LINK.findall(thanks)
    page = client.get(path).get_data(as_text=True)
    assert "已安排回访" in page and "等待回访" in page and "已立案整改" not in page

    verify = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.VERIFY_BAD_REVIEW))
    answer = callbacks.Answer(verified=True, problem="窗口推诿（内部核实记录）")
    callbacks.record_attempt(verify, agent, AttemptResult.REACHED, note="内部备注：态度差", answer=answer)
    db.session.commit()
    case = db.session.scalar(select(RectificationCase).where(RectificationCase.rating_id == rating.id))
    page = client.get(path).get_data(as_text=True)
    assert "已回访" in page and "已立案整改" in page and "海口市不动产登记中心" in page
    assert "部门正在整改" in page
    callbacks.submit_report(case, handler, "已约谈窗口人员，实行首问负责制")
    db.session.commit()
    callbacks.accept_case(case, manager, "内部审核意见")
    db.session.commit()
    page = client.get(path).get_data(as_text=True)
    assert "部门整改情况已审核通过" in page and "实行首问负责制" not in page  # the report waits for publication
    assert 'id="follow-up"' not in page
    assert client.post(f"{path}/follow-up").status_code == 409
    report_back = db.session.scalar(select(Callback).where(Callback.purpose == Purpose.RECTIFICATION_REPORT))
    callbacks.record_attempt(report_back, agent, AttemptResult.REACHED, "已告知整改情况")
    db.session.commit()
    assert case.status.value == "published"

    page = client.get(path).get_data(as_text=True)
    assert "整改情况已在公示栏公开" in page and "实行首问负责制" in page and 'id="follow-up"' in page
    for internal in ("内部", "态度差", "窗口推诿", agent.username, handler.username, manager.username):
        assert internal not in page
    # The 追评 through the status link: a fresh token, straight to the follow-up form.
    answer = client.post(f"{path}/follow-up")
    assert answer.status_code == 303 and "/rate/" in answer.headers["Location"]
    form = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "追加评价" in form
    rated = client.post(answer.headers["Location"], data={"level": "4"})
    assert rated.status_code == 303
    page = client.get(path).get_data(as_text=True)
    assert "您已追评" in page and "满意" in page and 'id="follow-up"' not in page
    assert client.post(f"{path}/follow-up").status_code == 409


def test_an_unknown_status_link_is_not_found(client):
    answer = client.get("/status/not-a-real-token-at-all-123456")
    assert answer.status_code == 404 and "此进度查询链接无效" in answer.get_data(as_text=True)
    assert client.post("/status/not-a-real-token-at-all-123456/follow-up").status_code == 404


def test_staff_may_not_take_the_follow_up_through_a_status_link(app, client):
    dept = f.department()
    _, thanks = _rate(client, dept, level=5)
    [path] = STATUS_LINK.findall(thanks)
    staff = app.test_client()
    f.login(staff, f.user(Role.AGENT))
    assert staff.post(f"{path}/follow-up").status_code == 403


def test_the_form_says_what_is_rated_and_when(client):
    dept = f.department(name="海口市税务局")
    item = f.service_item(dept)
    issued = tokens.create_service_event({"department": dept.code, "service_item": item.code})
    bare = tokens.create_service_event({})
    db.session.commit()
    page = client.get(f"/rate/{issued.token}").get_data(as_text=True)
    what = page.split('id="rated-what"', 1)[1].split("</p>", 1)[0]
    assert "海口市税务局" in what and item.name in what and "办理日期" in what
    assert issued.event.created_at.strftime("%Y-%m") in what
    page = client.get(f"/rate/{bare.token}").get_data(as_text=True)
    what = page.split('id="rated-what"', 1)[1].split("</p>", 1)[0]
    assert "12345 政务服务" in what and "办理日期" in what


def test_a_closed_ticket_gives_its_caller_the_number_and_a_public_timeline(client, sms):
    import hotline_factories as hf

    dept = f.department(name="海口市住房和城乡建设局")
    ticket, handler = hf.closed(dept)
    sent = sms.deliver()
    [message] = [m for m in sent if "/status/" in m.body]
    assert message.phone == "13812345678" and ticket.number in message.body
    assert "张三丰" not in message.body and "噪音" not in message.body
    path = "/status/" + message.body.rsplit("/status/", 1)[1]
    page = client.get(path).get_data(as_text=True)
    assert ticket.number in page
    for step in ("您的诉求已受理", "已派单至海口市住房和城乡建设局办理", "海口市住房和城乡建设局已签收", "已答复办结"):
        assert step in page
    for private in ("张三丰", "13812345678", "噪音", "已处理完毕", handler.username):
        assert private not in page
    # Closed again after 重办: a fresh link, and the old one stops working.
    link = db.session.scalar(select(status.StatusLink).where(status.StatusLink.ticket_id == ticket.id))
    status.issue_for_ticket(ticket)
    db.session.commit()
    assert client.get(path).status_code == 404 and link.reference == ticket.number
