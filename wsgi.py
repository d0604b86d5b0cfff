"""The WSGI entry point that gunicorn and `flask --app wsgi` load."""

import sys

from config.settings import SettingsError
from core.app import create_app

try:
    app = create_app()
except SettingsError as refused:
    # A clear sentence, not a traceback: the operator has a setting to fix.
    print(f"haocha refuses to start: {refused}", file=sys.stderr)
    raise SystemExit(2) from None
