"""The WSGI entry point that gunicorn and `flask --app wsgi` load."""

from core.app import create_app

app = create_app()
