"""Per-client-IP limits on the public rating endpoints (Flask-Limiter; counters in Redis when
REDIS_URL is set, so a limit holds across all workers and servers).

- Submitting a rating (API and form together): RATING_RATE_LIMIT per IP.
- Opening the form or a QR image: RATING_PAGE_RATE_LIMIT per IP.
- A standing counter QR code, in addition: STANDING_QR_RATE_LIMIT per IP and code.
"""

import hashlib
from collections.abc import Callable
from typing import Any

from flask import current_app, request

from core.extensions import client_ip, limiter
from ratings.tokens import is_standing_token


def _config(key: str) -> Callable[[], str]:
    return lambda: str(current_app.config[key])


def request_token() -> str:
    """The rating token of this request: in the path (/rate/<token>) or the JSON body."""
    token = (request.view_args or {}).get("token")
    if token is None:
        body = request.get_json(silent=True)
        token = body.get("token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else ""


def _not_standing() -> bool:
    return not is_standing_token(request_token())


def _ip_and_code() -> str:
    digest = hashlib.sha256(request_token().encode()).hexdigest()[:16]
    return f"{client_ip()}|{digest}"


submit_limit = limiter.shared_limit(_config("RATING_RATE_LIMIT"), scope="rating-submit")
page_limit = limiter.shared_limit(_config("RATING_PAGE_RATE_LIMIT"), scope="rating-page")
standing_limit = limiter.shared_limit(
    _config("STANDING_QR_RATE_LIMIT"), scope="rating-standing", key_func=_ip_and_code, exempt_when=_not_standing
)


def submission_limits(view: Any) -> Any:
    """Both submission limits: every rating, and the stricter one for standing QR codes."""
    return submit_limit(standing_limit(view))
