"""Applying changes from another replica: per-column last-writer-wins, deletes final.

Call inside a transaction. Captured writes are silenced (``applying``) so nothing applied here is
captured again. A column's version is its own clock entry if it has one, else its row's; a change
wins a column only with a strictly newer (hlc, node id, value). A tombstone beats every version,
and a deleted id never comes back. See sync/README.md, "Merging" and "Deletes".
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from sqlite_utils import Database

from .capture import ROW, TOMBSTONE, _q
from .changes import Catalog, Change
from .state import applying, reserve_seq

Version = tuple  # (hlc, node id)


@dataclass
class ApplyResult:
    applied: int = 0  # changes that changed something here
    ignored: int = 0  # older than what is here, or for a deleted row
    quarantined: int = 0  # could not be applied; kept in _sync_quarantine
    max_hlc: int = 0
    received: int = 0  # changes in the changeset
    gone: list = field(default_factory=list)  # (table, pk) sent whole but deleted for ever here


class _Row:
    """A row being merged: what is here, and what this changeset does to it."""

    __slots__ = ("exists", "values", "clock", "deleted", "new", "remove", "changed",
                 "clock_dirty", "changes")

    def __init__(self):
        self.exists = False
        self.values: dict = {}
        self.clock: dict = {}  # col id -> (hlc, node id); ROW and TOMBSTONE included
        self.deleted = False  # tombstoned here (before or by this changeset)
        self.new = False
        self.remove = False  # to be deleted by this changeset
        self.changed: set = set()  # column names with new values
        self.clock_dirty: set = set()  # col ids whose entry changed or went
        self.changes: list = []


def _wins(incoming: Version, value, current: Version | None, current_value) -> bool:
    if current is None:
        return True
    if incoming != current:
        return incoming > current
    return repr(value) > repr(current_value)  # two copies of one database: same stamp


def apply(db: Database, catalog: Catalog, changes: list[Change], *, seq: str = "zero",
          origin: int | None = None, source: str = "hub", seen: bool = False,
          fresh: dict | None = None) -> ApplyResult:
    """Merge ``changes`` into the database.

    :param seq: "next" gives every written clock entry a new sequence number (the hub, whose
        sequence is the feed nodes pull); "zero" gives them 0 (a node: nothing to send back).
    :param origin: the pushing instance, recorded on the hub so it is not echoed back.
    :param seen: record the rows received (a node's full resynchronisation).
    :param fresh: {table: [columns]} this replica gained in an upgrade: a value here counts as
        older than any the hub sends, unless it was written here since (sync/README.md,
        "Upgrades").
    """
    result = ApplyResult(received=len(changes))
    if not changes:
        return result
    by_table: dict[str, list[Change]] = {}
    for change in changes:
        by_table.setdefault(change.table, []).append(change)
    with applying(db):
        for table, items in by_table.items():
            _apply_table(db, catalog, table, items, result, seq, origin, source, seen,
                         set((fresh or {}).get(table, ())))
    # Raise the clock, so an edit made here after this one is stamped later; and what was
    # applied can never move, so no correction of this replica's own stamps goes below it.
    db.execute("UPDATE _sync_state SET hlc = max(hlc, ?), fixed_hlc = max(fixed_hlc, ?) "
               "WHERE id = 1", [result.max_hlc, result.max_hlc])
    return result


def _apply_table(db, catalog: Catalog, table: str, items: list[Change], result: ApplyResult,
                 seq_mode: str, origin, source: str, seen: bool, fresh: set) -> None:
    tid = catalog.table_ids[table]
    col_ids = catalog.column_ids[table]
    rows = _load(db, table, tid, catalog.columns[table], {c.pk for c in items})
    top = result.max_hlc
    for change in items:
        if change.version[0] > top:
            top = change.version[0]
        for version in change.overrides.values():
            if version[0] > top:
                top = version[0]
        row = rows[change.pk]
        row.changes.append(change)
        if row.deleted and change.kind == "row" and source != "hub":
            # A centre inserted an id deleted everywhere (it purged or never saw the delete):
            # the id must live nowhere, and the centre is told to drop it (ack "gone").
            quarantine(db, source, table, change, "this id was deleted: make a new row")
            result.quarantined += 1
            result.gone.append((table, change.pk))
        elif row.deleted:
            result.ignored += 1
        elif change.kind == "delete":
            # A row made earlier in this same changeset was never written: just cancel it.
            row.remove = row.exists and not row.new
            row.deleted, row.exists, row.new = True, False, False
            row.changed.clear()
            row.clock_dirty |= set(row.clock)
            row.clock = {TOMBSTONE: change.version}
            row.clock_dirty.add(TOMBSTONE)
            result.applied += 1
        elif change.kind == "row":
            _merge_row(row, change, col_ids, result, fresh)
        elif not row.exists:
            quarantine(db, source, table, change, "a change to a row that is not here")
            result.quarantined += 1
        else:
            _merge_cell(row, change, col_ids, result, fresh)
    result.max_hlc = top
    _write(db, catalog, table, tid, rows, result, seq_mode, origin, source)
    if seen:
        db.conn.executemany("INSERT OR IGNORE INTO _sync_seen (tbl, pk) VALUES (?, ?)",
                       [(tid, pk) for pk, r in rows.items() if r.exists])


def _load(db, table: str, tid: int, columns: list[str], pks: set) -> dict[str, _Row]:
    rows = {pk: _Row() for pk in pks}
    pks = list(pks)
    select = ", ".join(_q(c) for c in columns)
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for record in db.execute(
                f"SELECT id{', ' + select if select else ''} FROM {_q(table)} "
                f"WHERE id IN ({marks})", chunk):
            rows[record[0]].exists = True
            rows[record[0]].values = dict(zip(columns, record[1:]))
        for pk, col, hlc, node in db.execute(
                f"SELECT c.pk, c.col, c.hlc, o.node_id FROM _sync_clock c JOIN _sync_origins o "
                f"ON o.id = c.node WHERE c.tbl = ? AND c.pk IN ({marks})", [tid, *chunk]):
            rows[pk].clock[col] = (hlc, node)
            if col == TOMBSTONE:
                rows[pk].deleted = True
        for (pk,) in db.execute(
                f"SELECT pk FROM _sync_deleted WHERE tbl = ? AND pk IN ({marks})", [tid, *chunk]):
            rows[pk].deleted = True
    return rows


def _effective(row: _Row, cid: int | None, fresh: bool = False) -> Version | None:
    """A column's version: its own entry, else its row's (not for a column new here)."""
    return row.clock.get(cid) or (None if fresh else row.clock.get(ROW))


def _merge_row(row: _Row, change: Change, col_ids: dict, result: ApplyResult,
               fresh: set) -> None:
    if not row.exists:
        row.exists = row.new = True
        row.values = dict(change.values)
        row.changed = set(change.values)
        row.clock = {ROW: change.version}
        row.clock.update({col_ids[c]: v for c, v in change.overrides.items() if c in col_ids})
        row.clock_dirty |= set(row.clock)
        result.applied += 1
        return
    # Each column: the incoming value and version against ours.
    final = {}
    won = False
    for name, cid in col_ids.items():
        mine = _effective(row, cid, name in fresh)
        if name in change.values:
            theirs = change.overrides.get(name, change.version)
            if _wins(theirs, change.values[name], mine, row.values.get(name)):
                if row.values.get(name) != change.values[name] or name not in row.values:
                    row.values[name] = change.values[name]
                    row.changed.add(name)
                final[cid] = theirs
                won = True
                continue
        final[cid] = mine
    base = max(row.clock.get(ROW) or change.version, change.version)
    _set_clock(row, base, final)
    result.applied += 1 if won else 0
    result.ignored += 0 if won else 1


def _merge_cell(row: _Row, change: Change, col_ids: dict, result: ApplyResult,
                fresh: set) -> None:
    (name, value), = change.values.items()
    cid = col_ids.get(name)
    mine = _effective(row, cid, name in fresh)
    if cid is None or not _wins(change.version, value, mine, row.values.get(name)):
        result.ignored += 1
        return
    if row.values.get(name) != value:
        row.values[name] = value
        row.changed.add(name)
    final = {c: _effective(row, c) for c in col_ids.values()}
    final[cid] = change.version
    _set_clock(row, row.clock.get(ROW), final)
    result.applied += 1


def _set_clock(row: _Row, base: Version | None, final: dict) -> None:
    """Keep the clock exact: a column has its own entry only where it differs from the row's."""
    new = {ROW: base} if base else {}
    new.update({cid: v for cid, v in final.items() if v is not None and v != base})
    for cid in set(row.clock) | set(new):
        if row.clock.get(cid) != new.get(cid):
            row.clock_dirty.add(cid)
    row.clock = new


def _write(db, catalog: Catalog, table: str, tid: int, rows: dict, result: ApplyResult,
           seq_mode: str, origin, source: str) -> None:
    failed = set()
    qtable = _q(table)
    for pk, row in rows.items():
        if row.remove:
            db.execute(f"DELETE FROM {qtable} WHERE id = ?", [pk])
    groups: dict[tuple, list] = {}
    for pk, row in rows.items():
        if row.exists and row.changed:
            # A new row is written whole (its columns in the changeset's order, the same for a
            # whole table); an existing one, the columns that changed.
            names = tuple(row.values) if row.new else tuple(sorted(row.changed))
            groups.setdefault((row.new, names), []).append(pk)
    for (is_new, names), pks in groups.items():
        if is_new:
            sql = (f"INSERT INTO {qtable} (id{''.join(', ' + _q(n) for n in names)}) "
                   f"VALUES (?{', ?' * len(names)})")
            params = [[pk, *rows[pk].values.values()] for pk in pks]  # in the order of names
        else:
            sql = (f"UPDATE {qtable} SET {', '.join(_q(n) + ' = ?' for n in names)} "
                   f"WHERE id = ?")
            params = [[*(rows[pk].values[n] for n in names), pk] for pk in pks]
        failed |= _write_rows(db, sql, pks, params, rows, table, source)
    result.quarantined += sum(len(rows[pk].changes) for pk in failed)
    result.applied -= sum(len(rows[pk].changes) for pk in failed)
    _write_clock(db, catalog, tid, {pk: r for pk, r in rows.items() if pk not in failed},
                 seq_mode, origin)


def _write_rows(db, sql, pks, params, rows, table, source) -> set:
    """Write a group of rows; a row the database refuses is quarantined, not retried for ever."""
    db.execute("SAVEPOINT sync_rows")
    try:
        db.conn.executemany(sql, params)
        db.execute("RELEASE sync_rows")
        return set()
    except sqlite3.DatabaseError:
        db.execute("ROLLBACK TO sync_rows")
        db.execute("RELEASE sync_rows")
    failed = set()
    for pk, values in zip(pks, params):
        db.execute("SAVEPOINT sync_row")
        try:
            db.conn.execute(sql, values)
            db.execute("RELEASE sync_row")
        except sqlite3.DatabaseError as e:
            db.execute("ROLLBACK TO sync_row")
            db.execute("RELEASE sync_row")
            for change in rows[pk].changes:
                quarantine(db, source, table, change, f"the database refused it: {e}")
            failed.add(pk)
    return failed


def _write_clock(db, catalog: Catalog, tid: int, rows: dict, seq_mode: str, origin) -> None:
    gone, put = [], []
    indexes: dict[str, int] = {}
    for pk, row in rows.items():
        clock = row.clock
        for cid in sorted(row.clock_dirty):
            version = clock.get(cid)
            if version is None:
                gone.append((tid, pk, cid))
                continue
            node = indexes.get(version[1])
            if node is None:
                node = indexes[version[1]] = catalog.node_idx(version[1])
            put.append([tid, pk, cid, version[0], node])
    db.conn.executemany("DELETE FROM _sync_clock WHERE tbl = ? AND pk = ? AND col = ?", gone)
    if not put:
        return
    if seq_mode == "next":
        first = reserve_seq(db, len(put))
        for i, entry in enumerate(put):
            entry += [first + i, origin]
    else:
        for entry in put:
            entry += [0, None]
    db.conn.executemany(
        "INSERT INTO _sync_clock (tbl, pk, col, hlc, node, seq, origin) VALUES (?, ?, ?, ?, ?, "
        "?, ?) ON CONFLICT (tbl, pk, col) DO UPDATE SET hlc = excluded.hlc, node = excluded.node, "
        "seq = excluded.seq, origin = excluded.origin", put)


def quarantine(db, source: str, table: str, change: Change, reason: str) -> None:
    record = {"kind": change.kind, "version": list(change.version), "values": change.values,
              "overrides": {k: list(v) for k, v in change.overrides.items()}}
    db.execute("INSERT INTO _sync_quarantine (at, source, table_name, pk, reason, change) "
               "VALUES (datetime('now'), ?, ?, ?, ?, ?)",
               [source, table, change.pk, reason, json.dumps(record, ensure_ascii=False)])
