"""Rating links and their QR codes (segno, PNG and SVG).

Links start at PUBLIC_BASE_URL, else at the host of the current request, else they are relative.
Only hashes of tokens are stored, so a QR code can only be drawn by whoever holds the token: it is
served at `/rate/<token>/qr.svg|png`, beside the form it points to, and never from an id.
"""

import io

import segno
from flask import current_app, has_request_context, request

RATE_PATH = "/rate/{token}"
QR_PATH = "/rate/{token}/qr.{fmt}"
QR_FORMATS = {"svg": "image/svg+xml", "png": "image/png"}


def public_base() -> str:
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "")
    if not base and has_request_context():
        base = request.host_url
    return base.rstrip("/")


def rate_url(token: str) -> str:
    return public_base() + RATE_PATH.format(token=token)


def qr_url(token: str, fmt: str = "svg") -> str:
    return public_base() + QR_PATH.format(token=token, fmt=fmt)


def qr_target(token: str, channel: int) -> str:
    """What the QR code encodes: the form, marked so the rating records the QR channel."""
    return f"{rate_url(token)}?ch={channel}"


def qr_image(data: str, fmt: str, title: str = "") -> bytes:
    """A printable QR code (error correction M, quiet zone of 4 modules)."""
    code = segno.make(data, error="m", micro=False)
    out = io.BytesIO()
    if fmt == "svg":
        code.save(out, kind="svg", scale=8, border=4, xmldecl=False, title=title or None)
    else:
        code.save(out, kind="png", scale=8, border=4)
    return out.getvalue()
