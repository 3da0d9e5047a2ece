"""The node's side of the exchange with the hub, as plain functions over its database.

One request carries a push batch (or none) and a pull cursor (or none); one reply carries the
batch's acknowledgement, the hub's time and epoch and a page of changes. ``build_request`` and
``process_reply`` are the node's side (the hub's is sync.engine.hub); no HTTP here: sync.client
and sync.bundle carry these dictionaries. See sync/README.md, "Exchange".
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from sqlite_utils import Database

from ..errors import Malformed
from . import scope
from .capture import _q
from .changes import Catalog, Entry, count, decode, encode
from .hub import PAGE_LIMIT, require_schema, serve_exchange  # noqa: F401 (the engine's public names)
from .merge import apply
from .restamp import is_time, note_acked, note_hub_time
from .state import immediate, read_state, snapshot
from .text import read_whole

RESYNC_PUSHING, RESYNC_PULLING = 1, 2


@dataclass
class Step:
    sent: int = 0
    received: int = 0
    quarantined: int = 0
    more: bool = False
    reset: bool = False  # this node's identity or history changed: everything goes again
    restamped: bool = False  # stamps of this node's unsent changes moved, or rows went: a
    # batch read ahead of this reply no longer matches them


@dataclass
class Ahead:
    """The next batch's changes, read while the one before was on its way (sync.client): the
    hub applies one batch while the next is read. Used only if nothing moved meanwhile."""

    start: int  # the sequence number after which it starts
    end: int
    changes: dict
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the batch's, if it is sent


def build_request(db: Database, catalog: Catalog, *, schema: int, batch_limit: int = 1000,
                  page_limit: int = PAGE_LIMIT, until: int | None = None,
                  ahead: Ahead | None = None) -> dict:
    """The next request: the batch in flight (again) or the next one, and the pull cursor.

    :param until: send nothing captured after this sequence number (what a sync started with),
        so a sync ends while people keep writing; the rest goes at the next one.
    :param ahead: the next batch, already read (``read_ahead``); it becomes the batch in
        flight if it still follows what the hub acknowledged.
    """
    changes = None
    with immediate(db):
        state = read_state(db)
        pulling = state["resync"] != RESYNC_PUSHING
        batch = json.loads(state["inflight"]) if state["inflight"] else None
        if batch is None and ahead and ahead.start == state["acked"] and not state["bundled"]:
            batch = {"id": ahead.id, "from": ahead.start, "to": ahead.end}
            db.execute("UPDATE _sync_state SET inflight = ? WHERE id = 1", [json.dumps(batch)])
            changes = ahead.changes
        if batch is None:
            batch = _next_batch(db, state, batch_limit, until)
            if batch is None and state["resync"] == RESYNC_PUSHING:
                begin_pull_resync(db)
                state, pulling = read_state(db), True
    # Property 6: the batch is read from one snapshot, values and versions of one moment.
    payload = batch and {**batch, "changes": changes or read_whole(
        db, catalog, lambda: batch_changes(db, catalog, read_state(db), batch))}
    return {"node": state["node_id"], "instance": state["instance_id"], "schema": schema,
            "acked": state["acked"], "batch": payload,
            "cursor": state["cursor"] if pulling else None, "limit": page_limit,
            "everything": state["resync"] == RESYNC_PULLING}


def read_ahead(db: Database, catalog: Catalog, after: int, *, batch_limit: int = 1000,
               until: int | None = None) -> Ahead | None:
    """The batch that would follow sequence number ``after``, read from one snapshot, without
    sending it or marking it in flight (None if there is none)."""
    def read():
        state = read_state(db)
        end = _last_of_batch(db, state["node_idx"], after, batch_limit, until)
        if end is None:
            return None
        return Ahead(after, end, batch_changes(db, catalog, state, {"from": after, "to": end}))
    return read_whole(db, catalog, read)


def batch_changes(db: Database, catalog: Catalog, state: dict, batch: dict) -> dict:
    """The changeset of one of this node's batches: its sequence range, with current values.
    Call inside one read transaction (``snapshot``)."""
    entries = [Entry(*r) for r in db.execute(
        "SELECT tbl, pk, col, hlc, node, seq FROM _sync_clock WHERE seq > ? AND seq <= ? "
        "AND node = ? ORDER BY seq, tbl, pk, col",
        [batch["from"], batch["to"], state["node_idx"]])]
    return encode(db, catalog, entries)


def _next_batch(db: Database, state: dict, limit: int, until: int | None) -> dict | None:
    for batch in json.loads(state["bundled"]) if state["bundled"] else []:
        if batch["from"] == state["acked"]:
            # Already on a USB stick: the same batch, same id, so whichever reaches the hub
            # first is applied and the other is skipped (sync/README.md, "Bundles").
            db.execute("UPDATE _sync_state SET inflight = ? WHERE id = 1", [json.dumps(batch)])
            return batch
    last = _last_of_batch(db, state["node_idx"], state["acked"], limit, until)
    if last is None:
        return None
    batch = {"id": str(uuid.uuid4()), "from": state["acked"], "to": last}
    # Kept before it is sent: if the answer is lost, the same batch goes again (property 6).
    db.execute("UPDATE _sync_state SET inflight = ? WHERE id = 1", [json.dumps(batch)])
    return batch


def _last_of_batch(db: Database, node: int, after: int, limit: int, until: int | None):
    """The sequence number ending a batch of up to ``limit`` changes after ``after``."""
    return db.execute(
        "SELECT max(seq) FROM (SELECT seq FROM _sync_clock WHERE seq > ? AND seq <= ? AND "
        "node = ? ORDER BY seq LIMIT ?)",
        [after, until if until is not None else 2**62, node, limit]).fetchone()[0]


def process_reply(db: Database, catalog: Catalog, request: dict, reply: dict, *,
                  wall_ms: int, until: int | None = None) -> Step:
    """Record the hub's acknowledgement and apply the page pulled, in one transaction."""
    step = Step(sent=count(request["batch"]["changes"]) if request["batch"] else 0)
    if not (isinstance(reply, dict) and isinstance(reply.get("ack") or {}, dict)
            and is_time(reply.get("hub_time"))
            and isinstance(reply.get("epoch"), (str, type(None)))):
        raise Malformed("the hub's answer is not understood")
    with immediate(db):
        state = read_state(db)
        epoch = reply.get("epoch")
        if epoch and state["epoch"] and epoch != state["epoch"]:
            # The hub was restored from a backup: what it had since is gone there. Send it
            # everything again and pull everything again (property 6).
            note_hub_time(db, reply["hub_time"], wall_ms, transaction=False)
            start_recovery(db, epoch)
            step.more = step.reset = True
            return step
        if epoch and epoch != state["epoch"]:
            db.execute("UPDATE _sync_state SET epoch = ? WHERE id = 1", [epoch])
        ack = reply.get("ack")
        if request["batch"] and ack and ack.get("batch") == request["batch"]["id"]:
            step.restamped = _acknowledged(db, catalog, state, request["batch"], ack)
        if note_hub_time(db, reply["hub_time"], wall_ms, transaction=False):
            step.restamped = True
        if reply.get("renew_instance"):
            renew_instance(db)
            step.more = step.reset = True
        page = reply.get("pull")
        if page is not None and request["cursor"] is not None and not step.reset:
            apply_page(db, catalog, page, step)
        db.execute("UPDATE _sync_state SET last_sync_at = datetime('now') WHERE id = 1")
        state = read_state(db)
        step.more = step.more or bool(state["inflight"]) or bool(db.execute(
            "SELECT 1 FROM _sync_clock WHERE seq > ? AND seq <= ? AND node = ? LIMIT 1",
            [state["acked"], until if until is not None else 2**62, state["node_idx"]],
        ).fetchone()) or state["resync"] != 0
    return step


def _acknowledged(db: Database, catalog: Catalog, state: dict, batch: dict, ack: dict) -> bool:
    """Record an acknowledgement; returns whether stamps of changes after it moved."""
    db.execute("UPDATE _sync_state SET acked = max(acked, ?), inflight = NULL, owed_ms = 0 "
               "WHERE id = 1", [batch["to"]])
    moved = note_acked(db, state["node_idx"], batch["from"], batch["to"])
    forget_deleted(db, catalog, ack.get("gone"))
    # Blobs the batch's rows name that the hub lacks: it may have deleted one it had confirmed
    # (no row named it for a while), so it is offered again (sync/README.md, "Media").
    missing = ack.get("blobs_missing")
    if isinstance(missing, list):
        db.conn.executemany("DELETE FROM _sync_blobs_at_hub WHERE sha = ?",
                            [(sha,) for sha in missing if isinstance(sha, str)])
    return moved or bool(ack.get("gone"))


def forget_deleted(db: Database, catalog: Catalog, gone) -> None:
    """Rows the hub refused because their ids were deleted everywhere: they go here too, and
    their ids can never be used again (property 4). Call inside a transaction."""
    rows = [g for g in gone or () if isinstance(g, list) and len(g) == 2
            and g[0] in catalog.specs and isinstance(g[1], str)]
    if not rows:
        return
    scope.drop_rows(db, catalog, rows)
    db.conn.executemany("INSERT OR IGNORE INTO _sync_deleted (tbl, pk) VALUES (?, ?)",
                        [(catalog.table_ids[t], pk) for t, pk in rows])


def apply_page(db: Database, catalog: Catalog, page: dict, step: Step) -> None:
    """Apply one page pulled from the hub and save its cursor (call inside a transaction)."""
    if not (isinstance(page, dict) and isinstance(page.get("cursor"), int)
            and isinstance(page.get("exits", []), list)):
        raise Malformed("the hub's page is not understood")
    state = read_state(db)
    resync = state["resync"] == RESYNC_PULLING
    changes = decode(page.get("changes", {}), catalog, lenient=True)
    fresh = json.loads(state["fresh"]) if state["fresh"] else None
    result = apply(db, catalog, changes, seq="zero", source="hub", seen=resync, fresh=fresh)
    exits = [e for e in page.get("exits", []) if isinstance(e, list) and len(e) == 2
             and e[0] in catalog.specs and isinstance(e[1], str)]
    scope.drop_rows(db, catalog, exits)
    if exits or any(c.kind == "delete" for c in changes):
        step.restamped = True
    step.received += result.received + len(exits)
    step.quarantined += result.quarantined
    db.execute("UPDATE _sync_state SET cursor = ? WHERE id = 1", [page["cursor"]])
    step.more = step.more or bool(page.get("more"))
    if not page.get("more") and fresh:
        db.execute("UPDATE _sync_state SET fresh = NULL WHERE id = 1")  # caught up
    if resync and not page.get("more"):
        _finish_resync(db, catalog)


def renew_instance(db: Database) -> None:
    """This database was restored or copied (a second PC cloned from one disk): a new
    identity, then a full resynchronisation, so rows the hub deleted and forgot since the copy
    was made go too (property 4). Call inside a transaction."""
    db.execute("UPDATE _sync_state SET instance_id = ?, cursor = 0 WHERE id = 1",
               [str(uuid.uuid4())])
    start_resync(db)


def start_recovery(db: Database, epoch: str) -> None:
    """The hub was restored (its epoch changed): send it every change made here, whatever was
    acknowledged, then pull everything again. Call inside a transaction."""
    state = read_state(db)
    # Changes of this node that came back from the hub (a full pull) carry sequence 0: give
    # them numbers so they go too.
    db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_renumber (tbl, pk, col, n)")
    db.execute("DELETE FROM _sync_renumber")
    db.execute("INSERT INTO _sync_renumber SELECT tbl, pk, col, row_number() OVER () FROM "
               "_sync_clock WHERE +seq = 0 AND node = ?", [state["node_idx"]])
    db.execute("UPDATE _sync_clock SET seq = (SELECT s.seq FROM _sync_state s) + r.n FROM "
               "_sync_renumber r WHERE _sync_clock.tbl = r.tbl AND _sync_clock.pk = r.pk AND "
               "_sync_clock.col = r.col")
    db.execute("UPDATE _sync_state SET seq = seq + (SELECT count(*) FROM _sync_renumber), "
               "epoch = ?, instance_id = ?, acked = 0, cursor = 0, inflight = NULL, "
               "bundled = NULL, owed_ms = 0 WHERE id = 1", [epoch, str(uuid.uuid4())])
    db.execute("DELETE FROM _sync_blobs_at_hub")  # it may have lost photos too: ask again
    start_resync(db)


def start_resync(db: Database) -> None:
    """Push everything pending, then pull everything and drop what the hub no longer has (it
    purged deletions this node has not seen, or this copy was restored or cloned)."""
    db.execute("UPDATE _sync_state SET resync = ? WHERE id = 1", [RESYNC_PUSHING])


def begin_pull_resync(db: Database) -> None:
    """Pull everything again from cursor 0, noting what comes (rows not seen then are gone)."""
    db.execute("DELETE FROM _sync_seen")
    db.execute("UPDATE _sync_state SET resync = ?, cursor = 0 WHERE id = 1", [RESYNC_PULLING])


def _finish_resync(db: Database, catalog: Catalog) -> None:
    """Rows the hub did not send again are gone there: remove them here (no tombstone)."""
    state = read_state(db)
    gone = [(table, pk) for table, tid in catalog.table_ids.items() for (pk,) in db.execute(
        f"SELECT id FROM {_q(table)} WHERE id NOT IN (SELECT pk FROM _sync_seen WHERE tbl = ?) "
        f"AND id NOT IN (SELECT pk FROM _sync_clock WHERE seq > ? AND node = ? AND tbl = ?)",
        [tid, state["acked"], state["node_idx"], tid])]
    scope.drop_rows(db, catalog, gone)
    db.execute("DELETE FROM _sync_seen")
    db.execute("UPDATE _sync_state SET resync = 0 WHERE id = 1")


__all__ = ["RESYNC_PULLING", "RESYNC_PUSHING", "Ahead", "Step", "apply_page", "batch_changes",
           "begin_pull_resync", "build_request", "forget_deleted", "note_hub_time",
           "process_reply", "read_ahead", "renew_instance", "snapshot", "start_recovery",
           "start_resync"]
