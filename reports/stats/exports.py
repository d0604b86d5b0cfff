"""Streamed exports: CSV written row by row, XLSX through XlsxWriter's constant-memory mode into a
temporary file that is then streamed in chunks. Raw rows are read in id order in keyset batches,
so a year of ratings never sits in memory; personal data is masked (core.privacy)."""

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import xlsxwriter
from sqlalchemy import and_, select

from core.db import db
from core.models import Department, ServiceItem
from core.privacy import mask_name, mask_phone, scrub_text
from ratings.models import Rating
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


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]], flush_every: int = 500) -> Iterator[str]:
    """CSV text in pieces: a BOM (so spreadsheet programs read UTF-8), the header, then rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(header)
    for count, row in enumerate(rows, 1):
        writer.writerow(["" if value is None else value for value in row])
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
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_numbers": False})
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
