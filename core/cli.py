"""Command line: users, tokens, reference data, the calendar, demo data."""

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from core import refdata
from core.auth import issue_api_token
from core.calendar import ScheduleFileError, load_official_schedule
from core.db import db
from core.errors import DomainError
from core.models import Role, User
from core.users import create_user, find_token, get_user, list_tokens, revoke_token, set_active, token_state

users_cli = AppGroup("users", help="Staff accounts.")
tokens_cli = AppGroup("tokens", help="API bearer tokens.")
calendar_cli = AppGroup("calendar", help="The working-day calendar.")
departments_cli = AppGroup("departments", help="Departments (承办单位).")
services_cli = AppGroup("services", help="Service items (政务服务事项).")
regions_cli = AppGroup("regions", help="Hainan's regions.")


def _fail(error: DomainError) -> None:
    db.session.rollback()
    details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in error.errors.items())
    raise click.ClickException(f"{error.message} {details}".strip())


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--department", "department_code", default=None, help="Department code (handlers).")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(
    username: str, role: str, department_code: str | None, display_name: str, password_stdin: bool
) -> None:
    """Create a staff account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username, role, password, department_code, display_name)
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"created {user.username} ({user.role.value})")


@users_cli.command("list")
def users_list() -> None:
    """List staff accounts."""
    for user in db.session.scalars(select(User).order_by(User.username)):
        dept = user.department.code if user.department else "-"
        click.echo(f"{user.username}\t{user.role.value}\t{dept}\t{'active' if user.active else 'disabled'}")


@users_cli.command("deactivate")
@click.argument("username")
def users_deactivate(username: str) -> None:
    """Deactivate USERNAME: their sessions and bearer tokens are refused from the next request on."""
    try:
        user = set_active(get_user(username), False)
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"deactivated {user.username}; their sessions and tokens are revoked")


@users_cli.command("activate")
@click.argument("username")
def users_activate(username: str) -> None:
    """Activate USERNAME again (tokens revoked at deactivation stay revoked)."""
    try:
        user = set_active(get_user(username), True)
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"activated {user.username}")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", default="cli", help="A label for the token.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Refused after N days.")
def tokens_create(username: str, name: str, expires_days: int | None) -> None:
    """Print a new bearer token for USERNAME, once, alone on the last line."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException(f"No active user {username}.")
    token = issue_api_token(user, name, expires_days)
    db.session.commit()
    click.echo(f"Bearer token for {username} (shown once, store it safely):")
    click.echo(token)


@tokens_cli.command("list")
@click.argument("username")
def tokens_list(username: str) -> None:
    """USERNAME's tokens, newest first: id, name, state, created, expires, revoked (UTC)."""
    try:
        tokens = list_tokens(get_user(username))
    except DomainError as error:
        _fail(error)
        return
    click.echo("id\tname\tstate\tcreated_at\texpires_at\trevoked_at")
    for token in tokens:
        moments = (token.created_at, token.expires_at, token.revoked_at)
        shown = "\t".join(m.isoformat(timespec="seconds") if m else "-" for m in moments)
        click.echo(f"{token.id}\t{token.name or '-'}\t{token_state(token)}\t{shown}")


@tokens_cli.command("revoke")
@click.argument("token_or_id")
def tokens_revoke(token_or_id: str) -> None:
    """Revoke a token, given by its id (`tokens list`) or its value: refused from the next request."""
    try:
        token = revoke_token(find_token(token_or_id))
    except DomainError as error:
        _fail(error)
        return
    db.session.commit()
    click.echo(f"revoked token {token.id} of {token.user.username}")


@calendar_cli.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def calendar_load(file: Path) -> None:
    """Load an official holiday / make-up-workday schedule (JSON)."""
    try:
        year, off, work = load_official_schedule(file)
    except ScheduleFileError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(f"loaded {year}: {off} days off, {work} make-up workdays")


@regions_cli.command("load")
def regions_load() -> None:
    """Load Hainan's cities and counties (idempotent)."""
    count = refdata.load_regions()
    db.session.commit()
    click.echo(f"{count} regions")


@departments_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--region", "region_code", required=True, help="Region code, e.g. 460100.")
@click.option("--parent", "parent_code", default=None, help="Parent department code.")
@click.option("--name-en", default="")
def departments_create(code: str, name: str, region_code: str, parent_code: str | None, name_en: str) -> None:
    """Create a department."""
    try:
        refdata.create_department(
            {"code": code, "name": name, "name_en": name_en, "region_code": region_code, "parent_code": parent_code}
        )
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"created department {code}")


@departments_cli.command("list")
@click.option("--region", "region_code", default=None)
def departments_list(region_code: str | None) -> None:
    """List departments."""
    for dept in refdata.list_departments(region_code):
        click.echo(f"{dept.code}\t{dept.name}\t{dept.region_code}\t{dept.parent.code if dept.parent else '-'}")


@services_cli.command("create")
@click.argument("code")
@click.argument("name")
@click.option("--department", "department_code", required=True)
@click.option("--category", default="")
@click.option("--keywords", default="")
@click.option("--private", is_flag=True, help="Not listed for the public (Open311).")
def services_create(code: str, name: str, department_code: str, category: str, keywords: str, private: bool) -> None:
    """Create a service item."""
    try:
        refdata.create_service_item(
            {
                "code": code,
                "name": name,
                "department_code": department_code,
                "category": category,
                "keywords": keywords,
                "is_public": not private,
            }
        )
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"created service item {code}")


@services_cli.command("list")
@click.option("--department", "department_code", default=None)
def services_list(department_code: str | None) -> None:
    """List service items."""
    for item in refdata.list_service_items(department_code):
        click.echo(f"{item.code}\t{item.name}\t{item.department.code}")


def register(app: Flask) -> None:
    import core.backup  # noqa: F401 - adds `db backup` and `db restore` to Flask-Migrate's group
    from core.demo import demo_cli
    from core.scheduler import scheduler_cli

    for group in (
        users_cli,
        tokens_cli,
        calendar_cli,
        regions_cli,
        departments_cli,
        services_cli,
        demo_cli,
        scheduler_cli,
    ):
        app.cli.add_command(group)
