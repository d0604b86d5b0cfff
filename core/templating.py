"""Jinja filters every package's templates share: local times and masking."""

from datetime import datetime
from typing import Any

from flask import Flask
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from core.calendar import local_tz
from core.privacy import mask_name, mask_phone, scrub_text


def localtime(moment: datetime | None) -> str:
    """An aware datetime as Asia/Shanghai wall-clock time, e.g. 2026-10-08 18:00."""
    return moment.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M") if moment else ""


def localdate(moment: datetime | None) -> str:
    return moment.astimezone(local_tz()).strftime("%Y-%m-%d") if moment else ""


MESSAGE_STATUS_LABELS = {"pending": _l("waiting to be sent"), "sent": _l("delivered"), "failed": _l("failed")}


def message_status_label(status: str) -> str:
    """A citizen message's delivery state, in the page's language."""
    return str(MESSAGE_STATUS_LABELS.get(status, status))


def local_name(obj: Any) -> str:
    """A department's, region's or service item's name in the page's language: `name_en` in
    English mode where there is one, the Chinese name otherwise."""
    if obj is None:
        return ""
    english: str = getattr(obj, "name_en", "") or ""
    if english and str(get_locale()) == "en":
        return english
    return str(obj.name)


def unread_notifications() -> int:
    """The signed-in staff member's unread notifications, for the header (0 when signed out)."""
    from core.auth import current_user
    from core.notify import unread_count

    if not getattr(current_user, "is_authenticated", False):
        return 0
    return unread_count(current_user)


def init_templating(app: Flask) -> None:
    app.add_template_global(message_status_label, "message_status_label")
    app.add_template_global(local_name, "local_name")
    app.add_template_global(unread_notifications, "unread_notifications")
    from core.notify import subject_link

    app.add_template_global(subject_link, "notification_link")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(localdate, "localdate")
    app.add_template_filter(scrub_text, "scrub")
    app.add_template_filter(mask_name, "mask_name")
    app.add_template_filter(mask_phone, "mask_phone")
