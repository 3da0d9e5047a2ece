"""Scopes on the hub: which bucket each row is in, rows entering and leaving buckets, and the
page of changes a node pulls. See sync/README.md, "Scopes".

Buckets are recomputed, set-wise in SQL, for rows changed since the last refresh. A row entering a
bucket has all its clock entries given new sequence numbers, so every node of that bucket receives
it whole; a row leaving one is recorded in ``_sync_exits``, and nodes that no longer see it remove
it without a tombstone (it still exists elsewhere).
"""

from __future__ import annotations

from sqlite_utils import Database

from .capture import ROW, TOMBSTONE, _q
from .changes import Catalog, Entry, encode
from .state import applying, reserve_seq


def refresh(db: Database, catalog: Catalog) -> None:
    """Bring bucket membership up to date with every change made since the last refresh."""
    lo, hi = db.execute("SELECT scoped_seq, seq FROM _sync_state WHERE id = 1").fetchone()
    if lo >= hi:
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_changed (pk TEXT PRIMARY KEY)")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_want "
               "(pk TEXT, bucket TEXT, PRIMARY KEY (pk, bucket))")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_gained "
               "(pk TEXT, bucket TEXT, PRIMARY KEY (pk, bucket))")
    for name, spec in catalog.specs.items():
        tid = catalog.table_ids[name]
        db.execute("DELETE FROM _sync_changed")
        db.execute("INSERT OR IGNORE INTO _sync_changed SELECT pk FROM _sync_clock "
                   f"WHERE tbl = ? AND seq > ? AND seq <= ? AND col != {TOMBSTONE}",
                   [tid, lo, hi])
        # A tombstone keeps the buckets its row had, so it reaches the nodes that had the row.
        db.execute(f"DELETE FROM _sync_changed WHERE pk IN (SELECT pk FROM _sync_clock "
                   f"WHERE tbl = ? AND col = {TOMBSTONE})", [tid])
        db.execute("DELETE FROM _sync_want")
        for expression in spec.scope.buckets:
            db.execute(f"INSERT OR IGNORE INTO _sync_want SELECT r.id, b FROM (SELECT r.id, "
                       f"({expression}) AS b FROM {_q(name)} r JOIN _sync_changed ch "
                       f"ON ch.pk = r.id) r WHERE b IS NOT NULL")
        _leave(db, tid)
        _enter(db, tid, lo)
    final = db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0]
    db.execute("UPDATE _sync_state SET scoped_seq = ? WHERE id = 1", [final])


def _leave(db: Database, tid: int) -> None:
    lost = db.execute(
        "SELECT m.pk, m.bucket FROM _sync_members m JOIN _sync_changed ch ON ch.pk = m.pk "
        "WHERE m.tbl = ? AND NOT EXISTS (SELECT 1 FROM _sync_want w WHERE w.pk = m.pk "
        "AND w.bucket = m.bucket)", [tid]).fetchall()
    if not lost:
        return
    first = reserve_seq(db, len(lost))
    db.conn.executemany("INSERT INTO _sync_exits (seq, tbl, pk, bucket) VALUES (?, ?, ?, ?)",
                   [(first + i, tid, pk, bucket) for i, (pk, bucket) in enumerate(lost)])
    db.conn.executemany("DELETE FROM _sync_members WHERE tbl = ? AND pk = ? AND bucket = ?",
                   [(tid, pk, bucket) for pk, bucket in lost])


def _enter(db: Database, tid: int, lo: int) -> None:
    db.execute("DELETE FROM _sync_gained")
    db.execute("INSERT INTO _sync_gained SELECT w.pk, w.bucket FROM _sync_want w WHERE NOT "
               "EXISTS (SELECT 1 FROM _sync_members m WHERE m.tbl = ? AND m.pk = w.pk AND "
               "m.bucket = w.bucket)", [tid])
    db.execute("INSERT INTO _sync_members (tbl, pk, bucket) SELECT ?, pk, bucket "
               "FROM _sync_gained", [tid])
    # Entries older than this refresh were not sent to the new bucket: send them again.
    old = db.execute(
        "SELECT pk, col FROM _sync_clock WHERE tbl = ? AND seq <= ? AND pk IN "
        "(SELECT pk FROM _sync_gained) ORDER BY pk, col", [tid, lo]).fetchall()
    if old:
        first = reserve_seq(db, len(old))
        db.conn.executemany(
            "UPDATE _sync_clock SET seq = ?, origin = NULL WHERE tbl = ? AND pk = ? AND col = ?",
            [(first + i, tid, pk, col) for i, (pk, col) in enumerate(old)])


def pull(db: Database, catalog: Catalog, buckets: tuple, cursor: int, instance: int | None,
         limit: int) -> dict:
    """The next page of changes for a node: its buckets, after ``cursor``, not its own echo."""
    marks = ",".join("?" * len(buckets))
    member = _member(buckets)
    rows = db.execute(
        f"SELECT c.tbl, c.pk, c.col, c.hlc, c.node, c.seq FROM _sync_clock c WHERE c.seq > ? "
        f"AND (c.origin IS NULL OR c.origin != ?) AND {member} ORDER BY c.seq LIMIT ?",
        [cursor, instance if instance is not None else -1, *buckets, limit]).fetchall()
    more = len(rows) == limit
    if more:
        end = rows[-1][5]
        # Never split one sequence number (one statement's changes to a row) across pages.
        rows += db.execute(
            f"SELECT c.tbl, c.pk, c.col, c.hlc, c.node, c.seq FROM _sync_clock c WHERE "
            f"c.seq = ? AND (c.origin IS NULL OR c.origin != ?) AND {member} "
            f"AND NOT (c.tbl = ? AND c.pk = ? AND c.col = ?)",
            [end, instance if instance is not None else -1, *buckets,
             rows[-1][0], rows[-1][1], rows[-1][2]]).fetchall()
    else:
        end = db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0]
    exits = db.execute(
        f"SELECT DISTINCT e.tbl, e.pk FROM _sync_exits e WHERE e.seq > ? AND e.seq <= ? "
        f"AND e.bucket IN ({marks}) AND NOT EXISTS (SELECT 1 FROM _sync_members m "
        f"WHERE m.tbl = e.tbl AND m.pk = e.pk AND m.bucket IN ({marks}))",
        [cursor, end, *buckets, *buckets]).fetchall()
    entries = [Entry(*r) for r in rows]
    return {"changes": encode(db, catalog, entries),
            "exits": [[catalog.table_names[t], pk] for t, pk in exits],
            "cursor": end, "more": more}


def drop_rows(db: Database, catalog: Catalog, rows: list) -> None:
    """On a node: rows that left its scope, or that the hub no longer has, go without a
    tombstone (they live on elsewhere, or were deleted there already)."""
    with applying(db):
        for table, pk in rows:
            db.execute(f"DELETE FROM {_q(table)} WHERE id = ?", [pk])
            db.execute(f"DELETE FROM _sync_clock WHERE tbl = ? AND pk = ? AND col != "
                       f"{TOMBSTONE}", [catalog.table_ids[table], pk])


def count_after(db: Database, buckets: tuple, cursor: int) -> int:
    """About how many changes a pull from ``cursor`` brings (for progress only)."""
    return db.execute(f"SELECT count(*) FROM _sync_clock c WHERE c.seq > ? AND {_member(buckets)}",
                      [cursor, *buckets]).fetchone()[0]


def _member(buckets: tuple) -> str:
    """SQL: the clock entry ``c`` is of a row in one of ``buckets`` (as many ``?``)."""
    return (f"EXISTS (SELECT 1 FROM _sync_members m WHERE m.tbl = c.tbl AND m.pk = c.pk "
            f"AND m.bucket IN ({','.join('?' * len(buckets))}))")


__all__ = ["ROW", "count_after", "drop_rows", "pull", "refresh"]
