"""Masking of personal data before it leaves the staff area (DOMAIN.md, "Publishing personal data").

Names keep the first character (张**), mobiles the first 3 and last 4 digits (138****5678), ID
numbers are never shown, addresses stop at the district, and phone or ID numbers inside free
text are scrubbed.
"""

import re

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")

# In free text: an 18-digit resident ID (last may be X), a 15-digit old ID, mobiles (optionally
# written with spaces or dashes, optionally +86), and landlines such as 0898-66668888.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?![0-9])")
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9])(0\d{2,3})[- ]?(\d{7,8})(?![0-9])")
_LONG_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{7,}(?![0-9])")

_ADDRESS_PREFIX = re.compile(
    r"^(?:[^省市区县]{2,7}省)?(?:[^省市区县]{2,9}(?:市|州|盟))?(?:[^省市区县]{1,7}(?:区|县|旗))?"
)

ID_PLACEHOLDER = "[证件号已隐去]"


def normalize_phone(raw: str) -> str:
    """Digits only, without a +86 country prefix or separators."""
    digits = re.sub(r"[^\d]", "", raw or "")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def is_valid_phone(raw: str) -> bool:
    """A Chinese mobile (1[3-9]xxxxxxxxx) or landline with area code."""
    digits = normalize_phone(raw)
    return bool(MOBILE_RE.match(digits) or LANDLINE_RE.match(digits))


def mask_name(name: str | None) -> str:
    """张三丰 → 张**; empty stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str:
    """13812345678 → 138****5678; a landline keeps its area code and last 4 digits."""
    digits = normalize_phone(phone or "")
    if not digits:
        return ""
    if MOBILE_RE.match(digits):
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) > 7:
        return f"{digits[:4]}****{digits[-4:]}" if digits.startswith("0") else "*" * len(digits)
    return "*" * len(digits)


def mask_id_number(_id_number: str | None) -> str:
    """ID numbers are never shown, not even in part."""
    return ID_PLACEHOLDER if _id_number else ""


def mask_address(address: str | None) -> str:
    """Keep the province/city/district prefix and drop the rest: 海口市美兰区白沙门路1号 → 海口市美兰区…"""
    address = (address or "").strip()
    if not address:
        return ""
    prefix = _ADDRESS_PREFIX.match(address)
    kept = prefix.group(0) if prefix else ""
    if kept == address:
        return kept
    return f"{kept}…" if kept else "…"


def scrub_text(text: str | None) -> str:
    """Mask phone numbers and remove ID numbers (and other long digit runs) inside free text."""
    if not text:
        return ""
    text = _ID_IN_TEXT.sub(ID_PLACEHOLDER, text)
    text = _MOBILE_IN_TEXT.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    text = _LANDLINE_IN_TEXT.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-4:]}", text)
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)


def scrub_known_names(text: str | None, *names: str | None) -> str:
    """`scrub_text`, and each known full name (the rater's, the caller's) masked where the text
    repeats it: 我是张三丰 → 我是张**. Names of one character are left alone."""
    text = scrub_text(text)
    for name in {(n or "").strip() for n in names}:
        if len(name) >= 2:
            text = text.replace(name, mask_name(name))
    return text
