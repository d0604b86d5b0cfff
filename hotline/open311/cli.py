"""Command line: Open311 API keys (`flask apikeys ...`) and service definitions (`flask open311 ...`)."""

from pathlib import Path

import click
from flask.cli import AppGroup

from core.db import db
from core.errors import DomainError
from hotline.open311 import attributes, keys
from hotline.open311.attributes import LoadResult

apikeys_cli = AppGroup("apikeys", help="Open311 API keys.")
open311_cli = AppGroup("open311", help="Open311 GeoReport v2 service definitions.")


def _fail(error: DomainError) -> None:
    db.session.rollback()
    details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in error.errors.items())
    raise click.ClickException(f"{error.message} {details}".strip())


@apikeys_cli.command("create")
@click.argument("name")
def apikeys_create(name: str) -> None:
    """Print a new Open311 API key for the client NAME, once, alone on the last line."""
    try:
        _key, raw = keys.create_key(name)
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"Open311 API key for {name} (shown once, store it safely):")
    click.echo(raw)


@apikeys_cli.command("revoke")
@click.argument("name")
def apikeys_revoke(name: str) -> None:
    """Revoke the active key of the client NAME (its requests are refused with 403 from now on)."""
    try:
        keys.revoke_key(name)
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"revoked the key of {name}")


@apikeys_cli.command("list")
def apikeys_list() -> None:
    """List keys: name, created, last used, active or revoked."""
    for key in keys.list_keys():
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "-"
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d}"
        click.echo(f"{key.name}\t{key.created_at.isoformat(timespec='seconds')}\t{used}\t{state}")


def _report(result: LoadResult) -> None:
    db.session.commit()
    click.echo(f"{result.items} service items, {result.attributes} attributes")
    for pattern in result.unmatched:
        click.echo(f"warning: {pattern} matches no service item", err=True)


@open311_cli.command("load-attributes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_attributes(file: Path) -> None:
    """Replace service definitions from a JSON file: {"CODE or PATTERN": [attribute, ...]}."""
    try:
        result = attributes.load_definitions_file(file.read_text(encoding="utf-8"))
    except DomainError as error:
        _fail(error)
        return
    _report(result)


@open311_cli.command("demo-attributes")
def demo_attributes() -> None:
    """Load the demo service definitions (after `flask demo load`)."""
    _report(attributes.seed_demo_definitions())
