"""The baseline for `make bench`: a bare Flask + SQLAlchemy app on the same database kind as the
product (BENCH_DATABASE_URL), with a constant GET, a GET of one row by its primary key (one
indexed read through a session: what any authenticated request must at least do to check its
credential) and a one-row insert POST. Nothing else: no auth, no schemas, no logging, so the
ratios in bench/RESULTS.md say what the product adds."""

import os
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import Integer, String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Row(Base):
    __tablename__ = "bench_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(200), default="")


def _engine(url: str) -> Any:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        # The same durability as the product's SQLite (core/db.py): WAL, synchronous=FULL.
        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=15000")
            cur.close()

    return engine


def create_schema(url: str) -> None:
    """Create the one table, once, before the workers start (two workers racing to create it on
    PostgreSQL would kill one of them)."""
    engine = _engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        if session.scalar(select(func.min(Row.id))) is None:
            # Without an explicit id: PostgreSQL's sequence stays in step for /insert.
            session.add(Row(level=5, comment="the row /read reads"))
            session.commit()
    engine.dispose()


def create_bare_app(url: str) -> Flask:
    engine = _engine(url)
    sessions = sessionmaker(bind=engine, class_=Session)
    read_id: list[int] = []  # the row create_schema made, found at the first /read
    app = Flask(__name__)

    @app.get("/constant")
    def constant() -> Any:
        return jsonify(status="ok")

    @app.get("/read")
    def read() -> Any:
        with sessions() as session:
            if not read_id:
                read_id.append(session.scalars(select(func.min(Row.id))).one())
            row = session.scalars(select(Row).where(Row.id == read_id[0])).one()
            return jsonify(id=row.id, level=row.level, comment=row.comment)

    @app.post("/insert")
    def insert() -> Any:
        body = request.get_json(force=True)
        with sessions() as session:
            row = Row(level=int(body.get("level", 5)), comment=str(body.get("comment", ""))[:200])
            session.add(row)
            session.commit()
            return jsonify(id=row.id), 201

    return app


app = create_bare_app(os.environ["BENCH_DATABASE_URL"]) if "BENCH_DATABASE_URL" in os.environ else None
