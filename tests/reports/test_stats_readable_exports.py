"""Issue 19, acceptance 3: exports a manager can open and read — Chinese titles by default (English
with `lang=en`), names beside codes, Beijing times with +08:00, rates as Excel percentages, the
header row frozen and filterable, the total row labelled 合计."""

import csv
import io
from datetime import datetime

import factories as f
import hotline_factories as hf
import openpyxl
import pytest
import ratings_factories as rf

from core.calendar import local_date, local_tz
from core.db import utcnow
from core.models import Role
from reports.stats import exports


def _day() -> str:
    return local_date(utcnow()).isoformat()


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return list(csv.reader(io.StringIO(b"".join(response.response).decode("utf-8-sig"))))


def _book(response) -> openpyxl.Workbook:
    assert response.status_code == 200, response.get_data(as_text=True)
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.response)))


def test_ticket_export_is_chinese_with_beijing_times_and_names(client):
    dept, manager = f.department(), f.user(Role.MANAGER)
    made, _ = hf.closed(dept)
    url = f"/api/v1/stats/tickets/export?from={_day()}&to={_day()}&department={dept.code}"
    rows = _csv(client.get(url, headers=f.bearer(manager)))
    assert rows[0][:3] == ["工单编号", "受理时间（北京时间）", "类型"]
    row = dict(zip(exports.TICKET_HEADER, rows[1], strict=True))
    beijing = made.created_at.astimezone(local_tz()).isoformat(sep=" ", timespec="seconds")
    assert row["created_at"] == beijing and row["created_at"].endswith("+08:00")
    assert datetime.fromisoformat(row["created_at"]) == made.created_at.replace(microsecond=0)
    assert row["type"] == "投诉" and row["status"] not in ("closed", "archived")
    assert row["region_code"] == "460100" and row["region_name"] == "海口市"
    assert row["lead_department"] == dept.code and row["lead_department_name"] == dept.name
    assert row["is_enterprise"] == "否" and row["supervised"] == "否"
    english = _csv(client.get(f"{url}&lang=en", headers=f.bearer(manager)))
    assert english[0][:3] == ["Ticket number", "Accepted at (Beijing time)", "Type"]
    assert dict(zip(exports.TICKET_HEADER, english[1], strict=True))["type"] == "Complaint"
    assert client.get(f"{url}&lang=fr", headers=f.bearer(manager)).status_code == 422


def test_rating_export_shows_names_beside_codes(client):
    dept, manager = f.department(), f.user(Role.MANAGER)
    rating = rf.rate(rf.event(dept), 2)
    url = f"/api/v1/stats/ratings/export?from={_day()}&to={_day()}&department={dept.code}"
    rows = _csv(client.get(url, headers=f.bearer(manager)))
    row = dict(zip(exports.RATING_HEADER, rows[1], strict=True))
    assert row["department"] == dept.code and row["department_name"] == dept.name
    assert row["level"] == "2" and row["level_name"] == "不满意" and row["status"] == "有效"
    assert row["created_at"].endswith("+08:00") and row["is_default"] == "否"
    assert int(row["id"]) == rating.id


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_satisfaction_xlsx_has_percentages_a_frozen_header_and_a_filter(client, lang):
    dept, manager = f.department(), f.user(Role.MANAGER)
    for level in (1, 4, 5, 5):
        rf.rate(rf.event(dept), level)
    query = f"from={_day()}&to={_day()}&group_by=department&department={dept.code}&format=xlsx&lang={lang}"
    sheet = _book(client.get(f"/api/v1/stats/satisfaction/export?{query}", headers=f.bearer(manager))).active
    header = [c.value for c in sheet[1]]
    assert header == exports.titles(exports.STATS_COLUMNS, lang)
    assert ("满意率" in header) == (lang == "zh") and ("Satisfaction rate" in header) == (lang == "en")
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(header))}3"
    total, group = [c.value for c in sheet[2]], [c.value for c in sheet[3]]
    assert total[1] == ("合计" if lang == "zh" else "Total") and group[:2] == [dept.code, dept.name]
    rate = sheet.cell(row=3, column=exports.STATS_HEADER.index("satisfaction_rate") + 1)
    assert rate.data_type == "n" and rate.value == pytest.approx(0.75)
    assert rate.number_format == "0.00%" and rate.is_date is False
    count = sheet.cell(row=3, column=exports.STATS_HEADER.index("valid") + 1)
    assert count.value == 4 and "%" not in count.number_format


def test_a_rate_in_csv_is_a_percentage_and_no_rate_is_blank():
    rows = list(exports.csv_stream(exports.STATS_COLUMNS, [("", "合计", 0, 0, 0, 0, 0, 0, 0, None, None, None)]))
    parsed = list(csv.reader(io.StringIO("".join(rows).lstrip("\ufeff"))))
    assert parsed[1][-3:] == ["", "", ""]
    rows = list(exports.csv_stream(exports.STATS_COLUMNS, [("", "合计", 3, 3, 0, 0, 1, 1, 1, 1.0, 0.6667, 0.0)]))
    parsed = list(csv.reader(io.StringIO("".join(rows).lstrip("\ufeff"))))
    assert parsed[1][-3:] == ["100.00%", "66.67%", "0.00%"]
