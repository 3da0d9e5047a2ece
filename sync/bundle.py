"""USB bundles: a centre's changes for the hub, or the hub's changes for a centre, in one signed
file for when there is no network at all (DESIGN property 10; sync/README.md, "Bundles").

Imports the standard library, sync.engine, sync.signing, sync.errors and sync.bundle_file (the
file format): no Flask, no click, nothing from kiosk. The hub applies a centre's batches with
``serve_exchange`` and a centre applies the hub's pages with ``apply_page``, as online.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass, fields

from sqlite_utils import Database

from . import media, signing
from .bundle_file import BundleFile, Writer, damaged, header
from .engine import Catalog, note_hub_time, scope, serve_exchange
from .engine.changes import count, is_id, is_int
from .engine.exchange import (
    RESYNC_PULLING,
    Step,
    apply_page,
    batch_changes,
    begin_pull_resync,
    forget_deleted,
    renew_instance,
    start_recovery,
)
from .engine.hub import epoch_of, note_report, require_schema, stored_reply
from .engine.registry import node_buckets
from .engine.restamp import note_acked
from .engine.state import immediate, read_state, snapshot
from .engine.text import NOT_UTF8, mend_text, strict_text
from .errors import BundleError, ClockAhead, MediaError, SchemaTooOld, SyncError


@dataclass
class BundleReport:
    """What an export wrote or an import did. ``problem``: the SyncError that stopped an import
    at batch number ``problem_at`` (what came before it was applied)."""

    kind: str  # "push": a centre's, for the hub; "pull": the hub's, for a centre
    node: str
    entries: int = 0  # batches (push) or pages (pull) in the bundle
    changes: int = 0
    bytes: int = 0
    applied: int = 0  # batches or pages applied by this import
    skipped: int = 0  # applied before (property 6: applying twice changes nothing)
    acks: int = 0  # pull: batches of the centre acknowledged by this import
    quarantined: int = 0
    blobs: int = 0  # photos and recordings written, or received whole by this import
    blob_bytes: int = 0
    restamped: bool = False  # pull: the centre's clock was ahead; its changes have new stamps
    renewed: bool = False  # pull: a restored or copied database took a new identity
    recovered: bool = False  # pull: the hub was restored; everything goes to it again
    resync: bool = False  # pull: a full resynchronisation began (the hub purged deletions)
    problem: SyncError | None = None
    problem_at: int = 0

    @property
    def nothing_new(self) -> bool:
        return not (self.applied or self.acks or self.restamped or self.renewed
                    or self.resync or self.blobs)

    def as_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["problem"] = self.problem and {"code": self.problem.code,
                                           "message": self.problem.message}
        return out


def _secret(token: str, db: Database) -> tuple[str, bytes]:
    try:
        node_id, secret = signing.parse_token(token)
    except ValueError:
        raise BundleError("This centre's token is not valid.", "token") from None
    if node_id != read_state(db)["node_id"]:
        raise BundleError("This centre's token belongs to another centre.", "token")
    return node_id, secret


# A centre: its changes for the hub, and the hub's bundle for it.


def export_at_node(db: Database, tables: list, path, *, token: str, schema: int,
                   batch_limit: int = 1000, wall_ms: int, store: media.Store | None = None,
                   progress=None) -> BundleReport:
    """Write every change of this centre the hub has not acknowledged, in batches, to ``path``,
    and the photos and recordings its rows name that the hub is not known to have.

    Batches put in an earlier bundle and not yet acknowledged go again with the same ids (and
    the batch in flight online, if any), so the hub applies each once whatever arrives first.
    """
    node_id, secret = _secret(token, db)
    catalog = Catalog(db, tables)
    with immediate(db):
        state = read_state(db)
        batches = _plan(db, state, batch_limit)
        inflight = json.loads(state["inflight"]) if state["inflight"] else None
        kept = [b for b in batches if not inflight or b["id"] != inflight["id"]]
        db.execute("UPDATE _sync_state SET bundled = ? WHERE id = 1",
                   [json.dumps(kept) if kept else None])
    for attempt in range(3):
        report = BundleReport("push", node_id, entries=len(batches))
        try:
            with Writer(path, secret) as writer:
                with strict_text(db), snapshot(db):  # one moment for the whole file
                    _write_push(writer, db, tables, catalog, state, batches, schema, report,
                                store, progress)
                report.bytes = writer.close()
            return report
        except sqlite3.OperationalError as e:
            if NOT_UTF8 not in str(e) or attempt == 2:
                raise
            mend_text(db, catalog)  # text not UTF-8 was written here: mended, then again
    raise AssertionError("unreachable")


def _write_push(writer: Writer, db: Database, tables: list, catalog: Catalog, state: dict,
                batches: list, schema: int, report: BundleReport, store, progress) -> None:
    writer.line(header(
        "push", state["node_id"], instance=state["instance_id"], schema=schema,
        seq=state["seq"], acked=state["acked"], cursor=state["cursor"],
        everything=state["resync"] == RESYNC_PULLING))
    for number, batch in enumerate(batches, 1):
        changes = batch_changes(db, catalog, state, batch)
        writer.entry("batch", {**batch, "changes": changes})
        report.changes += count(changes)
        if progress:
            progress("batch", number, len(batches))
    if store is not None:
        _write_blobs(writer, store, media.unconfirmed(db, tables, store, state["node_id"]),
                     report, progress)
    writer.line(_end(report.entries, report.changes, writer.blob_lines))


def _write_blobs(writer: Writer, store: media.Store, shas, report: BundleReport,
                 progress=None) -> None:
    """The blobs of ``shas`` that are stored here, into the bundle, saying how far it got."""
    here = sorted(sha for sha in shas if store.has(sha))  # a blob not arrived yet: next time
    for number, sha in enumerate(here, 1):
        report.blob_bytes += writer.blob(store, sha)
        report.blobs += 1
        if progress:
            progress("file", number, len(here))


def _end(entries: int, changes: int, blob_lines: int) -> dict:
    end = {"entries": entries, "changes": changes}
    if blob_lines:
        end["blobs"] = blob_lines
    return {"end": end}


def _take_blobs(bundle: BundleFile, store: media.Store | None, report: BundleReport,
                allowed=None, progress=None) -> None:
    """Store the photos and recordings a verified bundle brings (those ``allowed`` to come),
    each checked against its hash once whole. A piece that does not follow what is here (a
    transfer that started online) is left: the blob comes again, online or in a bundle."""
    if store is None:
        return
    lines = 0
    for sha, size, offset, data in bundle.blobs():
        lines += 1
        if progress and lines % 8 == 0:  # every 2 MiB or so
            progress("file_part", lines, bundle.blob_lines)
        if store.has(sha) or (allowed and not allowed(sha)):
            continue
        try:
            if store.write_chunk(sha, size, offset, data) == size:
                report.blobs += 1
                report.blob_bytes += size
        except MediaError:
            continue


def _plan(db: Database, state: dict, limit: int) -> list[dict]:
    """The batch in flight, the batches bundled before that follow on, then new ones."""
    batches = []
    start = state["acked"]
    if state["inflight"]:
        batches.append(json.loads(state["inflight"]))
        start = batches[0]["to"]
    for batch in json.loads(state["bundled"]) if state["bundled"] else []:
        if batch["from"] != start:
            break
        batches.append(batch)
        start = batch["to"]
    seqs = [s for (s,) in db.execute("SELECT seq FROM _sync_clock WHERE node = ? AND seq > ? "
                                     "ORDER BY seq", [state["node_idx"], start])]
    i = 0
    while i < len(seqs):
        end = seqs[min(i + limit, len(seqs)) - 1]
        batches.append({"id": str(uuid.uuid4()), "from": start, "to": end})
        start = end
        while i < len(seqs) and seqs[i] <= end:
            i += 1
    return batches


def import_at_node(db: Database, tables: list, path, *, token: str, wall_ms: int,
                   store: media.Store | None = None, progress=None) -> BundleReport:
    """Apply the hub's bundle for this centre: acknowledgements, then pages, one transaction
    each. Raises BundleError, applying nothing, for a bundle that is not right for it."""
    node_id, secret = _secret(token, db)
    bundle = BundleFile(path)
    head = bundle.header
    if head["kind"] != "pull":
        raise BundleError("This bundle was made by a centre for the hub: import it at the hub.",
                          "wrong_way")
    if head["node"] != node_id:
        raise BundleError("This bundle was made for another centre.", "other_centre",
                          node=head["node"])
    bundle.verify(secret)
    if not (is_int(head.get("from")) and is_int(head.get("hub_time"))
            and isinstance(head.get("acks"), list)):
        raise damaged()
    catalog = Catalog(db, tables)
    report = BundleReport("pull", node_id, entries=bundle.entries, changes=bundle.changes)
    with immediate(db):
        go_on = _receive_news(db, catalog, head, bundle, report, wall_ms)
    step = Step()
    for number, page in enumerate(bundle.items() if go_on else (), 1):
        if progress:
            progress("page", number, bundle.entries)
        with immediate(db):
            if page["cursor"] <= read_state(db)["cursor"]:
                report.skipped += 1  # already here (property 6)
            else:
                apply_page(db, catalog, page, step)
                report.applied += 1
    report.quarantined = step.quarantined
    if go_on:
        _take_blobs(bundle, store, report, progress=progress)
        held = head.get("blobs_held")
        if isinstance(held, list):  # the hub has these: no bundle or sync sends them again
            # and only these: one it deleted (no row named it for a while) goes again if a
            # row here names it again.
            with immediate(db):
                db.execute("CREATE TEMP TABLE IF NOT EXISTS _sync_held (sha TEXT PRIMARY KEY)")
                db.execute("DELETE FROM _sync_held")
                db.conn.executemany("INSERT OR IGNORE INTO _sync_held (sha) VALUES (?)",
                                    [(sha,) for sha in held if isinstance(sha, str)])
                db.execute("DELETE FROM _sync_blobs_at_hub WHERE sha NOT IN "
                           "(SELECT sha FROM _sync_held)")
            media.confirm(db, held)
    if store is not None:
        media.sweep(db, tables, store)  # blobs the pages' deletions and exits left unnamed
    if not report.nothing_new:
        db.execute("UPDATE _sync_state SET last_sync_at = datetime('now') WHERE id = 1")
    return report


def _receive_news(db: Database, catalog: Catalog, head: dict, bundle: BundleFile,
                  report: BundleReport, wall_ms: int) -> bool:
    """Acknowledgements, the hub's time, a new identity or a full resynchronisation; returns
    whether to apply the pages."""
    state = read_state(db)
    epoch = head.get("epoch")
    if isinstance(epoch, str) and state["epoch"] and epoch != state["epoch"]:
        # The hub was restored from a backup: everything goes to it again, and everything
        # comes again from its next bundle (these pages start from a cursor it no longer has).
        start_recovery(db, epoch)
        report.renewed = report.recovered = True
        return False
    if isinstance(epoch, str) and epoch != state["epoch"]:
        db.execute("UPDATE _sync_state SET epoch = ? WHERE id = 1", [epoch])
    if head["from"] > state["cursor"]:
        raise BundleError("This bundle follows one from the hub that this centre has not "
                          "imported: import that one first, or take a new bundle from here to "
                          "the hub and bring back its answer.", "gap")
    report.acks = _apply_acks(db, catalog, state, head["acks"])
    state = read_state(db)
    seen = head.get("seen") if isinstance(head.get("seen"), dict) else {}
    if seen.get("instance") == state["instance_id"] and is_int(seen.get("acked")) \
            and seen["acked"] > min(state["seq"], state["acked"]):
        # The hub acknowledged batches of this database copy that this copy did not send: it
        # is a restored backup, or a second PC cloned from one disk. A new identity, and the
        # hub's next bundle brings everything again (these pages leave out what it believes
        # this copy has).
        renew_instance(db)
        report.renewed = True
        return False
    refused = head.get("refused")
    pending = [json.loads(state["inflight"])] if state["inflight"] else []
    pending += json.loads(state["bundled"]) if state["bundled"] else []
    refused_here = isinstance(refused, dict) and refused.get("batch") in {
        b["id"] for b in pending}
    # The hub's time in a bundle is as old as the bundle: it moves a slow clock forward, never
    # back. If the hub refused a batch as stamped ahead, it applied none of it nor what
    # followed, so those changes take stamps no later than its time (property 5).
    report.restamped = note_hub_time(db, head["hub_time"], wall_ms, refused=refused_here,
                                     transaction=False, measured=False) and refused_here
    if head.get("full") is True and state["resync"] != RESYNC_PULLING \
            and state["cursor"] < (bundle.last_cursor or 0):
        # The hub forgot deletions this centre has not seen: rows the pages do not bring are
        # gone there (sync/README.md, "Purge").
        begin_pull_resync(db)
        report.resync = True
    return True


def _apply_acks(db: Database, catalog: Catalog, state: dict, acks: list) -> int:
    """Mark acknowledged the batches this database really sent; returns how many."""
    by_id = {a.get("batch"): a for a in acks if isinstance(a, dict)}
    inflight = json.loads(state["inflight"]) if state["inflight"] else None
    bundled = json.loads(state["bundled"]) if state["bundled"] else []
    acked, done, moved = state["acked"], 0, True
    while moved:  # each step extends the acknowledged prefix, whatever order they come in
        moved = False
        for batch in ([inflight] if inflight else []) + bundled:
            if batch["id"] in by_id and batch["from"] <= acked < batch["to"]:
                note_acked(db, state["node_idx"], batch["from"], batch["to"])
                forget_deleted(db, catalog, by_id[batch["id"]].get("gone"))
                acked, done, moved = batch["to"], done + 1, True
    if acked > state["acked"]:
        left = [b for b in bundled if b["to"] > acked]
        db.execute("UPDATE _sync_state SET acked = ?, bundled = ?, inflight = CASE WHEN ? "
                   "THEN NULL ELSE inflight END, owed_ms = CASE WHEN ? THEN 0 ELSE owed_ms END "
                   "WHERE id = 1",
                   [acked, json.dumps(left) if left else None,
                    bool(inflight and inflight["to"] <= acked),
                    bool(inflight and inflight["to"] <= acked)])
    return done


# The hub: a centre's bundle, and a bundle for a centre.


def import_at_hub(db: Database, tables: list, path, *, hub_key: str, now_ms: int,
                  min_schema: int = 0, store: media.Store | None = None,
                  progress=None) -> BundleReport:
    """Apply a centre's bundle, batch by batch, exactly as its online pushes.

    A batch applied before is skipped. A batch refused (stamped ahead of the hub's clock, or
    not acceptable) stops the import: it and what follows are not applied, and the report says
    why; the hub's next bundle for the centre tells it to re-stamp.
    """
    bundle = BundleFile(path)
    head = bundle.header
    if head["kind"] != "push":
        raise BundleError("This bundle was made by the hub for a centre: import it at that "
                          "centre.", "wrong_way")
    node_id = head["node"]
    known = signing.node_credentials(db, hub_key, node_id)
    if known is None:
        raise BundleError("This bundle comes from a centre this hub does not know.",
                          "unknown_centre", node=node_id)
    secret, revoked = known
    bundle.verify(secret)
    if revoked:
        raise BundleError("This centre's access to the hub was revoked: its bundle was not "
                          "imported.", "revoked", node=node_id)
    if not (is_id(head.get("instance")) and all(is_int(head.get(k)) for k in (
            "schema", "seq", "acked", "cursor"))):
        raise damaged()
    report = BundleReport("push", node_id, entries=bundle.entries, changes=bundle.changes)
    try:
        require_schema(head["schema"], min_schema)
    except SchemaTooOld as e:
        report.problem = e
        return report
    catalog = Catalog(db, tables)
    refused = None
    copy = None
    for number, batch in enumerate(bundle.items(), 1):
        if progress:
            progress("batch", number, bundle.entries)
        copy = copy or _copy(db, node_id, head["instance"])  # known from its first batch on
        if copy and isinstance(batch.get("id"), str) and stored_reply(
                db, node_id, batch["id"], copy[0]):
            report.skipped += 1  # this copy sent it online, or in an earlier bundle
            continue
        request = {"node": node_id, "instance": head["instance"], "schema": head["schema"],
                   "acked": batch.get("from"), "cursor": None, "batch": batch}
        try:
            reply = serve_exchange(db, catalog, request, node_id=node_id, now_ms=now_ms,
                                   min_schema=min_schema)
        except SyncError as e:
            report.problem, report.problem_at = e, number
            if isinstance(e, ClockAhead):
                refused = {"batch": batch["id"], "hub_time": now_ms}
            break
        if reply["ack"] is None:
            # A copy of the centre's database the hub has heard further from (restored, or
            # a second PC cloned from one disk): its batches wait until it has a new identity,
            # which the hub's next bundle gives it.
            report.problem = BundleError(
                "This bundle comes from a copy of the centre's database that is behind what "
                "the hub received from it (a restored backup, or a second computer set up "
                "from the same disk). Import the hub's next bundle there, then export again.",
                "renew")
            report.problem_at = number
            break
        report.applied += 1
        report.quarantined += reply["ack"]["quarantined"]
    _remember(db, node_id, head, refused)
    buckets = node_buckets(node_id)
    _take_blobs(bundle, store, report, lambda sha: media.in_scope(db, tables, sha, buckets),
                progress)
    if store is not None:
        media.sweep(db, tables, store)  # what this centre has now pulled may be deleted
    return report


def _copy(db: Database, node_id: str, instance: str | None) -> tuple[int, int] | None:
    """The hub's id of a centre's database copy, and what it acknowledged to it (None for a
    copy it has not heard from)."""
    return instance and db.execute(
        "SELECT id, acked FROM _sync_instances WHERE instance_id = ? AND node_id = ?",
        [instance, node_id]).fetchone()


def _remember(db: Database, node_id: str, head: dict, refused: dict | None) -> None:
    """What the centre said it has, and whether the hub's next bundle for it asks for new
    stamps."""
    with immediate(db):
        note_report(db, node_id, schema=head["schema"], instance=head["instance"],
                    cursor=head["cursor"], acked=head["acked"],
                    everything=head["everything"] is True)
        db.execute("UPDATE _sync_nodes SET refused = ? WHERE node_id = ?",
                   [json.dumps(refused) if refused else None, node_id])


def export_for_node(db: Database, tables: list, path, *, node_id: str, hub_key: str,
                    hub_id: str, now_ms: int, page_limit: int = 2000,
                    store: media.Store | None = None, progress=None) -> BundleReport:
    """Write what a centre has not received, from the cursor it last said it has, with the
    acknowledgements of its batches, the hub's time, and the photos and recordings named by
    the rows it brings.

    Nothing here counts as pulled: the hub learns the centre's cursor only from its next
    bundle or online sync, so a bundle lost on the way costs nothing.
    """
    known = signing.node_credentials(db, hub_key, node_id)
    if known is None:
        raise BundleError(f"No centre has the id {node_id}.", "unknown_centre", node=node_id)
    secret, revoked = known
    if revoked:
        raise BundleError("This centre's access to the hub was revoked.", "revoked",
                          node=node_id)
    instance, cursor, acked, everything, refused = db.execute(
        "SELECT instance_id, cursor, acked, everything, refused FROM _sync_nodes WHERE "
        "node_id = ?", [node_id]).fetchone()
    cursor = cursor or 0
    catalog = Catalog(db, tables)
    with immediate(db):
        scope.refresh(db, catalog)  # rows changed here since the last exchange
    spec = {"node_id": node_id, "hub_id": hub_id, "now_ms": now_ms, "cursor": cursor,
            "instance": instance, "acked": acked, "everything": everything,
            "refused": refused, "page_limit": page_limit}
    for attempt in range(3):
        report = BundleReport("pull", node_id)
        try:
            with Writer(path, secret) as writer:
                with strict_text(db), snapshot(db):  # one moment for the whole file
                    _write_pull(writer, db, tables, catalog, spec, report, store, progress)
                report.bytes = writer.close()
            return report
        except sqlite3.OperationalError as e:
            if NOT_UTF8 not in str(e) or attempt == 2:
                raise
            mend_text(db, catalog)  # text not UTF-8 was written here: mended, then again
    raise AssertionError("unreachable")


def _write_pull(writer: Writer, db: Database, tables: list, catalog: Catalog, spec: dict,
                report: BundleReport, store, progress) -> None:
    node_id, cursor, page_limit = spec["node_id"], spec["cursor"], spec["page_limit"]
    buckets = node_buckets(node_id)
    purged = db.execute("SELECT purged_seq FROM _sync_state WHERE id = 1").fetchone()[0]
    full = 0 < cursor < purged  # it would miss deletions: everything again
    if full:
        cursor = 0
    instance = spec["instance"]
    copy = _copy(db, node_id, instance)
    # No echo of what this copy sent, unless the centre needs every row again.
    echo = copy[0] if copy and not (spec["everything"] or full) else None
    # The acknowledgements of what this copy sent (a twin cloned from its disk holds the same
    # batch ids, and must not take them: see engine.hub.stored_reply).
    acks = [json.loads(reply) for (reply,) in db.execute(
        "SELECT reply FROM _sync_batches WHERE node_id = ? AND json_extract(reply, '$.acked') "
        "> ? AND (instance IS NULL OR instance = ?) ORDER BY rowid",
        [node_id, spec["acked"] or 0, copy and copy[0]])]
    held = [] if store is None else sorted(
        sha for sha in media.named(db, tables, centre_id=node_id) if store.has(sha))
    refused = spec["refused"] and json.loads(spec["refused"])
    writer.line(header("pull", node_id, hub=spec["hub_id"], hub_time=spec["now_ms"],
                       epoch=epoch_of(db), **{"from": cursor}, full=full, refused=refused,
                       acks=acks, seen=copy and {"instance": instance, "acked": copy[1]},
                       blobs_held=held))
    named: set[str] = set()
    total = -(-scope.count_after(db, buckets, cursor) // page_limit) or 1
    while True:
        page = scope.pull(db, catalog, buckets, cursor, echo, page_limit)
        entry = {"from": cursor, "cursor": page["cursor"], "changes": page["changes"]}
        entry.update({k: page[k] for k in ("exits", "more") if page[k]})
        named |= media.named_in(page["changes"], catalog)
        writer.entry("page", entry)
        report.entries += 1
        report.changes += count(page["changes"])
        if progress:
            progress("page", report.entries, max(total, report.entries))
        cursor = page["cursor"]
        if not page["more"]:
            break
    if store is not None:
        _write_blobs(writer, store, named, report, progress)
    writer.line(_end(report.entries, report.changes, writer.blob_lines))
    report.acks = len(acks)
