"""Getting a rating link to a citizen who was not at a counter (a closed ticket's caller).

Tokens are stored only as hashes, so the link exists in plain text only when it is issued: it is
handed to the sender then. The default sender logs (masked number, never the link); a deployment
plugs its SMS gateway in with `set_link_sender`.
"""

import logging
from collections.abc import Callable

from core.privacy import mask_phone
from ratings.models import ServiceEvent

log = logging.getLogger("haocha.ratings.delivery")

LinkSender = Callable[[ServiceEvent, str], None]


def _log_sender(event: ServiceEvent, _url: str) -> None:
    log.info("rating link for event %s ready for %s", event.id, mask_phone(event.contact_phone) or "-")


_sender: LinkSender = _log_sender


def set_link_sender(sender: LinkSender) -> None:
    """Replace how rating links reach citizens (e.g. an SMS gateway)."""
    global _sender
    _sender = sender


def send_rating_link(event: ServiceEvent, url: str) -> None:
    if event.contact_phone:
        _sender(event, url)
