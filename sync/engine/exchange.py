"""The exchange between a node and the hub, as plain functions over the two databases.

One request carries a push batch (or none) and a pull cursor (or none); one reply carries the
batch's acknowledgement, the hub's time and a page of changes. ``serve_exchange`` is the hub's
side, ``build_request`` and ``process_reply`` the node's. No HTTP here: sync.server and
sync.client carry these dictionaries. See sync/README.md, "Exchange".
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass

from sqlite_utils import Database

from ..errors import ClockAhead, ForgedOrigin, Malformed, ResyncRequired, SchemaTooOld
from . import scope
from .capture import _q
from .changes import Catalog, Entry, count, decode, encode, is_id, is_int
from .clock import MAX_AHEAD_MS, OFFSET_TOLERANCE_MS, is_too_far_ahead, pack
from .merge import apply, quarantine
from .registry import UPLOAD_ANY, UPLOAD_HUB, node_buckets
from .state import immediate, read_state, snapshot

RESYNC_PUSHING, RESYNC_PULLING = 1, 2


# The hub's side.


def serve_exchange(db: Database, catalog: Catalog, request, *, node_id: str, now_ms: int,
                   min_schema: int = 0, max_page: int = 2000) -> dict:
    """Apply a node's push and answer with the acknowledgement and a page to pull.

    Raises a SyncError (and changes nothing) when the request must be refused.
    """
    req = _checked(request)
    if req["node"] != node_id:
        raise ForgedOrigin("the request speaks for another centre")
    require_schema(req["schema"], min_schema)
    purged = db.execute("SELECT purged_seq FROM _sync_state WHERE id = 1").fetchone()[0]
    # A pull from 0 takes everything there is; one from inside the purged range would miss
    # deletions for ever.
    if req["cursor"] is not None and 0 < req["cursor"] < purged:
        raise ResyncRequired("This centre has not synced for longer than the hub keeps "
                             "deletions: send your changes, then synchronise fully.",
                             hub_time=now_ms)
    with immediate(db):
        instance, known_acked = _instance(db, node_id, req["instance"])
        ack, renew = None, False
        batch = req["batch"]
        stored = batch and db.execute(
            "SELECT reply FROM _sync_batches WHERE node_id = ? AND batch_id = ?",
            [node_id, batch["id"]]).fetchone()
        if stored:
            ack = json.loads(stored[0])  # the original acknowledgement (property 6)
            db.execute("UPDATE _sync_batches SET replays = replays + 1 WHERE node_id = ? AND "
                       "batch_id = ?", [node_id, batch["id"]])
        else:
            renew = req["acked"] < known_acked  # a restored or cloned database
            if batch:
                ack = _receive(db, catalog, batch, node_id, instance, now_ms)
        scope.refresh(db, catalog)
        # What the centre has, so that a bundle for it starts there (sync/bundle.py).
        note_report(db, node_id, schema=req["schema"], instance=req["instance"],
                    cursor=req["cursor"], acked=req["acked"], everything=req["everything"])
    page = None
    if req["cursor"] is not None and not renew:
        # A full resynchronisation needs every row, the node's own ones too.
        echo_from = None if req["everything"] else instance
        with snapshot(db):  # one moment for the whole page
            page = scope.pull(db, catalog, node_buckets(node_id), req["cursor"], echo_from,
                              min(req["limit"], max_page))
    return {"ok": True, "hub_time": now_ms, "ack": ack, "renew_instance": renew, "pull": page}


def require_schema(schema: int, min_schema: int) -> None:
    """SchemaTooOld for a centre whose data is older than the hub accepts."""
    if schema < min_schema:
        raise SchemaTooOld(
            f"Please update Infocentre at this centre: its data is at version {schema}, and "
            f"the hub needs at least version {min_schema}.")


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
           "limit": integer("limit", 2000, 1), "batch": None,
           "everything": request.get("everything", False) is True}
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
    return req


def _instance(db: Database, node_id: str, instance_id: str) -> tuple[int, int]:
    row = db.execute("SELECT id, node_id, acked FROM _sync_instances WHERE instance_id = ?",
                     [instance_id]).fetchone()
    if row is None:
        db.execute("INSERT INTO _sync_instances (node_id, instance_id) VALUES (?, ?)",
                   [node_id, instance_id])
        row = db.execute("SELECT id, node_id, acked FROM _sync_instances WHERE instance_id = ?",
                         [instance_id]).fetchone()
    if row[1] != node_id:
        raise ForgedOrigin("this database copy belongs to another centre")
    db.execute("UPDATE _sync_instances SET last_seen_at = datetime('now') WHERE id = ?", [row[0]])
    return row[0], row[2]


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
    db.execute("INSERT INTO _sync_batches (node_id, batch_id, reply, received_at) "
               "VALUES (?, ?, ?, datetime('now'))", [node_id, batch["id"], json.dumps(ack)])
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


# The node's side.


@dataclass
class Step:
    sent: int = 0
    received: int = 0
    quarantined: int = 0
    more: bool = False


def build_request(db: Database, catalog: Catalog, *, schema: int, batch_limit: int = 1000,
                  page_limit: int = 2000) -> dict:
    """The next request: the batch in flight (again) or the next one, and the pull cursor."""
    state = read_state(db)
    pulling = state["resync"] != RESYNC_PUSHING
    batch = json.loads(state["inflight"]) if state["inflight"] else None
    if batch is None:
        batch = _next_batch(db, state, batch_limit)
        if batch is None and state["resync"] == RESYNC_PUSHING:
            begin_pull_resync(db)
            state, pulling = read_state(db), True
    payload = batch and {**batch, "changes": batch_changes(db, catalog, state, batch)}
    return {"node": state["node_id"], "instance": state["instance_id"], "schema": schema,
            "acked": state["acked"], "batch": payload,
            "cursor": state["cursor"] if pulling else None, "limit": page_limit,
            "everything": state["resync"] == RESYNC_PULLING}


def batch_changes(db: Database, catalog: Catalog, state: dict, batch: dict) -> dict:
    """The changeset of one of this node's batches: its sequence range, with current values."""
    entries = [Entry(*r) for r in db.execute(
        "SELECT tbl, pk, col, hlc, node, seq FROM _sync_clock WHERE node = ? AND seq > ? "
        "AND seq <= ? ORDER BY seq, tbl, pk, col",
        [state["node_idx"], batch["from"], batch["to"]])]
    return encode(db, catalog, entries)


def _next_batch(db: Database, state: dict, limit: int) -> dict | None:
    rows = db.execute("SELECT seq FROM _sync_clock WHERE node = ? AND seq > ? ORDER BY seq "
                      "LIMIT ?", [state["node_idx"], state["acked"], limit]).fetchall()
    if not rows:
        return None
    batch = {"id": str(uuid.uuid4()), "from": state["acked"], "to": rows[-1][0]}
    # Kept before it is sent: if the answer is lost, the same batch goes again (property 6).
    db.execute("UPDATE _sync_state SET inflight = ? WHERE id = 1", [json.dumps(batch)])
    return batch


def process_reply(db: Database, catalog: Catalog, request: dict, reply: dict, *,
                  wall_ms: int) -> Step:
    """Record the hub's acknowledgement and apply the page pulled, in one transaction."""
    step = Step(sent=count(request["batch"]["changes"]) if request["batch"] else 0)
    if not (isinstance(reply, dict) and isinstance(reply.get("ack") or {}, dict)
            and _is_time(reply.get("hub_time"))):
        raise Malformed("the hub's answer is not understood")
    with immediate(db):
        ack = reply.get("ack")
        if request["batch"] and ack and ack.get("batch") == request["batch"]["id"]:
            db.execute("UPDATE _sync_state SET acked = max(acked, ?), inflight = NULL "
                       "WHERE id = 1", [request["batch"]["to"]])
        note_hub_time(db, reply["hub_time"], wall_ms, transaction=False)
        if reply.get("renew_instance"):
            renew_instance(db)
            step.more = True
        page = reply.get("pull")
        if page is not None and request["cursor"] is not None:
            apply_page(db, catalog, page, step)
        db.execute("UPDATE _sync_state SET last_sync_at = datetime('now') WHERE id = 1")
        state = read_state(db)
        step.more = step.more or bool(state["inflight"]) or bool(db.execute(
            "SELECT 1 FROM _sync_clock WHERE node = ? AND seq > ? LIMIT 1",
            [state["node_idx"], state["acked"]]).fetchone()) or state["resync"] != 0
    return step


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
    step.received += result.received + len(exits)
    step.quarantined += result.quarantined
    db.execute("UPDATE _sync_state SET cursor = ? WHERE id = 1", [page["cursor"]])
    step.more = step.more or bool(page.get("more"))
    if not page.get("more") and fresh:
        db.execute("UPDATE _sync_state SET fresh = NULL WHERE id = 1")  # caught up
    if resync and not page.get("more"):
        _finish_resync(db, catalog)


def note_hub_time(db: Database, hub_time: int, wall_ms: int, *, refused: bool = False,
                  transaction: bool = True) -> bool:
    """Learn the offset to the hub's clock, and re-stamp changes stamped ahead of it.

    Only the node's own changes that the hub cannot have applied are re-stamped: not yet sent,
    or sent in a batch the hub just refused (``refused``, a clock_ahead). They exist nowhere else,
    so their stamps can move; they keep their order (DESIGN property 5). Returns whether any moved.
    """
    if not _is_time(hub_time):
        raise Malformed("the hub's time is not understood")
    with immediate(db) if transaction else contextlib.nullcontext():
        state = read_state(db)
        offset = hub_time - wall_ms
        if abs(offset - state["offset_ms"]) > OFFSET_TOLERANCE_MS:
            db.execute("UPDATE _sync_state SET offset_ms = ? WHERE id = 1", [offset])
        floor = state["acked"]
        if state["inflight"] and not refused:
            floor = max(floor, json.loads(state["inflight"])["to"])  # may be at the hub already
        return _restamp_ahead(db, state["node_idx"], floor, hub_time,
                              MAX_AHEAD_MS if refused else MAX_AHEAD_MS // 2)


def _is_time(value) -> bool:
    return is_int(value) and 0 < value < 2**47  # milliseconds since 1970


def _restamp_ahead(db: Database, node_idx: int, floor: int, hub_time: int, margin: int) -> bool:
    """Give the node's changes after ``floor`` that are stamped past the hub's time + margin new
    stamps at the hub's time, in their order; one stamp per sequence number, as captured."""
    limit = pack(hub_time)
    threshold = pack(hub_time + margin)
    groups = db.execute(
        "SELECT seq, max(hlc) FROM _sync_clock WHERE node = ? AND seq > ? GROUP BY seq "
        "ORDER BY seq", [node_idx, floor]).fetchall()
    if not any(hlc > threshold for _, hlc in groups):
        return False
    previous = db.execute("SELECT coalesce(max(hlc), 0) FROM _sync_clock WHERE node = ? AND "
                          "seq <= ? AND seq > 0", [node_idx, floor]).fetchone()[0]
    previous = min(previous, limit)
    updates = []
    for seq, hlc in groups:
        stamp = max(previous + 1, limit) if hlc > threshold or hlc <= previous else hlc
        if stamp != hlc:
            updates.append((stamp, node_idx, seq))
        previous = stamp
    db.conn.executemany("UPDATE _sync_clock SET hlc = ? WHERE node = ? AND seq = ?", updates)
    db.execute("UPDATE _sync_state SET hlc = (SELECT coalesce(max(hlc), 0) FROM _sync_clock) "
               "WHERE id = 1")
    return True


def renew_instance(db: Database) -> None:
    """This database was restored or copied: a new identity, and everything pulled again."""
    db.execute("UPDATE _sync_state SET instance_id = ?, cursor = 0 WHERE id = 1",
               [str(uuid.uuid4())])


def start_resync(db: Database) -> None:
    """The hub purged deletions this node has not seen: push everything, then pull everything."""
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
        f"AND id NOT IN (SELECT pk FROM _sync_clock WHERE tbl = ? AND node = ? AND seq > ?)",
        [tid, tid, state["node_idx"], state["acked"]])]
    scope.drop_rows(db, catalog, gone)
    db.execute("DELETE FROM _sync_seen")
    db.execute("UPDATE _sync_state SET resync = 0 WHERE id = 1")
