"""The small pieces: XML/JSON writing, W3C datetimes, regions from places, caller names."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hotline.open311.location import distance_km, region_by_point
from hotline.open311.render import to_json, to_xml, xml_escape
from hotline.open311.schemas import parse_w3c
from hotline.open311.service import caller_name


def test_xml_is_escaped_and_typed():
    body = [{"code": "A&B", "on": True, "off": False, "none": None, "n": 3, "x": 18.25, "text": "<a>\r\n\"'"}]
    text = to_xml("services", body)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<services>\n  <service>\n')
    assert "<code>A&amp;B</code>" in text and "<on>true</on>" in text and "<off>false</off>" in text
    assert "<none></none>" in text and "<n>3</n>" in text and "<x>18.25</x>" in text
    assert "<text>&lt;a&gt;&#13;\n\"'</text>" in text
    assert xml_escape("水&") == "水&amp;"


def test_nested_lists_take_their_item_names():
    text = to_xml("discovery", {"endpoints": [{"formats": ["text/xml", "application/json"]}]})
    assert "<endpoints>\n    <endpoint>\n      <formats>\n        <format>text/xml</format>" in text


def test_json_keeps_the_characters():
    assert to_json([{"d": "停水 😀", "n": None}]) == '[{"d":"停水 😀","n":null}]'
    assert json.loads(to_json({"a": [1, 2.5, True]})) == {"a": [1, 2.5, True]}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2010-01-01T00:00:00Z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2010-01-01T00:00:00z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2010-01-01T08:00:00+08:00", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2010-01-01T08:00:00 08:00", datetime(2010, 1, 1, tzinfo=UTC)),  # an unencoded "+"
        ("1994-11-05T08:15:30-05:00", datetime(1994, 11, 5, 13, 15, 30, tzinfo=UTC)),
        ("2010-01-01T00:00Z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2010-01-01T00:00:00.250Z", datetime(2010, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_w3c_datetimes(raw, expected):
    assert parse_w3c(raw) == expected


@pytest.mark.parametrize(
    "raw", ["2010-01-01", "2010-01-01T00:00:00", "2010-13-01T00:00:00Z", "01/01/2010", "", "2010-01-01 00:00:00Z"]
)
def test_malformed_datetimes(raw):
    with pytest.raises(ValueError):
        parse_w3c(raw)


def test_parsed_times_keep_their_offset():
    moment = parse_w3c("2026-09-24T10:00:00+08:00")
    assert moment.utcoffset() == timedelta(hours=8) and moment.tzinfo is not None
    assert moment == datetime(2026, 9, 24, 10, tzinfo=timezone(timedelta(hours=8)))


def test_nearest_seat():
    assert region_by_point(20.03, 110.35) == "460100"  # 海口 美兰
    assert region_by_point(18.23, 109.60) == "460200"  # 三亚 吉阳
    assert region_by_point(19.50, 109.60) == "460400"  # 儋州
    assert region_by_point(31.23, 121.47) is None  # Shanghai
    assert 190 < distance_km((20.044, 110.199), (18.253, 109.512)) < 230  # 海口–三亚, about 210 km


@pytest.mark.parametrize(
    ("first", "last", "name"),
    [("三丰", "张", "张三丰"), ("John", "Smith", "John Smith"), ("", "王", "王"), ("Ann", "", "Ann"), ("", "", "")],
)
def test_caller_names(first, last, name):
    assert caller_name(first, last) == name
