"""The provincial mapping: names, channel codes, times in Asia/Shanghai, scrubbed free text."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from ratings.models import Channel
from reports.provincial import mapping

WHEN = datetime(2026, 10, 8, 10, 0, 5, tzinfo=UTC)  # 18:00:05 in Asia/Shanghai


def _rating(**kw):
    base = {
        "event_id": 42,
        "assess_number": 1,
        "level": 2,
        "channel": Channel.QR_CODE,
        "comment": "等了两小时，电话 138-1234-5678，身份证 46010019900101123X",
        "region_code": "460100",
        "created_at": WHEN,
        "rater_type": 2,
    }
    return SimpleNamespace(**{**base, **kw})


def test_time_is_local_wall_clock_in_the_interface_format():
    assert mapping.provincial_time(WHEN) == "2026-10-08 18:00:05"
    assert mapping.provincial_time(datetime(2026, 12, 31, 16, 30)) == "2027-01-01 00:30:00"  # naive = UTC
    assert mapping.provincial_time(None) == ""


def test_time_follows_the_configured_zone(app):
    with app.app_context():
        assert mapping.provincial_time(WHEN) == "2026-10-08 18:00:05"


@pytest.mark.parametrize("channel", list(range(1, 8)))
def test_channels_1_to_7_are_the_interface_codes(channel):
    assert mapping.provincial_pf(channel) == channel
    assert mapping.provincial_pf(Channel(channel)) == channel


def test_the_hotline_callback_channel_is_reported_as_configured(app, monkeypatch):
    assert mapping.provincial_pf(Channel.HOTLINE_CALLBACK) == 6  # outside an app: the default
    with app.app_context():
        assert mapping.provincial_pf(Channel.HOTLINE_CALLBACK) == app.config["REPORTING_HOTLINE_PF"] == 6
        monkeypatch.setitem(app.config, "REPORTING_HOTLINE_PF", 2)
        assert mapping.provincial_pf(8) == 2


def test_an_unknown_channel_is_reported_as_system_default():
    assert mapping.provincial_pf(99) == 7
    assert mapping.provincial_pf(None) == 7
    assert mapping.provincial_pf("x") == 7


def test_project_number_prefers_the_business_number():
    assert mapping.project_no(SimpleNamespace(id=7, external_ref="BJ2026-001", ticket_number="")) == "BJ2026-001"
    assert mapping.project_no(SimpleNamespace(id=7, external_ref="", ticket_number="HN20261008001")) == "HN20261008001"
    assert mapping.project_no(SimpleNamespace(id=7, external_ref="", ticket_number="")) == "HC0000000007"
    assert mapping.project_no(None, 42) == "HC0000000042"


def test_rating_record_has_the_interface_names_and_scrubbed_comment():
    event = SimpleNamespace(id=42, external_ref="", ticket_number="")
    record = mapping.rating_record(_rating(), event, SimpleNamespace(code="460100-SCJG"), SimpleNamespace(code="T001"))
    assert record == {
        "reportType": "assess",
        "projectNo": "HC0000000042",
        "taskCode": "T001",
        "deptCode": "460100-SCJG",
        "areaCode": "460100",
        "pf": 3,
        "satisfaction": 2,
        "writingEvaluation": "等了两小时，电话 138****5678，身份证 [证件号已隐去]",
        "assessTime": "2026-10-08 18:00:05",
        "assessNumber": 1,
        "userProp": 2,
    }
    assert "13812345678" not in str(record) and "46010019900101123X" not in str(record)


def test_follow_up_rating_is_assess_number_2_without_department_or_item():
    record = mapping.rating_record(_rating(assess_number=2, comment=""), None, None, None)
    assert record["assessNumber"] == 2
    assert record["reportType"] == "assess"
    assert record["deptCode"] == "" and record["taskCode"] == ""
    assert record["projectNo"] == "HC0000000042"


def test_callback_record():
    callback = SimpleNamespace(
        purpose="verify_bad_review",
        status="unreachable",
        outcome="no_answer",
        completed_at=WHEN,
        on_time=True,
        region_code="460200",
    )
    record = mapping.callback_record(callback, "HC0000000042", 1, SimpleNamespace(code="D1"))
    assert record == {
        "reportType": "visit",
        "projectNo": "HC0000000042",
        "assessNumber": 1,
        "deptCode": "D1",
        "areaCode": "460200",
        "visitType": 1,
        "visitResult": 2,
        "visitOutcome": "no_answer",
        "visitTime": "2026-10-08 18:00:05",
        "visitOnTime": 1,
    }


def test_rectification_record_scrubs_what_was_done():
    case = SimpleNamespace(
        action_taken="已联系市民 13912345678 并致歉",
        accepted_at=WHEN,
        accepted_on_time=False,
        immediate=True,
        region_code="460100",
    )
    record = mapping.rectification_record(case, "P1", SimpleNamespace(code="D1"))
    assert record["reportType"] == "rectify"
    assert record["rectifyContent"] == "已联系市民 139****5678 并致歉"
    assert record["rectifyTime"] == "2026-10-08 18:00:05"
    assert (record["rectifyOnTime"], record["rectifyImmediate"], record["assessNumber"]) == (0, 1, 1)


def test_appeal_record():
    note = "恶意差评，电话0898-66668888"
    appeal = SimpleNamespace(kind="malicious", status="upheld", decision_note=note, decided_at=WHEN)
    record = mapping.appeal_record(appeal, "P1", 1, None)
    assert record["reportType"] == "appeal"
    assert record["appealResult"] == 1
    assert record["appealType"] == "malicious"
    assert "66668888" not in record["appealOpinion"]
    assert record["appealTime"] == "2026-10-08 18:00:05"
    rejected = SimpleNamespace(kind="other", status="rejected", decision_note="", decided_at=WHEN)
    assert mapping.appeal_record(rejected, "P1", 1, None)["appealResult"] == 2
