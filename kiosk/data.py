"""The data module: the only place that opens SQLite connections, and the schema migrations.

Every connection gets WAL, foreign keys and a busy timeout, wrapped in ``sqlite_utils.Database``.
Imports ``kiosk.schema`` (the migrations) and Flask's ``g`` for the per-request connection only.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import time
import uuid
from pathlib import Path

from flask import current_app, g, has_app_context
from sqlite_utils import Database

from .schema import MIGRATIONS

BUSY_TIMEOUT_S = 10


def open_db(path: str | os.PathLike) -> Database:
    """A connection for the CLI, tests and background jobs (requests use ``get_db``)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA foreign_keys=on")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    return Database(conn, execute_plugins=False)


def get_db() -> Database:
    """This request's connection, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = open_db(current_app.config["DATABASE"])
    return g.db


def close_db(exc=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app) -> None:
    """Bring the schema up to date at start, then close a connection after each request."""
    db = open_db(app.config["DATABASE"])
    try:
        migrate(db, Path(app.config["DATA_DIR"]))
    finally:
        db.close()
    app.teardown_appcontext(close_db)


def migrate(db: Database, data_dir: Path) -> list[str]:
    """Apply pending migrations after backing up a database that already holds data.

    Runs under ``BEGIN IMMEDIATE`` so two processes starting at once cannot both apply the same
    migration. Returns the names applied.
    """
    pending = [m.name for m in MIGRATIONS.pending(db)]
    if not pending:
        return []
    if MIGRATIONS.applied(db):
        backup(db, data_dir / "backups" / f"{stamp()}-before-{pending[0]}.db")
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = [m.name for m in MIGRATIONS.pending(db)]
        MIGRATIONS.apply(db)
        db.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
    return applied


def schema_version(db: Database) -> int:
    """The number of the last applied kiosk migration (``m0003_x`` is version 3)."""
    applied = MIGRATIONS.applied(db)
    return max((int(m.name[1:5]) for m in applied), default=0)


def backup(db: Database, target: Path) -> Path:
    """Copy the live database to ``target`` with SQLite's online backup."""
    target.parent.mkdir(parents=True, exist_ok=True)
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    finally:
        dest.close()
    return target


def stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


def new_id() -> str:
    """A time-ordered UUID (version 7 layout) for a row born here."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def utcnow() -> dt.datetime:
    """Now, in UTC; the app's ``NOW`` setting (a fake clock in tests) when there is an app."""
    if has_app_context() and current_app.config.get("NOW"):
        return current_app.config["NOW"]()
    return dt.datetime.now(dt.timezone.utc)


def iso(moment: dt.datetime) -> str:
    """ISO-8601 UTC text, the form every ``*_at`` column holds."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
