"""Purging old tombstones (sync/README.md, "Purge").

On the hub, tombstones older than the horizon leave the clock for ``_sync_deleted``, the compact
set of ids deleted for ever; a node whose cursor is behind the last purged tombstone is told to
resynchronise fully. On a node, a tombstone goes only once the hub has acknowledged it: a node
never purges unacknowledged changes.
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
    cutoff = pack(now_ms - int(horizon_days * DAY_MS))
    with immediate(db):
        role, acked = db.execute("SELECT role, acked FROM _sync_state WHERE id = 1").fetchone()
        if role == "hub":
            removed = _purge_hub(db, cutoff, now_ms, horizon_days)
        else:
            removed = {"tombstones": db.execute(
                f"DELETE FROM _sync_clock WHERE col = {TOMBSTONE} AND hlc < ? AND seq <= ?",
                [cutoff, acked]).rowcount}
        removed["quarantine"] = db.execute(
            "DELETE FROM _sync_quarantine WHERE at < datetime(? / 1000, 'unixepoch')",
            [now_ms - int(horizon_days * DAY_MS)]).rowcount
    return removed


def _purge_hub(db: Database, cutoff: int, now_ms: int, horizon_days: float) -> dict:
    old = f"FROM _sync_clock WHERE col = {TOMBSTONE} AND hlc < ?"
    last = db.execute(f"SELECT max(seq) {old}", [cutoff]).fetchone()[0]
    if last is None:
        return {"tombstones": 0}
    db.execute(f"INSERT OR IGNORE INTO _sync_deleted (tbl, pk) SELECT tbl, pk {old}", [cutoff])
    db.execute("DELETE FROM _sync_members WHERE (tbl, pk) IN (SELECT tbl, pk "
               f"{old})", [cutoff])
    count = db.execute(f"DELETE {old}", [cutoff]).rowcount
    db.execute("UPDATE _sync_state SET purged_seq = max(purged_seq, ?) WHERE id = 1", [last])
    db.execute("DELETE FROM _sync_exits WHERE seq <= (SELECT purged_seq FROM _sync_state)")
    db.execute("DELETE FROM _sync_batches WHERE received_at < datetime(? / 1000, 'unixepoch')",
               [now_ms - int(horizon_days * DAY_MS)])
    return {"tombstones": count}
