"""`flask demo load`: realistic demo data — Hainan's regions, departments, service items, one staff
member of each role — and, through loaders the domain packages register, tickets and ratings."""

import os
import random
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select, text

from core import refdata
from core.db import db, is_postgresql
from core.models import Department, Region, Role, ServiceItem, User
from core.users import create_user

demo_cli = AppGroup("demo", help="Demo data.")

# (code suffix, name, English name, service items: (code suffix, name, category, keywords))
DEPARTMENT_TYPES: list[tuple[str, str, str, list[tuple[str, str, str, str]]]] = [
    (
        "ZWFW",
        "政务服务中心",
        "Government Service Center",
        [
            ("001", "综合窗口咨询", "综合", "咨询,窗口,办事指南"),
            ("002", "企业开办一件事", "企业服务", "企业开办,营业执照,刻章,涉企"),
        ],
    ),
    (
        "SCJG",
        "市场监督管理局",
        "Market Regulation Bureau",
        [
            ("001", "营业执照变更登记", "市场监管", "营业执照,变更,企业"),
            ("002", "食品经营许可", "市场监管", "食品,许可证,餐饮"),
        ],
    ),
    (
        "RSJ",
        "人力资源和社会保障局",
        "Human Resources and Social Security Bureau",
        [
            ("001", "社会保障卡申领", "社保", "社保卡,申领,补办"),
            ("002", "失业保险金申领", "社保", "失业,保险金"),
        ],
    ),
    (
        "ZJJ",
        "住房和城乡建设局",
        "Housing and Urban-Rural Development Bureau",
        [
            ("001", "住房公积金提取", "住房", "公积金,提取,购房"),
            ("002", "物业服务投诉处理", "住房", "物业,小区,投诉"),
        ],
    ),
    (
        "GAJ",
        "公安局",
        "Public Security Bureau",
        [
            ("001", "居住证办理", "户政", "居住证,户籍"),
            ("002", "出入境证件办理", "出入境", "护照,港澳通行证"),
        ],
    ),
    (
        "ZRZY",
        "自然资源和规划局",
        "Natural Resources and Planning Bureau",
        [
            ("001", "不动产登记", "不动产", "不动产,房产证,过户"),
        ],
    ),
    (
        "YBJ",
        "医疗保障局",
        "Healthcare Security Bureau",
        [
            ("001", "医保异地就医备案", "医保", "医保,异地,备案"),
        ],
    ),
    (
        "JTJ",
        "交通运输局",
        "Transport Bureau",
        [
            ("001", "道路运输许可", "交通", "运输,许可,出租车"),
        ],
    ),
    (
        "SWJ",
        "水务局",
        "Water Affairs Bureau",
        [
            ("001", "供水报修", "水电气热", "停水,供水,水管"),
        ],
    ),
]

DEMO_ROLES = [
    ("demo_admin", Role.ADMIN, None, "系统管理员"),
    ("demo_manager", Role.MANAGER, None, "王经理"),
    ("demo_agent", Role.AGENT, None, "话务员小李"),
    ("demo_handler", Role.HANDLER, "460100-SCJG", "海口市监局承办员"),
    ("demo_handler2", Role.HANDLER, "460200-SCJG", "三亚市监局承办员"),
]

Loader = Callable[[int, random.Random], int]
_loaders: dict[str, Loader] = {}
_reference_hooks: dict[str, Callable[[], object]] = {}
_progress: list[Callable[[int], None]] = []


def next_free_id(id_column: Any) -> int:
    """The first id a bulk loader may hand out itself: one past the highest in the table."""
    return int(db.session.scalar(select(func.coalesce(func.max(id_column), 0))) or 0) + 1


def advance_id_sequences(*tables: str) -> None:
    """After bulk inserts with explicit ids, move PostgreSQL's id sequences past them, so the
    next ordinary insert does not collide (SQLite takes max(id) + 1 by itself)."""
    if not is_postgresql():
        return
    for table in tables:
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608
        )


def report_progress(done: int) -> None:
    """Loaders call this after each chunk; `flask demo load` shows it as a progress bar."""
    for sink in _progress:
        sink(done)


_finishers: dict[str, Callable[[], object]] = {}


def register_reference_hook(name: str, hook: Callable[[], object]) -> None:
    """Let a package add its own reference data after regions, departments and items exist."""
    _reference_hooks[name] = hook


def register_demo_loader(kind: str, loader: Loader) -> None:
    """Let a domain package add `--<kind> N` demo rows (called from its init_app)."""
    _loaders[kind] = loader


def register_demo_finisher(name: str, hook: Callable[[], object]) -> None:
    """Let a downstream package catch up after the loaders wrote rows in bulk (e.g. rollups)."""
    _finishers[name] = hook


def signins_file() -> Path:
    return Path(current_app.instance_path) / "demo-signins.txt"


def load_reference_data() -> tuple[int, int]:
    """Regions, a department of each type in every region, and their service items."""
    refdata.load_regions()
    existing = set(db.session.scalars(select(Department.code)))
    regions = list(db.session.scalars(select(Region).order_by(Region.code)))
    items = 0
    for region in regions:
        for suffix, name, name_en, services in DEPARTMENT_TYPES:
            code = f"{region.code}-{suffix}"
            if code in existing:
                continue
            dept = Department(
                code=code, name=f"{region.name}{name}", name_en=f"{region.name_en} {name_en}", region_code=region.code
            )
            db.session.add(dept)
            db.session.flush()
            for item_suffix, item_name, category, keywords in services:
                db.session.add(
                    ServiceItem(
                        code=f"{suffix}-{item_suffix}-{region.code}",
                        name=item_name,
                        category=category,
                        keywords=keywords,
                        department_id=dept.id,
                    )
                )
                items += 1
    db.session.flush()
    return len(regions), items


def create_demo_staff() -> list[tuple[str, str, str]]:
    """One staff member of each role (two handlers in different departments), random passwords."""
    created = []
    for username, role, dept_code, name in DEMO_ROLES:
        if db.session.scalar(select(User).where(User.username == username)) is not None:
            continue
        password = secrets.token_urlsafe(12)
        create_user(username, role.value, password, dept_code, name)
        created.append((username, role.value, password))
    return created


def refresh_planner_statistics() -> None:
    """ANALYZE after the bulk load, once every loader is done: a planner that still believes the
    ratings table empty scans all of it (the statistics GET took 20 ms instead of 4 on PostgreSQL
    until autovacuum came round). SQLite samples each index (analysis_limit) instead of reading it."""
    if not is_postgresql():
        db.session.execute(text("PRAGMA analysis_limit = 1000"))
    db.session.execute(text("ANALYZE"))


def database_is_empty() -> bool:
    return not db.session.scalar(select(func.count()).select_from(User))


@demo_cli.command("load")
@click.option("--tickets", default=0, show_default=True, help="12345 tickets to create.")
@click.option("--ratings", default=0, show_default=True, help="Ratings over the last 90 days.")
@click.option("--seed", default=12345, show_default=True, help="Random seed.")
@click.option("--if-empty", is_flag=True, help="Do nothing unless the database has no staff yet.")
def demo_load(tickets: int, ratings: int, seed: int, if_empty: bool) -> None:
    """Load realistic demo data."""
    if if_empty and not database_is_empty():
        click.echo("database not empty; demo data not loaded")
        return
    rng = random.Random(seed)
    regions, items = load_reference_data()
    for hook in _reference_hooks.values():
        hook()
    staff = create_demo_staff()
    db.session.commit()
    click.echo(f"{regions} regions, {items} new service items")
    for kind, count in (("tickets", tickets), ("ratings", ratings)):
        if count <= 0:
            continue
        loader = _loaders.get(kind)
        if loader is None:
            raise click.ClickException(f"--{kind} is not available in this version")
        # A bar on a terminal; elsewhere (make run's log, CI) just the count printed below.
        hidden = not sys.stderr.isatty()
        with click.progressbar(length=count, label=f"{kind:>8}", file=sys.stderr, hidden=hidden) as bar:
            _progress.append(bar.update)
            try:
                made = loader(count, rng)
            finally:
                _progress.remove(bar.update)
        click.echo(f"{made} {kind}")
    if tickets > 0 or ratings > 0:
        for finish in _finishers.values():
            finish()
        refresh_planner_statistics()
        db.session.commit()
    if staff:
        path = signins_file()
        lines = [f"{u}\t{r}\t{p}" for u, r, p in staff]
        path.write_text("username\trole\tpassword\n" + "\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        if if_empty:  # `make run` prints the file itself
            click.echo(f"demo sign-ins written to {path}")
        else:
            click.echo(f"demo sign-ins (also in {path}):")
            for line in lines:
                click.echo(f"  {line}")
