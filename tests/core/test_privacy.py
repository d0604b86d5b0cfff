"""Masking and scrubbing of personal data."""

import pytest

from core.privacy import (
    is_valid_phone,
    mask_address,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_phone,
    scrub_text,
)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("张三丰", "张**"), ("李四", "李*"), ("欧阳", "欧*"), ("王", "王*"), ("", ""), (None, "")],
)
def test_mask_name(raw, masked):
    assert mask_name(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138-1234-5678", "138****5678"),
        ("0898-66668888", "0898****8888"),
        ("", ""),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_id_numbers_are_never_shown():
    assert "1234" not in mask_id_number("46010019900101123X")
    assert mask_id_number("") == ""


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("海南省海口市美兰区白沙门路1号", "海南省海口市美兰区…"),
        ("三亚市吉阳区", "三亚市吉阳区"),
        ("琼海市嘉积镇红星路3号", "琼海市…"),
        ("白沙门路1号", "…"),
    ],
)
def test_mask_address_stops_at_district(raw, masked):
    assert mask_address(raw) == masked


def test_scrub_text_masks_phones_and_removes_id_numbers():
    text = "我叫张三，电话13812345678，身份证号46010019900101123X，座机0898-66668888。"
    scrubbed = scrub_text(text)
    assert "13812345678" not in scrubbed
    assert "138****5678" in scrubbed
    assert "46010019900101123X" not in scrubbed
    assert "19900101" not in scrubbed
    assert "66668888" not in scrubbed
    assert scrubbed.startswith("我叫张三，电话")


def test_scrub_text_handles_spaced_and_prefixed_numbers():
    scrubbed = scrub_text("call +86 139 1234 5678 or 138-1234-5678")
    assert "1234 5678" not in scrubbed
    assert "1234-5678" not in scrubbed
    assert scrubbed.count("****5678") == 2


def test_scrub_text_leaves_dates_and_short_numbers():
    assert scrub_text("2026年10月8日跑了3趟") == "2026年10月8日跑了3趟"


@pytest.mark.parametrize(
    ("raw", "valid"),
    [("13812345678", True), ("+8613812345678", True), ("0898-66668888", True), ("12345", False), ("2381234567", False)],
)
def test_phone_validation(raw, valid):
    assert is_valid_phone(raw) is valid


def test_normalize_phone():
    assert normalize_phone("+86 138 1234 5678") == "13812345678"
