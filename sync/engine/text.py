"""Reading what is sent whole and from one moment, and mending text that is not UTF-8.

SQLite stores whatever bytes it is given as TEXT: the ``sqlite3`` tool in a Windows console
writes its code page, not UTF-8. Such a value cannot be sent (JSON is Unicode) and used to stop
every sync. What the engine sends is read strictly; a value that is not UTF-8 is mended where it
was written (each byte that does not decode becomes U+FFFD, as a normal captured edit, so the
mended value travels) and reported in ``_sync_quarantine`` and the log, naming the row. A row
whose *id* is not UTF-8 cannot be mended (ids never change): it stays here, unsynced, reported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3

from sqlite_utils import Database

from .capture import _q
from .state import applying, immediate, snapshot

log = logging.getLogger("infocentre.sync")
NOT_UTF8 = "Could not decode to UTF-8"


def tolerant_text(value: bytes) -> str:
    """A connection's text_factory that never fails: bytes that are not UTF-8 read as U+FFFD
    (pages and commands keep working; the engine reads strictly and mends the row)."""
    return value.decode("utf-8", "replace")


@contextlib.contextmanager
def strict_text(db: Database):
    """Reads inside fail on text that is not UTF-8 (the engine must not send a guess)."""
    before = db.conn.text_factory
    db.conn.text_factory = str
    try:
        yield
    finally:
        db.conn.text_factory = before


def read_whole(db: Database, catalog, read):
    """``read()`` inside one read transaction, strictly; text that is not UTF-8 is mended
    first (then read again)."""
    for _ in range(3):
        try:
            with strict_text(db), snapshot(db):
                return read()
        except sqlite3.OperationalError as e:
            if NOT_UTF8 not in str(e):
                raise
        mend_text(db, catalog)
    with strict_text(db), snapshot(db):
        return read()


def mend_text(db: Database, catalog) -> list[tuple[str, str, str]]:
    """Mend every synced value that is not UTF-8; returns (table, id, column) of each."""
    found = []
    with immediate(db):
        before = db.conn.text_factory
        db.conn.text_factory = bytes
        try:
            bad = {}
            for table, columns in catalog.columns.items():
                names = ["id", *columns]
                select = ", ".join(_q(c) for c in names)
                for row in db.execute(f"SELECT {select} FROM {_q(table)}"):
                    for name, value in zip(names, row):
                        if isinstance(value, bytes) and not _is_utf8(value):
                            bad.setdefault((table, row[0]), []).append((name, value))
        finally:
            db.conn.text_factory = before
        for (table, raw_id), values in bad.items():
            if any(name == "id" for name, _ in values):
                _set_aside(db, catalog, table, raw_id)
                found.append((table, tolerant_text(raw_id), "id"))
                continue
            for name, value in values:
                db.execute(f"UPDATE {_q(table)} SET {_q(name)} = ? WHERE id = CAST(? AS TEXT)",
                           [tolerant_text(value), raw_id])
                _report(db, table, tolerant_text(raw_id),
                        f"the text of {name} was not UTF-8: unreadable bytes became \ufffd")
                found.append((table, tolerant_text(raw_id), name))
    for table, pk, column in found:
        log.warning("mended text that was not UTF-8: %s %s (%s)", table, pk, column)
    return found


def _set_aside(db: Database, catalog, table: str, raw_id: bytes) -> None:
    with applying(db):
        db.execute("DELETE FROM _sync_clock WHERE tbl = ? AND CAST(pk AS BLOB) = ?",
                   [catalog.table_ids[table], raw_id])
    _report(db, table, tolerant_text(raw_id),
            "the id of this row is not UTF-8: it stays at this centre and is not synced")


def _report(db: Database, table: str, pk: str, reason: str) -> None:
    db.execute("INSERT INTO _sync_quarantine (at, source, table_name, pk, reason, change) "
               "VALUES (datetime('now'), 'here', ?, ?, ?, ?)",
               [table, pk, reason, json.dumps({"kind": "mended"})])


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
