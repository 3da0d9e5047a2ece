"""The hub's side of the exchange: apply a node's push, answer with its acknowledgement, the hub's
time and epoch, and a page to pull. Imports the standard library, sqlite-utils and the engine.

Everything one exchange writes (the request's nonce, the batch, its acknowledgement, bucket
membership, what the centre reported) is one ``BEGIN IMMEDIATE`` transaction, so a refused or
interrupted exchange leaves nothing behind, and nothing waits for a lock outside it. See
sync/README.md, "Exchange" and "Restores and clones".
"""

from __future__ import annotations

import json
import sqlite3

from sqlite_utils import Database

from ..errors import (
    ClockAhead,
    ForgedOrigin,
    Malformed,
    ResyncRequired,
    SchemaTooOld,
    Unauthenticated,
)
from . import scope
from .capture import _q
from .changes import Catalog, count, decode, is_id, is_int
from .clock import is_too_far_ahead
from .merge import apply, quarantine
from .registry import UPLOAD_ANY, UPLOAD_HUB, node_buckets
from .state import immediate, new_epoch, read_state
from .text import read_whole

PAGE_LIMIT = 2000  # changes in a page, when a request names no limit
MARK_EVERY_MS = 60_000  # how finely the hub remembers when its sequence reached a number
NONCE_KEEP_MS = 10 * 60 * 1000  # twice a signature's window either side of the hub's time


def serve_exchange(db: Database, catalog: Catalog, request, *, node_id: str, now_ms: int,
                   min_schema: int = 0, max_page: int = PAGE_LIMIT, nonce: str | None = None,
                   high_water: int = 0) -> dict:
    """Apply a node's push and answer with the acknowledgement and a page to pull.

    :param nonce: the signed request's nonce, remembered in the same transaction (a replay is
        refused with Unauthenticated).
    :param high_water: the highest sequence number this hub is known to have reached, kept
        outside its database (sync.watermark): a database behind it was restored.

    Raises a SyncError (and changes nothing) when the request must be refused.
    """
    req = _checked(request)
    if req["node"] != node_id:
        raise ForgedOrigin("the request speaks for another centre")
    require_schema(req["schema"], min_schema)
    with immediate(db):
        if nonce is not None:
            remember_nonce(db, node_id, nonce, now_ms)
        state = read_state(db)
        instance, known_acked, seen_in = _instance(db, node_id, req["instance"], req["acked"],
                                                   state["epoch"])
        # Property 6: a database behind what centres were told was restored from a backup. A
        # copy last seen in an earlier epoch proves nothing more: this reply tells it.
        current = seen_in in (None, state["epoch"])
        seen_in = seen_in if current or seen_in == "new" else "stale"
        restored = state["seq"] < high_water or current and (
            (req["cursor"] is not None and req["cursor"] > state["seq"])
            or req["acked"] > known_acked)
        if restored:
            renewed = renew_epoch(db, max(high_water, req["cursor"] or 0))
            # This reply tells the copy the new epoch: it is seen in it, or its next exchange
            # would count as a copy's from before the restore and get no page.
            db.execute("UPDATE _sync_instances SET epoch = ? WHERE id = ?", [renewed, instance])
        elif req["cursor"] is not None and 0 < req["cursor"] < state["purged_seq"]:
            # A pull from inside the purged range would miss deletions for ever.
            raise ResyncRequired("This centre has not synced for longer than the hub keeps "
                                 "deletions: send your changes, then synchronise fully.",
                                 hub_time=now_ms)
        ack, renew = None, False
        batch = req["batch"]
        stored = batch and stored_reply(db, node_id, batch["id"], instance)
        if stored:
            ack = json.loads(stored)  # the original acknowledgement (property 6)
            db.execute("UPDATE _sync_batches SET replays = replays + 1 WHERE node_id = ? AND "
                       "batch_id = ?", [node_id, batch["id"]])
        else:
            # A copy of a database the hub has heard further from: restored, or a second PC
            # cloned from one disk. Its batch waits until it has an identity of its own, or
            # the other copy would take what it sends for its own echo (property 6).
            renew = req["acked"] < known_acked
            if batch and not renew:
                ack = _receive(db, catalog, batch, node_id, instance, now_ms)
        note_mark(db, now_ms)
        scope.refresh(db, catalog)
        # What the centre has, so that a bundle for it starts there (sync/bundle.py). A page
        # asked for ahead (``had``) is not had yet: the centre is still applying the one before.
        note_report(db, node_id, schema=req["schema"], instance=req["instance"],
                    cursor=req["cursor"] if req["had"] is None else req["had"],
                    acked=req["acked"], everything=req["everything"])
        note_self(db, node_id, software=req["software"], waiting=req["waiting"])
        epoch = read_state(db)["epoch"]
    page = None
    # A copy from before a restore is about to pull everything again: no page for it now.
    if req["cursor"] is not None and not (renew or restored) and seen_in != "stale":
        # A full resynchronisation needs every row, the node's own ones too.
        echo_from = None if req["everything"] else instance
        page = read_whole(db, catalog, lambda: scope.pull(  # one moment for the whole page
            db, catalog, node_buckets(node_id), req["cursor"], echo_from,
            min(req["limit"], max_page)))
        if page["cursor"] != req["cursor"]:  # a no-op sync writes nothing more
            note_handed(db, node_id, page["cursor"])
    return {"ok": True, "hub_time": now_ms, "epoch": epoch, "ack": ack, "renew_instance": renew,
            "pull": page}


def require_schema(schema: int, min_schema: int) -> None:
    """SchemaTooOld for a centre whose data is older than the hub accepts."""
    if schema < min_schema:
        raise SchemaTooOld(
            f"Please update Infocentre at this centre: its data is at version {schema}, and "
            f"the hub needs at least version {min_schema}.")


def stored_reply(db: Database, node_id: str, batch_id: str, instance: int) -> str | None:
    """The acknowledgement the hub gave this batch, if this database copy sent it (a replay).
    The same id from another copy is no replay: a PC cloned from a disk holds its twin's batch
    in flight, and its twin's acknowledgement would tell it that it shares its twin's history.
    Batches stored before the hub noted their sender count for any copy."""
    row = db.execute("SELECT reply FROM _sync_batches WHERE node_id = ? AND batch_id = ? AND "
                     "(instance IS NULL OR instance = ?)", [node_id, batch_id, instance]).fetchone()
    return row and row[0]


def remember_nonce(db: Database, node_id: str, nonce: str, now_ms: int) -> None:
    """Refuse a nonce seen before (a replayed request); forget those too old to be replayed.
    Call inside the transaction of what the request does."""
    db.execute("DELETE FROM _sync_nonces WHERE seen_ms < ?", [now_ms - NONCE_KEEP_MS])
    if not db.execute("INSERT OR IGNORE INTO _sync_nonces (node_id, nonce, seen_ms) "
                      "VALUES (?, ?, ?)", [node_id, nonce, now_ms]).rowcount:
        raise Unauthenticated("This request was received before (a replay).")


def note_report(db: Database, node_id: str, *, schema: int, instance: str, cursor: int | None,
                acked: int, everything: bool) -> None:
    """Remember that a centre was seen, and what it said it has (its database copy, pull
    cursor, acknowledged sequence): the hub's next bundle for it starts there. A push with no
    pull (``cursor`` None) leaves that as it was. Call inside a transaction."""
    if cursor is None:
        db.execute("UPDATE _sync_nodes SET last_seen_at = datetime('now'), schema_version = ? "
                   "WHERE node_id = ?", [schema, node_id])
        return
    db.execute("UPDATE _sync_nodes SET last_seen_at = datetime('now'), schema_version = ?, "
               "instance_id = ?, cursor = ?, acked = ?, everything = ? WHERE node_id = ?",
               [schema, instance, cursor, acked, int(everything), node_id])


def note_self(db: Database, node_id: str, *, software: str | None,
              waiting: int | None) -> None:
    """Remember what a centre said of itself (its software version, its changes still to
    send), for the regional staff; what it did not say stays as it was. Call inside a
    transaction."""
    if software is not None or waiting is not None:
        db.execute("UPDATE _sync_nodes SET software = coalesce(?, software), waiting = "
                   "coalesce(?, waiting) WHERE node_id = ?", [software, waiting, node_id])


def note_handed(db: Database, node_id: str, cursor: int) -> None:
    """Remember the end of the page just handed to a centre, for the regional staff (what
    waits for it starts after it). Only shown, never relied on: if the write lock is not had
    within the busy timeout, it is left out rather than failing an exchange whose page is
    already read (the centre would ask for it again)."""
    try:
        with immediate(db):
            db.execute("UPDATE _sync_nodes SET handed = ? WHERE node_id = ?", [cursor, node_id])
    except sqlite3.OperationalError as e:
        if not any(w in str(e) for w in ("locked", "busy")):
            raise


def note_mark(db: Database, now_ms: int) -> None:
    """Remember when the hub's sequence reached its current number, to the minute: tombstones
    are purged by when they arrived (sync.engine.purge). Call inside a transaction."""
    seq = db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0]
    last = db.execute("SELECT seq, at_ms FROM _sync_marks WHERE seq = (SELECT max(seq) FROM "
                      "_sync_marks)").fetchone()
    if last is not None and seq <= last[0]:
        return
    if last is not None and 0 <= now_ms - last[1] < MARK_EVERY_MS:
        db.execute("UPDATE _sync_marks SET seq = ? WHERE seq = ?", [seq, last[0]])
    else:
        db.execute("INSERT INTO _sync_marks (seq, at_ms) VALUES (?, ?)", [seq, now_ms])


def renew_epoch(db: Database, high_water: int = 0) -> str:
    """This hub's database was restored: a new epoch, which every centre sees in the next reply
    and answers by sending everything and pulling everything again; and sequence numbers
    beyond any a centre was given, so no cursor skips what comes now. Call inside a
    transaction."""
    epoch = new_epoch()
    db.execute("UPDATE _sync_state SET epoch = ?, seq = max(seq, ?) + 1 WHERE id = 1",
               [epoch, high_water])
    return epoch


def check_high_water(db: Database, high_water: int) -> bool:
    """At the hub's start: renew the epoch if this database is behind what the hub had reached
    (a plain copy of an older file put back). Returns whether it was."""
    with immediate(db):
        if db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0] >= high_water:
            return False
        renew_epoch(db, high_water)
        return True


def _checked(request) -> dict:
    if not isinstance(request, dict):
        raise Malformed("the request must be a JSON object")

    def integer(key, default=None, low=0):
        value = request.get(key, default)
        if not is_int(value) or value < low:
            raise Malformed(f"{key} must be an integer of at least {low}")
        return value

    for key in ("node", "instance"):
        if not is_id(request.get(key)):
            raise Malformed(f"{key} must be an id")
    req = {"node": request["node"], "instance": request["instance"],
           "schema": integer("schema"), "acked": integer("acked", 0),
           "cursor": None if request.get("cursor") is None else integer("cursor"),
           "limit": integer("limit", PAGE_LIMIT, 1), "batch": None,
           "everything": request.get("everything", False) is True,
           "had": None if request.get("had") is None else integer("had"),
           # A centre that says its software version and no count has none waiting.
           "waiting": integer("waiting", 0) if request.get("software") is not None else None,
           "software": _software(request.get("software"))}
    batch = request.get("batch")
    if batch is not None:
        if not (isinstance(batch, dict) and is_id(batch.get("id"))
                and isinstance(batch.get("changes"), dict)):
            raise Malformed("batch must have an id and changes")
        for key in ("from", "to"):
            if not is_int(batch.get(key)):
                raise Malformed(f"batch.{key} must be a sequence number")
        if batch["to"] < batch["from"]:
            raise Malformed("batch.to is before batch.from")
        req["batch"] = batch
    if req["had"] is not None and (req["cursor"] is None or req["had"] > req["cursor"]):
        raise Malformed("had must not be past the cursor")
    return req


def _software(value) -> str | None:
    """A software version as a centre reports it: short printable ASCII, or nothing."""
    if value is None:
        return None
    if not (isinstance(value, str) and 0 < len(value) <= 40 and value.isascii()
            and value.isprintable()):
        raise Malformed("software must be a version of at most 40 printable characters")
    return value


def _instance(db: Database, node_id: str, instance_id: str, acked: int,
              epoch: str) -> tuple[int, int, str | None]:
    """The hub's id of a database copy, what it acknowledged to it, and the epoch in which it
    last exchanged ("new" for a copy seen the first time: a renewed identity, which starts from
    what it says it has). Notes that it exchanged now, in ``epoch``."""
    row = db.execute("SELECT id, node_id, acked, epoch FROM _sync_instances WHERE "
                     "instance_id = ?", [instance_id]).fetchone()
    if row is None:
        db.execute("INSERT INTO _sync_instances (node_id, instance_id, acked) VALUES (?, ?, ?)",
                   [node_id, instance_id, acked])
        row = (*db.execute("SELECT id, node_id, acked FROM _sync_instances WHERE "
                           "instance_id = ?", [instance_id]).fetchone(), "new")
    if row[1] != node_id:
        raise ForgedOrigin("this database copy belongs to another centre")
    db.execute("UPDATE _sync_instances SET last_seen_at = datetime('now'), epoch = ? WHERE id = ?",
               [epoch, row[0]])
    return row[0], row[2], row[3]


def _receive(db: Database, catalog: Catalog, batch: dict, node_id: str, instance: int,
             now_ms: int) -> dict:
    changes = decode(batch["changes"], catalog)
    if any(c.version[1] != node_id for c in changes):
        raise ForgedOrigin("the batch holds changes made by another centre")
    for change in changes:
        # A row sent whole carries the versions other centres gave some of its columns. Those
        # came through the hub, which holds them or newer ones: drop them, keep only this
        # centre's own claims.
        for column, version in list(change.overrides.items()):
            if version[1] != node_id:
                del change.overrides[column]
                change.values.pop(column, None)
    stamps = [c.version for c in changes] + [v for c in changes for v in c.overrides.values()]
    if stamps and is_too_far_ahead(max(stamps)[0], now_ms):
        raise ClockAhead("This centre's clock is ahead of the hub's: its changes were "
                         "stamped in the future. They will be stamped again and sent.",
                         hub_time=now_ms)
    allowed = _allowed(db, catalog, changes, node_id)
    kept = {id(c) for c in allowed}
    refused = [c for c in changes if id(c) not in kept]
    for change in refused:
        quarantine(db, node_id, change.table, change, "this centre may not change this row")
    result = apply(db, catalog, allowed, seq="next", origin=instance, source=node_id)
    ack = {"batch": batch["id"], "acked": batch["to"], "received": count(batch["changes"]),
           "applied": result.applied, "quarantined": result.quarantined + len(refused)}
    if result.gone:
        ack["gone"] = [list(key) for key in result.gone]  # ids deleted for ever: drop them
    # REPLACE: the same id from another copy (see stored_reply) now belongs to this one.
    db.execute("INSERT OR REPLACE INTO _sync_batches (node_id, batch_id, reply, received_at, "
               "instance) VALUES (?, ?, ?, datetime('now'), ?)",
               [node_id, batch["id"], json.dumps(ack), instance])
    db.execute("UPDATE _sync_instances SET acked = max(acked, ?) WHERE id = ?",
               [batch["to"], instance])
    return ack


def _allowed(db: Database, catalog: Catalog, changes: list, node_id: str) -> list:
    """The changes this node may make (upload rules); the others are quarantined."""
    owners: dict[tuple[str, str], str | None] = {}
    for table in {c.table for c in changes}:
        pks = [c.pk for c in changes if c.table == table]
        for start in range(0, len(pks), 500):
            chunk = pks[start:start + 500]
            for pk, owner in db.execute(
                    f"SELECT id, centre_id FROM {_q(table)} WHERE id IN "
                    f"({','.join('?' * len(chunk))})", chunk):
                owners[(table, pk)] = owner
    allowed = []
    for change in changes:
        rule = catalog.specs[change.table].upload
        if rule == UPLOAD_ANY:
            allowed.append(change)
        elif rule == UPLOAD_HUB:
            continue
        else:
            current = owners.get((change.table, change.pk), node_id)
            claimed = change.values.get("centre_id", current)
            if current == node_id and claimed == node_id:
                allowed.append(change)
    return allowed


def epoch_of(db: Database) -> str | None:
    """The hub's epoch (None at a node)."""
    return db.execute("SELECT epoch FROM _sync_state WHERE id = 1").fetchone()[0]


__all__ = ["check_high_water", "epoch_of", "note_mark", "note_report", "note_self",
           "remember_nonce", "renew_epoch", "require_schema", "serve_exchange", "stored_reply"]
