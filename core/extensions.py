"""Flask extensions shared by every package (created here, bound in the app factory)."""

from flask import request
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect


def client_ip() -> str:
    """The client's address; ProxyFix (PROXY_COUNT) has already made it honest behind proxies."""
    return request.remote_addr or "unknown"


limiter = Limiter(key_func=client_ip, default_limits=[])
csrf = CSRFProtect()
migrate = Migrate()
