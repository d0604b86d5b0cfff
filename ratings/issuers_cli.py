"""`flask issuers ...`: issuer keys for business systems and counter devices (评价精准)."""

import click
from flask.cli import AppGroup

from core.db import db
from core.errors import DomainError
from ratings import issuers

issuers_cli = AppGroup("issuers", help="Issuer keys: how business systems and counter devices issue rating tokens.")


@issuers_cli.command("create")
@click.argument("name")
@click.option("--department", "departments", multiple=True, required=True, help="A department code; repeatable.")
def create(name: str, departments: tuple[str, ...]) -> None:
    """Create an issuer key scoped to departments; the key is printed once, alone on the last line."""
    try:
        issuer, key = issuers.create_issuer(name, departments)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"issuer {issuer.name} for {', '.join(issuers.department_codes(issuer))}")
    click.echo("send it as the X-Issuer-Key header of POST /api/v1/service-events; it is not shown again:")
    click.echo(key)


@issuers_cli.command("list")
def list_() -> None:
    """Issuer keys: name, departments, state, last use."""
    for issuer in issuers.list_issuers():
        state = (
            "active" if issuer.active else f"revoked {issuer.revoked_at:%Y-%m-%d}" if issuer.revoked_at else "revoked"
        )
        used = issuer.last_used_at.isoformat() if issuer.last_used_at else "never used"
        click.echo(f"{issuer.name}\t{','.join(issuers.department_codes(issuer))}\t{state}\t{used}")


@issuers_cli.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke an issuer key: it is refused (401) from the next request on."""
    try:
        issuer = issuers.revoke_issuer(name)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"issuer {issuer.name} revoked")
