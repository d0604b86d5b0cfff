"""Masking of personal data before it leaves the staff area (DOMAIN.md, "Publishing personal data").

Names keep the first character (张**), mobiles the first 3 and last 4 digits (138****5678), ID
numbers are never shown, addresses stop at the district, and phone numbers, ID numbers and e-mail
addresses inside free text are scrubbed however they are written (separators, +86, full-width
digits, glued to letters). Text that is published also loses the names the system knows for the
case and the person names a Chinese tagger finds in it.
"""

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")

# Between two digits of one number people write spaces, dots, dashes, slashes or brackets.
_S = r"[ \t\u00a0\u3000.\-_/·‐‑‒–—―−()（）]{0,3}"
_D = r"[0-9]"


def _spaced(count: int) -> str:
    """`count` digits, each optionally preceded by separators (none before the first)."""
    return _D + f"(?:{_S}{_D}){{{count - 1}}}"


# Every pattern looks at ASCII digits only: `_fold` has turned full-width and other Unicode
# digits into ASCII first. Boundaries are digits, not letters, so `ID460100199001011234` and
# `TEL13912345678` are caught; a 14-digit ticket number glued to its prefix is not an ID.
_ID_CONTIGUOUS = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9])")
# An 18-digit ID written in groups: its birth year (digits 7-10) starts 19 or 20.
_ID_SPACED = re.compile(rf"(?<![0-9]){_spaced(6)}{_S}(?:1{_S}9|2{_S}0)(?:{_S}{_D}){{9}}{_S}[0-9Xx](?![0-9])")
_COUNTRY = rf"(?:(?:\+|00){_S}86{_S}|86{_S}(?=1[3-9]))"
_MOBILE_IN_TEXT = re.compile(
    rf"(?<![0-9])(?:{_COUNTRY})?(1{_S}[3-9]{_S}{_D})((?:{_S}{_D}){{4}})((?:{_S}{_D}){{4}})(?![0-9])"
)
_LANDLINE_IN_TEXT = re.compile(rf"(?<![0-9])[(（]?(0[0-9]{{2,3}})[)）]?{_S}({_spaced(7)}(?:{_S}{_D})?)(?![0-9])")
# Any other number given with a country code (+852 ..., 001 ...).
_INTERNATIONAL = re.compile(rf"(?:\+|(?<![0-9])00){_S}[1-9]{_D}{{0,2}}(?:{_S}{_D}){{6,14}}(?![0-9])")
_LONG_DIGITS = re.compile(r"(?<![0-9A-Za-z])[0-9]{7,}(?![0-9])")
# Numbers spelt with Chinese numerals, digit by digit (一三九一二三四五六七八).
_CHINESE_DIGITS = re.compile(r"[〇零一二三四五六七八九幺两]{7,}")
# Starts only where a run of address characters starts: without the lookbehind a long run with
# no @ in it is rescanned from every position (quadratic: 20,000 characters took seconds).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+\s*@\s*[A-Za-z0-9\-]+(?:\s*\.\s*[A-Za-z0-9\-]+)+")
# Every pattern above needs one of these characters: text without any holds no number to scrub.
_MAY_HOLD_NUMBER = re.compile(r"[0-9@〇零一二三四五六七八九幺两]")

_ADDRESS_PREFIX = re.compile(
    r"^(?:[^省市区县]{2,7}省)?(?:[^省市区县]{2,9}(?:市|州|盟))?(?:[^省市区县]{1,7}(?:区|县|旗))?"
)

ID_PLACEHOLDER = "[证件号已隐去]"
EMAIL_PLACEHOLDER = "[邮箱已隐去]"

# Signs people use instead of ASCII ones to slip a number past a filter.
_FOLD = {ord("＋"): "+", ord("＠"): "@", ord("Ｘ"): "X", ord("ｘ"): "x", ord("．"): ".", ord("－"): "-"}


def _fold(text: str) -> str:
    """Unicode decimal digits (full-width １, Arabic-Indic, ...) as ASCII, and the full-width
    signs that matter to the patterns; everything else untouched."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if char.isdigit() and not char.isascii():
            value = unicodedata.decimal(char, None)
            out.append(str(value) if value is not None else char)
        else:
            out.append(_FOLD.get(ord(char), char))
    return "".join(out)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def normalize_phone(raw: str) -> str:
    """Digits only, without a +86 country prefix or separators."""
    digits = _digits(_fold(raw or ""))
    if digits.startswith("0086") and len(digits) == 15:
        digits = digits[4:]
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


def _mask_mobile(match: re.Match[str]) -> str:
    head, tail = _digits(match.group(1)), _digits(match.group(3))
    return f"{head}****{tail}"


def _mask_landline(match: re.Match[str]) -> str:
    return f"{match.group(1)}-****{_digits(match.group(2))[-4:]}"


def _scrub_numbers(text: str) -> str:
    if not _MAY_HOLD_NUMBER.search(text):
        return text
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    text = _ID_CONTIGUOUS.sub(ID_PLACEHOLDER, text)
    text = _ID_SPACED.sub(ID_PLACEHOLDER, text)
    text = _MOBILE_IN_TEXT.sub(_mask_mobile, text)
    text = _LANDLINE_IN_TEXT.sub(_mask_landline, text)
    text = _INTERNATIONAL.sub(lambda m: "*" * len(_digits(m.group(0))), text)
    text = _CHINESE_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)
    return _LONG_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)


def _name_pattern(name: str) -> re.Pattern[str] | None:
    """A known name as it may be written: any case, spaces or dots between its characters."""
    chars = [c for c in name if not c.isspace()]
    if len(chars) < 2:
        return None
    return re.compile(r"[\s·.]{0,2}".join(re.escape(c) for c in chars), re.IGNORECASE)


def _known_names(names: Iterable[str | None]) -> list[str]:
    """Each name, and the parts of a name written with spaces (John Smith → John, Smith)."""
    found: set[str] = set()
    for raw in names:
        name = (raw or "").strip()
        if not name:
            continue
        found.add(name)
        found.update(part for part in name.split() if len(part) >= 2)
    return sorted(found, key=len, reverse=True)


def _scrub_names(text: str, names: Iterable[str | None]) -> str:
    for name in _known_names(names):
        pattern = _name_pattern(name)
        if pattern is not None:
            text = pattern.sub(lambda m: mask_name(m.group(0)), text)
    return text


# -- person names found by jieba's tagger -------------------------------------------------------

# Two-character surnames the tagger splits off as a place (欧阳 → ns) before the given name.
_COMPOUND_SURNAMES = frozenset(
    re.findall("..", "欧阳司马上官诸葛东方皇甫尉迟公孙慕容令狐长孙宇文司徒夏侯轩辕端木独孤南宫西门百里")
)
# The tagger also marks places and roads as names (海秀路, 凤凰): a person's name starts with a
# common surname and does not end like a place.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮"
    "柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古"
    "吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝云"
)
_PLACE_ENDINGS = tuple("路街巷道村镇乡区市县省州岛湾港桥站楼号场馆院园局所委厅处山河江湖海城")
_tagger: Any = None
_tagger_lock = threading.Lock()


def _person_tagger() -> Any:
    """jieba's part-of-speech tagger on a private dictionary (the global one is left alone),
    loaded once per process on first use."""
    global _tagger
    if _tagger is None:
        with _tagger_lock:
            if _tagger is None:
                import jieba
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)
                tagger = jieba.posseg.POSTokenizer(jieba.Tokenizer())
                tagger.tokenizer.check_initialized()  # loads FREQ, read by find_person_names
                _tagger = tagger
    return _tagger


def warm_up() -> None:
    """Load the name tagger now (gunicorn.conf.py, in the master before the workers fork), so no
    request pays the second and a half it takes."""
    _person_tagger()


# The tagger's dictionary marks common words as names too (谢谢 1089, 温馨 335, 文明 6584 in its
# frequency table); people it knows by name are rare there (王建国 12, 刘德华 37), and most names
# are not in it at all (the HMM finds them). Dictionary words this frequent are not names.
COMMON_WORD_FREQUENCY = 150


def find_person_names(text: str) -> list[str]:
    """Person names (jieba flags nr, nrfg, nrt; not a common word) of two characters or more, a
    surname tagged on its own joined to the given name that follows it (陈/秀英, 欧阳/娜娜)."""
    if not text or text.isascii():
        return []
    return list(_person_names(text))


@lru_cache(maxsize=4096)
def _person_names(text: str) -> tuple[str, ...]:
    """The tagger's work for one text, remembered: the same short comments come back often (办事
    很快, 态度很好), and the tagger takes a millisecond a comment."""
    tagger = _person_tagger()
    frequency = tagger.tokenizer.FREQ

    def name_part(word: str, flag: str) -> bool:
        return flag.startswith("nr") and (frequency.get(word) or 0) < COMMON_WORD_FREQUENCY

    pairs = [(p.word, p.flag) for p in tagger.cut(text)]
    found: list[str] = []
    index = 0
    while index < len(pairs):
        word, flag = pairs[index]
        surname = word in _SURNAMES or word in _COMPOUND_SURNAMES
        follows = index + 1 < len(pairs) and name_part(*pairs[index + 1])
        if name_part(word, flag) or (surname and follows):
            joined = word
            while index + 1 < len(pairs) and name_part(*pairs[index + 1]):
                index += 1
                joined += pairs[index][0]
            starts_like_a_name = joined[0] in _SURNAMES or joined[:2] in _COMPOUND_SURNAMES
            thanks = joined.startswith("谢谢")  # 谢谢你们 is in the dictionary as a name
            if len(joined) >= 2 and starts_like_a_name and not joined.endswith(_PLACE_ENDINGS) and not thanks:
                found.append(joined)
        index += 1
    return tuple(found)


def _scrub_people(text: str) -> str:
    for name in sorted(set(find_person_names(text)), key=len, reverse=True):
        text = text.replace(name, mask_name(name))
    return text


def scrub_text(text: str | None, names: Iterable[str | None] = (), people: bool = False) -> str:
    """Free text with its personal data scrubbed: phone numbers masked (139****5678), ID numbers
    and e-mail addresses replaced, other long digit runs starred; each of the `names` the system
    knows for the case (caller, rater, contact) masked wherever it appears (张**); and with
    `people`, for text that is published, the person names jieba's tagger finds masked too."""
    if not text:
        return ""
    text = _scrub_numbers(_fold(text))
    text = _scrub_names(text, names)
    if people:
        text = _scrub_people(text)
    return text


def scrub_known_names(text: str | None, *names: str | None) -> str:
    """Text to publish: `scrub_text` with the known full names (the rater's, the caller's) masked
    where the text repeats them (我是张三丰 → 我是张**), and the person names the tagger finds.
    Names of one character are left alone."""
    return scrub_text(text, names=names, people=True)
