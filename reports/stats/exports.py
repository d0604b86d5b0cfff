"""Streamed exports: CSV written row by row, XLSX through XlsxWriter's constant-memory mode into a
temporary file that is then streamed in chunks. Raw rows (ratings, tickets) are read in id order in
keyset batches, so a year of them never sits in memory; personal data is masked (core.privacy).
No cell can run code in a spreadsheet: CSV text starting with = + - @, tab or CR gets a leading
single quote (OWASP's rule for CSV injection) and XLSX writes every text as a string cell, never a
formula or a link."""

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import xlsxwriter
from sqlalchemy import and_, select

from core.calendar import start_of_day
from core.db import db
from core.models import Department, ServiceItem
from core.privacy import mask_address, mask_name, mask_phone, scrub_text
from hotline.models import Ticket
from hotline.service import caller_view, content_for
from ratings.models import Rating
from reports.stats.kpis import KpiFilters, WorkingHours, handling_start, working_hours
from reports.stats.models import LEVELS
from reports.stats.service import Filters

BATCH = 5000
CHUNK = 64 * 1024
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

STATS_HEADER = (
    "key",
    "label",
    "total",
    "valid",
    *(f"level_{lv}" for lv in LEVELS),
    "satisfaction_rate",
    "good_rate",
    "bad_rate",
)
RATING_HEADER = (
    "id",
    "local_day",
    "created_at",
    "department",
    "region_code",
    "service_item",
    "channel",
    "rater_type",
    "level",
    "status",
    "is_default",
    "low_trust",
    "contact_name",
    "contact_phone",
    "comment",
)

TICKET_HEADER = (
    "number",
    "created_at",
    "type",
    "urgency",
    "channel",
    "status",
    "is_enterprise",
    "confidential",
    "region_code",
    "lead_department",
    "service_item",
    "category",
    "caller_name",
    "caller_phone",
    "address",
    "content",
    "dispatched_at",
    "handle_due_at",
    "closed_at",
    "closed_on_time",
    "handling_working_hours",
    "called_back_at",
    "extension_count",
    "reopen_count",
    "supervised",
)


def stats_rows(body: dict[str, Any]) -> Iterator[Sequence[Any]]:
    """One row for the whole period, then one per group."""
    entries = [{"key": "", "label": "all", **body}, *body["groups"]]
    for entry in entries:
        levels = entry["levels"]
        yield (
            entry["key"],
            entry["label"],
            entry["total"],
            entry["valid"],
            *(levels[str(lv)] for lv in LEVELS),
            entry["satisfaction_rate"],
            entry["good_rate"],
            entry["bad_rate"],
        )


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


def _codes(stmt: Any) -> dict[int | None, str]:
    return {row[0]: row[1] for row in db.session.execute(stmt)}


def rating_rows(filters: Filters, batch: int = BATCH) -> Iterator[Sequence[Any]]:
    """Masked raw ratings in id order, read in keyset batches of `batch` rows."""
    departments = _codes(select(Department.id, Department.code))
    items = _codes(select(ServiceItem.id, ServiceItem.code))
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
    )
    last = 0
    conditions = _rating_conditions(filters)
    while True:
        stmt = select(*columns).where(and_(*conditions, Rating.id > last)).order_by(Rating.id).limit(batch)
        rows = db.session.execute(stmt).all()
        for r in rows:
            yield (
                r[0],
                r[1].isoformat(),
                r[2].isoformat(),
                departments.get(r[3], ""),
                r[4] or "",
                items.get(r[5], ""),
                r[6],
                r[7],
                r[8],
                str(getattr(r[9], "value", r[9])),
                bool(r[10]),
                bool(r[11]),
                mask_name(r[12]),
                mask_phone(r[13]),
                scrub_text(r[14]),
            )
        if len(rows) < batch:
            return
        last = rows[-1][0]
        db.session.expire_all()


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


def _moment(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def ticket_row(
    ticket: Ticket, departments: dict[int | None, str], items: dict[int | None, str], hours: WorkingHours
) -> tuple[Any, ...]:
    """One ticket as the export shows it: the caller masked as in a list (张**, 138****5678), and
    nothing of them at all, not even masked, when they asked for confidentiality (保密); ID and
    phone numbers in the text scrubbed; the address cut at the district."""
    caller = caller_view(ticket, None)
    closed = ticket.closed_at
    return (
        ticket.number,
        _moment(ticket.created_at),
        ticket.type.value,
        ticket.urgency.value,
        ticket.channel.value,
        ticket.status.value,
        bool(ticket.is_enterprise),
        bool(ticket.confidential),
        ticket.region_code,
        departments.get(ticket.lead_department_id, ""),
        items.get(ticket.service_item_id, ""),
        ticket.category,
        caller.name or "",
        caller.phone or "",
        "" if ticket.confidential else mask_address(ticket.address),
        content_for(ticket, None),
        _moment(ticket.dispatched_at),
        _moment(ticket.handle_due_at),
        _moment(closed),
        "" if closed is None else closed <= ticket.handle_due_at,
        ""
        if closed is None
        else round(hours.between(handling_start(ticket.dispatched_at, ticket.created_at), closed), 2),
        _moment(ticket.called_back_at),
        ticket.extension_count,
        ticket.reopen_count,
        ticket.supervised_at is not None,
    )


def ticket_rows(filters: KpiFilters, batch: int = BATCH) -> Iterator[Sequence[Any]]:
    """Masked tickets created on the days asked for, in id order, read in keyset batches."""
    departments = _codes(select(Department.id, Department.code))
    items = _codes(select(ServiceItem.id, ServiceItem.code))
    hours = working_hours()
    conditions = _ticket_conditions(filters)
    last = 0
    while True:
        stmt = select(Ticket).where(and_(*conditions, Ticket.id > last)).order_by(Ticket.id).limit(batch)
        tickets = list(db.session.scalars(stmt))
        for ticket in tickets:
            yield ticket_row(ticket, departments, items, hours)
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


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], flush_every: int = 500) -> Iterator[str]:
    """CSV text in pieces: a BOM (so spreadsheet programs read UTF-8), the header, then rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([inert_cell(value) for value in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([inert_cell(value) for value in row])
        if count % flush_every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], sheet: str = "data") -> Iterator[bytes]:
    """An XLSX workbook written row by row in constant memory to a temporary file, then streamed."""
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        options = {
            "constant_memory": True,
            "strings_to_numbers": False,
            "strings_to_formulas": False,  # `=HYPERLINK(...)` in a comment stays text
            "strings_to_urls": False,
        }
        workbook = xlsxwriter.Workbook(path, options)
        worksheet = workbook.add_worksheet(sheet)
        worksheet.write_row(0, 0, header)
        for number, row in enumerate(rows, 1):
            worksheet.write_row(number, 0, ["" if value is None else value for value in row])
        workbook.close()
        with open(path, "rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


STREAMERS: dict[str, Callable[[Sequence[str], Iterable[Sequence[Any]]], Iterator[Any]]] = {
    "csv": csv_stream,
    "xlsx": xlsx_stream,
}
