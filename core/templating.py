"""Jinja filters every package's templates share: local times and masking."""

from datetime import datetime

from flask import Flask

from core.calendar import local_tz
from core.privacy import mask_name, mask_phone, scrub_text


def localtime(moment: datetime | None) -> str:
    """An aware datetime as Asia/Shanghai wall-clock time, e.g. 2026-10-08 18:00."""
    return moment.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M") if moment else ""


def localdate(moment: datetime | None) -> str:
    return moment.astimezone(local_tz()).strftime("%Y-%m-%d") if moment else ""


def init_templating(app: Flask) -> None:
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
    app.add_template_filter(scrub_text, "scrub")
    app.add_template_filter(mask_name, "mask_name")
    app.add_template_filter(mask_phone, "mask_phone")
