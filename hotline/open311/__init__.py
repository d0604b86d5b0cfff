"""Open311 GeoReport v2 (docs/open311.md): any 311 client — FixMyStreet among them — files and
follows 12345 tickets under /open311/v2/, in XML and JSON, with API keys for writes."""

from flask import Flask
from flask_smorest import Api


def init_app(app: Flask, api: Api) -> None:
    """Register the blueprint (outside the OpenAPI document) and the `apikeys`/`open311` commands."""
    from core.demo import register_reference_hook
    from hotline.open311 import models, views  # noqa: F401 - models register the tables
    from hotline.open311.attributes import seed_demo_definitions
    from hotline.open311.cli import apikeys_cli, open311_cli

    app.register_blueprint(views.bp)
    register_reference_hook("open311.definitions", seed_demo_definitions)
    app.cli.add_command(apikeys_cli)
    app.cli.add_command(open311_cli)
