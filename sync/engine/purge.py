"""Purging old tombstones (sync/README.md, "Purge").

On the hub, tombstones that *arrived* before the horizon (by ``_sync_marks``, never by their
stamp: a centre back from months offline sends old stamps) leave the clock for
``_sync_deleted``, the compact set of ids deleted for ever; a node whose cursor is behind the
last purged tombstone is told to resynchronise fully. On a node, a tombstone goes only once the
hub has acknowledged it, and its id stays in ``_sync_deleted`` too, so the capture trigger still
refuses an insert that reuses it.
"""

from __future__ import annotations

from sqlite_utils import Database

from .capture import TOMBSTONE
from .clock import pack
from .state import immediate

DAY_MS = 24 * 3600 * 1000
DEFAULT_HORIZON_DAYS = 90


def purge(db: Database, now_ms: int, horizon_days: float = DEFAULT_HORIZON_DAYS) -> dict:
    """Remove what is older than the horizon; returns what was removed."""
    cutoff_ms = now_ms - int(horizon_days * DAY_MS)
    with immediate(db):
        role, acked = db.execute("SELECT role, acked FROM _sync_state WHERE id = 1").fetchone()
        if role == "hub":
            removed = _purge_hub(db, cutoff_ms)
        else:
            old = f"FROM _sync_clock WHERE col = {TOMBSTONE} AND hlc < ? AND seq <= ?"
            params = [pack(cutoff_ms), acked]
            db.execute(f"INSERT OR IGNORE INTO _sync_deleted (tbl, pk) SELECT tbl, pk {old}",
                       params)
            removed = {"tombstones": db.execute(f"DELETE {old}", params).rowcount}
        removed["quarantine"] = db.execute(
            "DELETE FROM _sync_quarantine WHERE at < datetime(? / 1000, 'unixepoch')",
            [cutoff_ms]).rowcount
    return removed


def _purge_hub(db: Database, cutoff_ms: int) -> dict:
    # The hub's sequence as it stood at the horizon: everything up to it arrived before.
    horizon = db.execute("SELECT max(seq) FROM _sync_marks WHERE at_ms <= ?",
                         [cutoff_ms]).fetchone()[0]
    if horizon is None:
        return {"tombstones": 0}
    db.execute("DELETE FROM _sync_marks WHERE seq < ?", [horizon])  # the last one stays
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_purged (tbl INTEGER, pk TEXT, seq INTEGER, "
               "PRIMARY KEY (tbl, pk))")
    db.execute("DELETE FROM _sync_purged")
    db.execute(f"INSERT INTO _sync_purged SELECT tbl, pk, seq FROM _sync_clock INDEXED BY "
               f"_sync_clock_by_seq WHERE seq <= ? AND col = {TOMBSTONE}", [horizon])
    last = db.execute("SELECT max(seq) FROM _sync_purged").fetchone()[0]
    if last is not None:
        db.execute("INSERT OR IGNORE INTO _sync_deleted (tbl, pk) SELECT tbl, pk "
                   "FROM _sync_purged")
        db.execute("DELETE FROM _sync_members WHERE (tbl, pk) IN (SELECT tbl, pk "
                   "FROM _sync_purged)")
        db.execute(f"DELETE FROM _sync_clock WHERE col = {TOMBSTONE} AND (tbl, pk) IN "
                   f"(SELECT tbl, pk FROM _sync_purged)")
        db.execute("UPDATE _sync_state SET purged_seq = max(purged_seq, ?) WHERE id = 1", [last])
    purged = db.execute("SELECT purged_seq FROM _sync_state WHERE id = 1").fetchone()[0]
    db.execute("DELETE FROM _sync_exits WHERE seq <= ?", [purged])
    # Feed lines whose entry was overwritten since, or purged: a pull skips them; here they go.
    db.execute("DELETE FROM _sync_feed WHERE NOT EXISTS (SELECT 1 FROM _sync_clock c WHERE "
               "c.tbl = _sync_feed.tbl AND c.pk = _sync_feed.pk AND c.seq = _sync_feed.seq)")
    db.execute("DELETE FROM _sync_batches WHERE received_at < datetime(? / 1000, 'unixepoch')",
               [cutoff_ms])
    return {"tombstones": db.execute("SELECT count(*) FROM _sync_purged").fetchone()[0]}
