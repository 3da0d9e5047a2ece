"""Scopes on the hub: which bucket each row is in, rows entering and leaving buckets, and the
page of changes a node pulls. See sync/README.md, "Scopes".

Buckets are recomputed, set-wise in SQL, for the rows changed since the last refresh, and every
clock entry written joins the feed of each bucket its row is in (``_sync_feed``, keyed by bucket
and sequence number): a pull reads its buckets' feeds after its cursor, then those rows' clock
entries, so its cost follows what it returns, never the size of the tables. A row entering a bucket
has all its clock entries given new sequence numbers, so every node of that bucket receives it
whole; a row leaving one is recorded in ``_sync_exits``, and nodes that no longer see it remove
it without a tombstone (it still exists elsewhere).
"""

from __future__ import annotations

from sqlite_utils import Database

from .capture import ROW, TOMBSTONE, _q
from .changes import Catalog, Entry, encode
from .state import applying, reserve_seq


def refresh(db: Database, catalog: Catalog) -> None:
    """Bring bucket membership and the buckets' feeds up to date with every change made since
    the last refresh. Call inside a write transaction."""
    lo, hi = db.execute("SELECT scoped_seq, seq FROM _sync_state WHERE id = 1").fetchone()
    if lo >= hi:
        return
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_changed (tbl INTEGER, pk TEXT, "
               "gone INTEGER, PRIMARY KEY (tbl, pk))")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_want "
               "(pk TEXT, bucket TEXT, PRIMARY KEY (pk, bucket))")
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_gained "
               "(pk TEXT, bucket TEXT, PRIMARY KEY (pk, bucket))")
    db.execute("DELETE FROM _sync_changed")
    # The rows whose clock moved since the last refresh, read from the seq index alone. A
    # tombstone keeps the buckets its row had, so it reaches the nodes that had the row.
    db.execute("INSERT INTO _sync_changed (tbl, pk, gone) SELECT tbl, pk, "
               f"max(col = {TOMBSTONE}) FROM _sync_clock INDEXED BY _sync_clock_by_seq "
               "WHERE seq > ? AND seq <= ? GROUP BY tbl, pk", [lo, hi])
    for name, spec in catalog.specs.items():
        tid = catalog.table_ids[name]
        db.execute("DELETE FROM _sync_want")
        for expression in spec.scope.buckets:
            db.execute(f"INSERT OR IGNORE INTO _sync_want SELECT r.id, b FROM (SELECT r.id, "
                       f"({expression}) AS b FROM _sync_changed ch CROSS JOIN {_q(name)} r "
                       f"ON r.id = ch.pk WHERE ch.tbl = ? AND NOT ch.gone) r "
                       f"WHERE b IS NOT NULL", [tid])
        _leave(db, tid)
        _enter(db, tid, lo)
    # Every entry written since (re-sequenced ones included) joins the feed of each bucket
    # its row is in.
    db.execute("INSERT OR IGNORE INTO _sync_feed (bucket, seq, tbl, pk) SELECT m.bucket, c.seq, "
               "c.tbl, c.pk FROM _sync_changed ch CROSS JOIN _sync_clock c ON c.tbl = ch.tbl "
               "AND c.pk = ch.pk CROSS JOIN _sync_members m ON m.tbl = c.tbl AND m.pk = c.pk "
               "WHERE +c.seq > ?", [lo])
    final = db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0]
    db.execute("UPDATE _sync_state SET scoped_seq = ? WHERE id = 1", [final])


def _leave(db: Database, tid: int) -> None:
    lost = db.execute(
        "SELECT m.pk, m.bucket FROM _sync_changed ch CROSS JOIN _sync_members m "
        "ON m.tbl = ch.tbl AND m.pk = ch.pk WHERE ch.tbl = ? AND NOT ch.gone AND NOT EXISTS "
        "(SELECT 1 FROM _sync_want w WHERE w.pk = m.pk AND w.bucket = m.bucket)",
        [tid]).fetchall()
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
        "SELECT c.pk, c.col FROM (SELECT DISTINCT pk FROM _sync_gained) g CROSS JOIN "
        "_sync_clock c ON c.tbl = ? AND c.pk = g.pk WHERE +c.seq <= ? ORDER BY c.pk, c.col",
        [tid, lo]).fetchall()
    if old:
        first = reserve_seq(db, len(old))
        db.conn.executemany(
            "UPDATE _sync_clock SET seq = ?, origin = NULL WHERE tbl = ? AND pk = ? AND col = ?",
            [(first + i, tid, pk, col) for i, (pk, col) in enumerate(old)])


def pull(db: Database, catalog: Catalog, buckets: tuple, cursor: int, instance: int | None,
         limit: int) -> dict:
    """The next page of changes for a node: the entries after ``cursor`` of the rows of its
    buckets (at most ``limit`` sequence numbers), without its own echo. Call inside one read
    transaction."""
    top = db.execute("SELECT scoped_seq FROM _sync_state WHERE id = 1").fetchone()[0]
    found: dict[int, tuple[int, str]] = {}
    for bucket in buckets:  # each bucket's feed read in order, then merged
        for seq, tbl, pk in db.execute(
                "SELECT seq, tbl, pk FROM _sync_feed WHERE bucket = ? AND seq > ? AND "
                "seq <= ? ORDER BY seq LIMIT ?", [bucket, cursor, top, limit + 1]):
            found[seq] = (tbl, pk)
    seqs = sorted(found)
    more = len(seqs) > limit
    end = seqs[limit - 1] if more else top
    rows = {found[s] for s in seqs[:limit]}
    entries = _entries(db, rows, buckets, cursor, end, instance)
    marks = ",".join("?" * len(buckets))
    exits = db.execute(
        f"SELECT DISTINCT e.tbl, e.pk FROM _sync_exits e WHERE e.bucket IN ({marks}) AND "
        f"e.seq > ? AND e.seq <= ? AND NOT EXISTS (SELECT 1 FROM _sync_members m "
        f"WHERE m.tbl = e.tbl AND m.pk = e.pk AND m.bucket IN ({marks}))",
        [*buckets, cursor, end, *buckets]).fetchall()
    return {"changes": encode(db, catalog, entries),
            "exits": [[catalog.table_names[t], pk] for t, pk in exits],
            "cursor": end, "more": more}


def _entries(db: Database, rows: set, buckets: tuple, cursor: int, end: int,
             instance: int | None) -> list:
    """The clock entries after ``cursor`` (up to ``end``) of ``rows`` that are still in one of
    ``buckets`` (a row that left them goes by its exit), in sequence order."""
    by_table: dict[int, list[str]] = {}
    for tbl, pk in rows:
        by_table.setdefault(tbl, []).append(pk)
    echo = instance if instance is not None else -1
    member = (f"EXISTS (SELECT 1 FROM _sync_members m WHERE m.tbl = c.tbl AND m.pk = c.pk "
              f"AND m.bucket IN ({','.join('?' * len(buckets))}))")
    entries = []
    for tbl, pks in by_table.items():
        for start in range(0, len(pks), 500):
            chunk = sorted(pks[start:start + 500])
            entries.extend(Entry(*r) for r in db.execute(
                f"SELECT c.tbl, c.pk, c.col, c.hlc, c.node, c.seq FROM _sync_clock c "
                f"WHERE c.tbl = ? AND c.pk IN ({','.join('?' * len(chunk))}) AND +c.seq > ? "
                f"AND +c.seq <= ? AND (c.origin IS NULL OR c.origin != ?) AND {member}",
                [tbl, *chunk, cursor, end, echo, *buckets]))
    entries.sort(key=lambda e: (e.seq, e.tbl, e.pk, e.col))
    return entries


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
    return sum(db.execute("SELECT count(*) FROM _sync_feed WHERE bucket = ? AND seq > ?",
                          [b, cursor]).fetchone()[0] for b in buckets)


__all__ = ["ROW", "count_after", "drop_rows", "pull", "refresh"]
