"""Streamed exports a manager can open and read: CSV written row by row, XLSX through XlsxWriter's
constant-memory mode into a temporary file that is then streamed in chunks. Raw rows (ratings,
tickets) are read in id order in keyset batches, so a year of them never sits in memory; personal
data is masked (core.privacy).

Readable means: column titles in Chinese (English with `lang=en`), a name beside every code,
labels instead of enum values, Beijing times with their +08:00 offset, rates as percentages (an
Excel percentage number format in XLSX, `94.66%` in CSV, which spreadsheets read as a percentage),
the frozen header row and an autofilter in XLSX, and the total row labelled 合计.

No cell can run code in a spreadsheet: CSV text starting with = + - @, tab or CR gets a leading
single quote (OWASP's rule for CSV injection) and XLSX writes every text as a string cell, never a
formula or a link."""

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import xlsxwriter
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, select

from core.calendar import WorkingHours, local_tz, start_of_day, working_hours
from core.db import db
from core.disclosure import CONFIDENTIAL_MARK, hidden_for, redact_person
from core.models import Department, Region, ServiceItem, User
from core.privacy import mask_address, mask_name, mask_phone, scrub_text
from hotline import labels as ticket_labels
from hotline.models import Ticket
from hotline.service import caller_view, content_for
from ratings.labels import CHANNEL_LABELS, LEVEL_LABELS, RATER_TYPE_LABELS
from ratings.models import Rating, ServiceEvent
from reports.stats.kpis import KpiFilters, handling_start
from reports.stats.models import LEVELS
from reports.stats.service import Filters

BATCH = 5000
CHUNK = 64 * 1024
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
LANGS = ("zh", "en")
LOCALE = {"zh": "zh_Hans_CN", "en": "en"}
TOTAL_LABEL = {"zh": "合计", "en": "Total"}

# How a column is shown: text, a whole number, a decimal, or a rate (a fraction shown as a percentage).
TEXT, INT, NUMBER, RATE = "text", "int", "number", "rate"


@dataclass(frozen=True)
class Column:
    """One exported column: its key (stable, for code and tests), its Chinese and English titles
    and how its values are shown."""

    key: str
    zh: str
    en: str
    kind: str = TEXT
    width: int = 12

    def title(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


def titles(columns: Sequence["Column | str"], lang: str = "zh") -> list[str]:
    """The header row in `lang` (a plain string stays as it is)."""
    return [c.title(lang) if isinstance(c, Column) else c for c in columns]


def keys(columns: Sequence[Column]) -> tuple[str, ...]:
    return tuple(c.key for c in columns)


LEVEL_TITLES = {
    1: ("非常不满意", "Very dissatisfied"),
    2: ("不满意", "Dissatisfied"),
    3: ("基本满意", "Basically satisfied"),
    4: ("满意", "Satisfied"),
    5: ("非常满意", "Very satisfied"),
}

STATS_COLUMNS = (
    Column("key", "代码", "Code", width=14),
    Column("label", "名称", "Name", width=30),
    Column("total", "评价总数", "Ratings", INT),
    Column("valid", "有效评价数", "Valid ratings", INT),
    *(Column(f"level_{lv}", f"{LEVEL_TITLES[lv][0]}（{lv}）", f"{LEVEL_TITLES[lv][1]} ({lv})", INT) for lv in LEVELS),
    Column("satisfaction_rate", "满意率", "Satisfaction rate", RATE),
    Column("good_rate", "好评率", "Good-review rate", RATE),
    Column("bad_rate", "差评率", "Bad-review rate", RATE),
)
STATS_HEADER = keys(STATS_COLUMNS)

RATING_COLUMNS = (
    Column("id", "评价编号", "Rating id", INT, 10),
    Column("local_day", "评价日期", "Day", width=12),
    Column("created_at", "评价时间（北京时间）", "Rated at (Beijing time)", width=26),
    Column("department", "部门代码", "Department code", width=14),
    Column("department_name", "部门", "Department", width=30),
    Column("region_code", "市县代码", "Region code", width=10),
    Column("region_name", "市县", "Region", width=12),
    Column("service_item", "事项代码", "Service item code", width=16),
    Column("service_item_name", "事项", "Service item", width=30),
    Column("channel", "评价渠道", "Channel", width=14),
    Column("rater_type", "评价人类型", "Rater type", width=14),
    Column("level", "评价等级", "Level", INT, 8),
    Column("level_name", "评价", "Rating", width=12),
    Column("status", "状态", "Status", width=14),
    Column("is_default", "默认好评", "System default", width=8),
    Column("low_trust", "低可信", "Low trust", width=8),
    Column("contact_name", "联系人", "Contact name", width=10),
    Column("contact_phone", "联系电话", "Contact phone", width=14),
    Column("comment", "评价内容", "Comment", width=40),
)
RATING_HEADER = keys(RATING_COLUMNS)

TICKET_COLUMNS = (
    Column("number", "工单编号", "Ticket number", width=20),
    Column("created_at", "受理时间（北京时间）", "Accepted at (Beijing time)", width=26),
    Column("type", "类型", "Type", width=10),
    Column("urgency", "紧急程度", "Urgency", width=10),
    Column("channel", "来源渠道", "Channel", width=10),
    Column("status", "状态", "Status", width=10),
    Column("is_enterprise", "涉企", "Enterprise", width=6),
    Column("confidential", "保密", "Confidential", width=6),
    Column("region_code", "市县代码", "Region code", width=10),
    Column("region_name", "市县", "Region", width=12),
    Column("lead_department", "承办部门代码", "Lead department code", width=14),
    Column("lead_department_name", "承办部门", "Lead department", width=30),
    Column("service_item", "事项代码", "Service item code", width=16),
    Column("service_item_name", "事项", "Service item", width=24),
    Column("category", "分类", "Category", width=14),
    Column("caller_name", "来电人", "Caller", width=10),
    Column("caller_phone", "来电号码", "Caller phone", width=14),
    Column("address", "地址", "Address", width=20),
    Column("content", "诉求内容", "Content", width=40),
    Column("dispatched_at", "派单时间（北京时间）", "Dispatched at (Beijing time)", width=26),
    Column("handle_due_at", "办理时限（北京时间）", "Due at (Beijing time)", width=26),
    Column("closed_at", "办结时间（北京时间）", "Replied at (Beijing time)", width=26),
    Column("closed_on_time", "按时办结", "Closed on time", width=8),
    Column("handling_working_hours", "办理工时（小时）", "Working hours", NUMBER),
    Column("called_back_at", "回访时间（北京时间）", "Called back at (Beijing time)", width=26),
    Column("extension_count", "延期次数", "Extensions", INT, 8),
    Column("reopen_count", "重办次数", "Reopened", INT, 8),
    Column("supervised", "督办", "Supervised", width=6),
)
TICKET_HEADER = keys(TICKET_COLUMNS)

RATING_STATUS_LABELS = {"valid": _l("Valid"), "voided": _l("Voided"), "pending": _l("Held for review (not counted)")}
YES_NO = {True: _l("Yes"), False: _l("No")}


def translated(table: Mapping[Any, Any], lang: str) -> dict[Any, str]:
    """A label table as plain strings in `lang`, looked up once per export."""
    with force_locale(LOCALE.get(lang, "zh_Hans_CN")):
        return {key: str(value) for key, value in table.items()}


def beijing(value: datetime | None) -> str:
    """A moment as Beijing time with its offset, `2026-11-03 00:31:00+08:00`; "" for none."""
    if value is None:
        return ""
    return value.astimezone(local_tz()).isoformat(sep=" ", timespec="seconds")


def stats_rows(
    body: dict[str, Any], lang: str = "zh", codes: Mapping[str, str] | None = None
) -> Iterator[Sequence[Any]]:
    """The total row (合计) for the whole period, then one per group; `codes` turns group keys
    (department ids) into the codes people know."""
    entries = [{"key": "", "label": TOTAL_LABEL.get(lang, "合计"), **body}, *body["groups"]]
    for entry in entries:
        levels = entry["levels"]
        key = str(entry["key"] or "")
        yield (
            (codes or {}).get(key, key),
            entry["label"],
            entry["total"],
            entry["valid"],
            *(levels[str(lv)] for lv in LEVELS),
            entry["satisfaction_rate"],
            entry["good_rate"],
            entry["bad_rate"],
        )


def group_codes(group_by: str | None) -> dict[str, str]:
    """Department and service item ids (as the statistics API keys those groups) to the codes
    people know, for the code column; other groups are keyed by their code already."""
    model: Any = {"department": Department, "service": ServiceItem}.get(group_by or "")
    if model is None:
        return {}
    return {str(i): code for i, code in db.session.execute(select(model.id, model.code))}


def _rating_conditions(filters: Filters) -> list[Any]:
    conditions = [Rating.local_day >= filters.start, Rating.local_day <= filters.end]
    wanted = {
        Rating.department_id: filters.department_id,
        Rating.region_code: filters.region_code,
        Rating.service_item_id: filters.service_item_id,
        Rating.channel: filters.channel,
        Rating.rater_type: filters.rater_type,
    }
    conditions += [column == value for column, value in wanted.items() if value is not None]
    if not filters.include_default:
        conditions.append(Rating.is_default.is_(False))
    return conditions


def _pairs(stmt: Any) -> dict[Any, tuple[str, str]]:
    """{id: (code, name)} of a reference table."""
    return {row[0]: (row[1], row[2]) for row in db.session.execute(stmt)}


@dataclass(frozen=True)
class Names:
    """Reference codes and names, and the label tables in one language, read once per export."""

    departments: dict[Any, tuple[str, str]]
    items: dict[Any, tuple[str, str]]
    regions: dict[Any, str]
    lang: str

    @classmethod
    def load(cls, lang: str) -> "Names":
        name = Region.name_en if lang == "en" else Region.name
        regions = {
            code: (english or chinese)
            for code, chinese, english in db.session.execute(select(Region.code, Region.name, name))
        }
        return cls(
            departments=_pairs(select(Department.id, Department.code, Department.name)),
            items=_pairs(select(ServiceItem.id, ServiceItem.code, ServiceItem.name)),
            regions=regions,
            lang=lang,
        )

    def department(self, key: Any) -> tuple[str, str]:
        return self.departments.get(key, ("", ""))

    def item(self, key: Any) -> tuple[str, str]:
        return self.items.get(key, ("", ""))


def rating_rows(
    filters: Filters, batch: int = BATCH, lang: str = "zh", reader: User | None = None
) -> Iterator[Sequence[Any]]:
    """Masked raw ratings in id order, read in keyset batches of `batch` rows. A rating made from
    a confidential ticket shows `reader` nothing of its rater unless they may know them
    (core.disclosure): no name, no number, the comment redacted."""
    names = Names.load(lang)
    channels, raters = translated(CHANNEL_LABELS, lang), translated(RATER_TYPE_LABELS, lang)
    levels, statuses, yes_no = (
        translated(LEVEL_LABELS, lang),
        translated(RATING_STATUS_LABELS, lang),
        translated(YES_NO, lang),
    )
    columns = (
        Rating.id,
        Rating.local_day,
        Rating.created_at,
        Rating.department_id,
        Rating.region_code,
        Rating.service_item_id,
        Rating.channel,
        Rating.rater_type,
        Rating.level,
        Rating.status,
        Rating.is_default,
        Rating.low_trust,
        Rating.contact_name,
        Rating.contact_phone,
        Rating.comment,
        ServiceEvent.confidential,
        ServiceEvent.contact_name,
    )
    last = 0
    conditions = _rating_conditions(filters)
    while True:
        stmt = (
            select(*columns)
            .join(ServiceEvent, ServiceEvent.id == Rating.event_id)
            .where(and_(*conditions, Rating.id > last))
            .order_by(Rating.id)
            .limit(batch)
        )
        rows = db.session.execute(stmt).all()
        for r in rows:
            status = str(getattr(r[9], "value", r[9]))
            yield (
                r[0],
                r[1].isoformat(),
                beijing(r[2]),
                *names.department(r[3]),
                r[4] or "",
                names.regions.get(r[4], ""),
                *names.item(r[5]),
                channels.get(r[6], str(r[6])),
                raters.get(r[7], str(r[7] or "")),
                r[8],
                levels.get(r[8], ""),
                statuses.get(status, status),
                yes_no[bool(r[10])],
                yes_no[bool(r[11])],
                *_rater(r, reader),
            )
        if len(rows) < batch:
            return
        last = rows[-1][0]
        db.session.expire_all()


def _rater(row: Any, reader: User | None) -> tuple[str, str, str]:
    """Contact name, phone and comment of a rating row as `reader` may see them."""
    if hidden_for(reader, bool(row[15])):
        return (CONFIDENTIAL_MARK if row[12] else "", "", redact_person(row[14], [row[12], row[16]]))
    return (mask_name(row[12]), mask_phone(row[13]), scrub_text(row[14]))


def _ticket_conditions(filters: KpiFilters) -> list[Any]:
    conditions = [
        Ticket.created_at >= start_of_day(filters.start),
        Ticket.created_at < start_of_day(filters.end + timedelta(days=1)),
    ]
    wanted = {
        Ticket.lead_department_id: filters.department_id,
        Ticket.region_code: filters.region_code,
        Ticket.type: filters.ticket_type,
        Ticket.is_enterprise: filters.enterprise,
    }
    return conditions + [column == value for column, value in wanted.items() if value is not None]


@dataclass(frozen=True)
class TicketLabels:
    """The ticket code tables in one language."""

    type: dict[Any, str]
    urgency: dict[Any, str]
    channel: dict[Any, str]
    status: dict[Any, str]
    yes_no: dict[Any, str]

    @classmethod
    def load(cls, lang: str) -> "TicketLabels":
        return cls(
            type=translated(ticket_labels.TYPE, lang),
            urgency=translated(ticket_labels.URGENCY, lang),
            channel=translated(ticket_labels.CHANNEL, lang),
            status=translated(ticket_labels.STATUS, lang),
            yes_no=translated(YES_NO, lang),
        )


def _code(value: Any) -> str:
    return str(getattr(value, "value", value))


def ticket_row(ticket: Ticket, names: Names, codes: TicketLabels, hours: WorkingHours) -> tuple[Any, ...]:
    """One ticket as the export shows it: the caller masked as in a list (张**, 138****5678), and
    nothing of them at all, not even masked, when they asked for confidentiality (保密); ID and
    phone numbers in the text scrubbed; the address cut at the district."""
    caller = caller_view(ticket, None)
    closed = ticket.closed_at
    yes_no = codes.yes_no
    return (
        ticket.number,
        beijing(ticket.created_at),
        codes.type.get(_code(ticket.type), _code(ticket.type)),
        codes.urgency.get(_code(ticket.urgency), _code(ticket.urgency)),
        codes.channel.get(_code(ticket.channel), _code(ticket.channel)),
        codes.status.get(_code(ticket.status), _code(ticket.status)),
        yes_no[bool(ticket.is_enterprise)],
        yes_no[bool(ticket.confidential)],
        ticket.region_code,
        names.regions.get(ticket.region_code, ""),
        *names.department(ticket.lead_department_id),
        *names.item(ticket.service_item_id),
        ticket.category,
        caller.name or "",
        caller.phone or "",
        "" if ticket.confidential else mask_address(ticket.address),
        content_for(ticket, None),
        beijing(ticket.dispatched_at),
        beijing(ticket.handle_due_at),
        beijing(closed),
        "" if closed is None else yes_no[closed <= ticket.handle_due_at],
        ""
        if closed is None
        else round(hours.between(handling_start(ticket.dispatched_at, ticket.created_at), closed), 2),
        beijing(ticket.called_back_at),
        ticket.extension_count,
        ticket.reopen_count,
        yes_no[ticket.supervised_at is not None],
    )


def ticket_rows(filters: KpiFilters, batch: int = BATCH, lang: str = "zh") -> Iterator[Sequence[Any]]:
    """Masked tickets created on the days asked for, in id order, read in keyset batches."""
    names, codes = Names.load(lang), TicketLabels.load(lang)
    hours = working_hours()
    conditions = _ticket_conditions(filters)
    last = 0
    while True:
        stmt = select(Ticket).where(and_(*conditions, Ticket.id > last)).order_by(Ticket.id).limit(batch)
        tickets = list(db.session.scalars(stmt))
        for ticket in tickets:
            yield ticket_row(ticket, names, codes, hours)
        if len(tickets) < batch:
            return
        last = tickets[-1].id
        del tickets
        db.session.expire_all()


# A spreadsheet reads text starting with one of these as a formula (or DDE command).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: `=HYPERLINK(...)` becomes `'=HYPERLINK(...)`.
    Numbers are left alone (a negative number is data, not a formula)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def percent_text(value: Any) -> Any:
    """A rate for CSV: 0.9466 becomes `94.66%`, which spreadsheets read as a percentage."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.2f}%"


def _kinds(columns: Sequence[Column | str]) -> list[str]:
    return [c.kind if isinstance(c, Column) else TEXT for c in columns]


def csv_stream(
    header: Sequence[Column | str], rows: Iterable[Sequence[Any]], lang: str = "zh", flush_every: int = 500
) -> Iterator[str]:
    """CSV text in pieces: a BOM (so spreadsheet programs read UTF-8), the header, then rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rates = [i for i, kind in enumerate(_kinds(header)) if kind == RATE]
    buffer.write("\ufeff")
    writer.writerow([inert_cell(value) for value in titles(header, lang)])
    for count, row in enumerate(rows, 1):
        cells = list(row)
        for i in rates:
            cells[i] = percent_text(cells[i])
        writer.writerow([inert_cell(value) for value in cells])
        if count % flush_every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@dataclass
class Sheet:
    """One worksheet of a workbook: its name, columns and rows (an iterator, read once)."""

    name: str
    columns: Sequence[Column | str]
    rows: Iterable[Sequence[Any]]


XLSX_OPTIONS = {
    "constant_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,  # `=HYPERLINK(...)` in a comment stays text
    "strings_to_urls": False,
}


def _write_sheet(workbook: Any, sheet: Sheet, lang: str, formats: dict[str, Any]) -> None:
    """Rows in order (constant-memory mode flushes each row once the next starts); the header row
    frozen and filterable; rates as numbers shown as percentages."""
    worksheet = workbook.add_worksheet(sheet.name)
    kinds = _kinds(sheet.columns)
    for i, column in enumerate(sheet.columns):
        width = column.width if isinstance(column, Column) else 12
        worksheet.set_column(i, i, width, formats.get(kinds[i]))
    worksheet.freeze_panes(1, 0)
    worksheet.write_row(0, 0, titles(sheet.columns, lang), formats["header"])
    last = 0
    for last, row in enumerate(sheet.rows, 1):
        for i, value in enumerate(row):
            if value is None or value == "":
                continue
            if kinds[i] == RATE:
                worksheet.write_number(last, i, float(value), formats[RATE])
            else:
                worksheet.write(last, i, value)
    worksheet.autofilter(0, 0, last, max(len(sheet.columns) - 1, 0))


def xlsx_workbook(sheets: Iterable[Sheet], lang: str = "zh") -> Iterator[bytes]:
    """An XLSX workbook of one or more sheets written row by row in constant memory to a temporary
    file, then streamed in chunks."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        workbook = xlsxwriter.Workbook(path, XLSX_OPTIONS)
        formats = {
            "header": workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "text_wrap": True}),
            RATE: workbook.add_format({"num_format": "0.00%"}),
            NUMBER: workbook.add_format({"num_format": "0.00"}),
        }
        for sheet in sheets:
            _write_sheet(workbook, sheet, lang, formats)
        workbook.close()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def xlsx_stream(
    header: Sequence[Column | str], rows: Iterable[Sequence[Any]], lang: str = "zh", sheet: str = "data"
) -> Iterator[bytes]:
    """A one-sheet XLSX workbook, streamed."""
    return xlsx_workbook([Sheet(sheet, header, rows)], lang)


STREAMERS: dict[str, Callable[[Sequence[Column | str], Iterable[Sequence[Any]], str], Iterator[Any]]] = {
    "csv": csv_stream,
    "xlsx": xlsx_stream,
}
