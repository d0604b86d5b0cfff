"""Issue 19, acceptance 4: the 月度报告 opens in openpyxl with its four sheets, and every total
equals what the API answers for the month."""

import io

import factories as f
import hotline_factories as hf
import openpyxl
import pytest
import ratings_factories as rf
from callbacks_support import bad_rating

from core.calendar import local_date
from core.db import utcnow
from core.models import Role
from reports.stats import monthly
from reports.stats.funnel import STAGES


def _month() -> str:
    return local_date(utcnow()).strftime("%Y-%m")


def _sheets(response) -> dict[str, list[list[object]]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.is_streamed
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.response)))
    return {sheet.title: [[c.value for c in row] for row in sheet.iter_rows()] for sheet in book.worksheets}


def _approx(value: object) -> object:
    return None if value is None else pytest.approx(value)


@pytest.fixture
def history(client):
    dept, other = f.department(), f.department()
    for level in (5, 5, 4, 3, 1):
        rf.rate(rf.event(dept), level)
    rf.rate(rf.event(other), 2)
    bad_rating(dept)
    hf.closed(dept)
    return dept, other


def test_the_monthly_report_totals_equal_the_api(client, history):
    dept, _ = history
    manager = f.user(Role.MANAGER)
    start, end = monthly.month_days(_month())
    period = f"from={start}&to={end}"
    api = client.get(f"/api/v1/stats/satisfaction?{period}", headers=f.bearer(manager)).json
    kpi = client.get(f"/api/v1/stats/kpis?{period}&group_by=department", headers=f.bearer(manager)).json
    stages = client.get(f"/api/v1/stats/funnel?{period}", headers=f.bearer(manager)).json["stages"]
    response = client.get(f"/api/v1/stats/monthly-report?month={_month()}", headers=f.bearer(manager))
    assert response.headers["Content-Disposition"] == f'attachment; filename="monthly-report-{_month()}.xlsx"'
    sheets = _sheets(response)
    assert list(sheets) == ["汇总", "市县", "部门", "差评整改"]

    summary = {row[0]: row for row in sheets["汇总"][1:]}
    assert summary["满意率"][1:4] == [
        api["levels"]["3"] + api["levels"]["4"] + api["levels"]["5"],
        api["valid"],
        _approx(api["satisfaction_rate"]),
    ]
    assert summary["差评率"][3] == _approx(api["bad_rate"]) and summary["好评率"][3] == _approx(api["good_rate"])
    for title, key in (
        ("差评回访及时率", "bad_review_callback_timeliness"),
        ("按时办结率", "on_time_completion"),
        ("解决率", "resolution_rate"),
    ):
        figure = kpi[key]
        assert summary[title][1:4] == [figure["numerator"], figure["denominator"], _approx(figure["rate"])]

    for name in ("市县", "部门"):
        header, total = sheets[name][0], sheets[name][1]
        assert total[1] == "合计"
        row = dict(zip(header, total, strict=True))
        assert row["有效评价数"] == api["valid"] and row["满意率"] == _approx(api["satisfaction_rate"])
        assert row["差评回访及时率"] == _approx(kpi["bad_review_callback_timeliness"]["rate"])
        assert row["按时办结率"] == _approx(kpi["on_time_completion"]["rate"])
    regions = {row[1]: row for row in sheets["市县"][2:]}
    assert len(regions) >= 19 and "海口市" in regions and "三沙市" in regions

    by_department = client.get(
        f"/api/v1/stats/satisfaction?{period}&group_by=department", headers=f.bearer(manager)
    ).json
    mine = next(g for g in by_department["groups"] if g["key"] == str(dept.id))
    row = next(r for r in sheets["部门"] if r[0] == dept.code)
    assert row[1] == dept.name and row[2] == mine["valid"] and row[3] == _approx(mine["satisfaction_rate"])

    bad = sheets["差评整改"]
    assert bad[0][2:8] == ["差评", "已回访", "核实属实", "整改中", "已验收", "已公开"]
    assert bad[1][1] == "合计" and bad[1][2:8] == [stages[s] for s in STAGES]
    assert bad[1][8] == _approx(kpi["bad_review_callback_timeliness"]["rate"])
    assert stages["bad"] >= 2 and sum(r[2] for r in bad[2:]) == stages["bad"]


def test_rates_are_percentages_and_the_header_is_frozen(client, history):
    manager = f.user(Role.MANAGER)
    response = client.get(f"/api/v1/stats/monthly-report?month={_month()}&lang=en", headers=f.bearer(manager))
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.response)))
    assert book.sheetnames == ["Summary", "Regions", "Departments", "Bad reviews"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    summary = book["Summary"]
    assert summary["A1"].value == "Figure" and summary["A2"].value == "Satisfaction rate"
    assert summary["D2"].data_type == "n" and summary["D2"].number_format == "0.00%"


def test_a_handler_gets_their_department_and_bad_months_are_refused(client, history):
    dept, other = history
    handler = f.user(Role.HANDLER, dept)
    sheets = _sheets(client.get(f"/api/v1/stats/monthly-report?month={_month()}", headers=f.bearer(handler)))
    assert [r[0] for r in sheets["部门"][2:]] == [dept.code]
    assert other.code not in {r[0] for r in sheets["差评整改"]}
    for bad in ("2026-13", "26-11", "2026-1"):
        response = client.get(f"/api/v1/stats/monthly-report?month={bad}", headers=f.bearer(handler))
        assert response.status_code == 422
    assert client.get("/api/v1/stats/monthly-report", headers=f.bearer(f.user(Role.AGENT))).status_code == 403
