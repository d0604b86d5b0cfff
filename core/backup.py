"""`flask db backup` and `flask db restore`: consistent copies of the database.

SQLite uses its online backup API (safe while the app runs); PostgreSQL uses pg_dump's custom
format and pg_restore. Restore is for a stopped service: it replaces the database's contents.
"""

import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask_migrate.cli import db as db_cli
from sqlalchemy.engine import URL, make_url

from core.db import db


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq_args(url: URL) -> list[str]:
    args = ["--dbname", url.database or "", "--username", url.username or "postgres"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    return args


def _libpq_env(url: URL) -> dict[str, str]:
    import os

    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise click.ClickException(f"{tool} not found; install the PostgreSQL client tools")
    return path


def backup_to(target: Path) -> Path:
    """Write a backup of the bound database to `target`."""
    url = _url()
    target.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(url.database or "")
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
            source.close()
    elif url.get_backend_name() == "postgresql":
        cmd = [_require("pg_dump"), "--format=custom", "--no-owner", "--file", str(target), *_libpq_args(url)]
        subprocess.run(cmd, check=True, env=_libpq_env(url))  # noqa: S603 - fixed argv, no shell
    else:
        raise click.ClickException(f"no backup method for {url.get_backend_name()}")
    return target


def restore_from(source: Path) -> None:
    """Replace the bound database's contents with a backup made by `backup_to`."""
    url = _url()
    db.session.remove()
    db.engine.dispose()
    if url.get_backend_name() == "sqlite":
        src = sqlite3.connect(source)
        dest = sqlite3.connect(url.database or "")
        try:
            src.backup(dest)
        finally:
            dest.close()
            src.close()
    elif url.get_backend_name() == "postgresql":
        cmd = [
            _require("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *_libpq_args(url),
            str(source),
        ]
        subprocess.run(cmd, check=True, env=_libpq_env(url))  # noqa: S603 - fixed argv, no shell
    else:
        raise click.ClickException(f"no restore method for {url.get_backend_name()}")


@db_cli.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Backup file (default: instance/backups/haocha-<UTC time>.<db|dump>).",
)
def db_backup(output: Path | None) -> None:
    """Back up the database (SQLite online backup API, or pg_dump)."""
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        suffix = "db" if _url().get_backend_name() == "sqlite" else "dump"
        output = Path(current_app.instance_path) / "backups" / f"haocha-{stamp}.{suffix}"
    path = backup_to(output)
    click.echo(f"backup written: {path} ({path.stat().st_size} bytes)")


@db_cli.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def db_restore(source: Path, yes: bool) -> None:
    """Replace the database with a backup (stop the app and the scheduler first)."""
    if not yes:
        click.confirm(f"Replace the contents of the database with {source}?", abort=True)
    restore_from(source)
    click.echo(f"restored from {source}")
