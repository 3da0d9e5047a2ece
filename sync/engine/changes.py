"""Changesets: the clock entries of a batch with their current values, as compact JSON, and the
strict decoding of changesets received from another replica.

Wire form (sync/README.md, "Wire format")::

    {"nodes": [node ids], "base": hlc, "tables": [{
        "name": "accounts", "columns": ["centre_id", "name", ...],
        "rows":    [[pk, hlc - base, node#, [values...], [[column#, hlc - base, node#], ...]]],
        "cells":   [[pk, column#, hlc - base, node#, value]],
        "deletes": [[pk, hlc - base, node#]]}]}

A row carries its row version and every column's current value; columns changed since the row
was made carry their own, newer, version. Tables and columns travel by name, never by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlite_utils import Database

from ..errors import Malformed
from .capture import ROW, TOMBSTONE, _q
from .registry import SyncedTable, synced_columns

MAX_PK = 200
INT64 = (-2**63, 2**63 - 1)


@dataclass(slots=True)
class Entry:
    """One clock entry: a row version (col 0), a cell version, or a tombstone (col -1)."""

    tbl: int
    pk: str
    col: int
    hlc: int
    node: int
    seq: int


@dataclass(slots=True)
class Change:
    """A decoded change: kind is "row", "cell" or "delete"; versions are (hlc, node id)."""

    kind: str
    table: str
    pk: str
    version: tuple[int, str]
    values: dict = field(default_factory=dict)  # row: every column; cell: one column
    overrides: dict = field(default_factory=dict)  # row: column -> newer version


class Catalog:
    """Names of tables, columns and nodes, and their local ids, for one database."""

    def __init__(self, db: Database, tables: list[SyncedTable]):
        self.specs = {t.name: t for t in tables}
        self.table_ids = {}
        self.columns = {}  # table name -> [column names that travel]
        self.column_ids = {}  # table name -> {column name: id}
        for spec in tables:
            tid = db.execute("SELECT id FROM _sync_tables WHERE name = ?",
                             [spec.name]).fetchone()[0]
            self.table_ids[spec.name] = tid
            self.columns[spec.name] = synced_columns(db, spec)
            self.column_ids[spec.name] = dict(
                (name, cid) for cid, name in db.execute(
                    "SELECT id, name FROM _sync_columns WHERE table_id = ?", [tid]))
        self.table_names = {tid: name for name, tid in self.table_ids.items()}
        self.column_names = {name: {cid: c for c, cid in ids.items()}
                             for name, ids in self.column_ids.items()}
        self._nodes = dict(db.execute("SELECT id, node_id FROM _sync_origins"))
        self._node_ids = {v: k for k, v in self._nodes.items()}
        self.db = db

    def node_id(self, idx: int) -> str:
        if idx not in self._nodes:
            self._nodes.update(self.db.execute("SELECT id, node_id FROM _sync_origins"))
        return self._nodes[idx]

    def node_idx(self, node_id: str) -> int:
        if node_id not in self._node_ids:
            self.db.execute("INSERT OR IGNORE INTO _sync_origins (node_id) VALUES (?)",
                            [node_id])
            idx = self.db.execute("SELECT id FROM _sync_origins WHERE node_id = ?",
                                  [node_id]).fetchone()[0]
            self._node_ids[node_id] = idx
            self._nodes[idx] = node_id
        return self._node_ids[node_id]


def encode(db: Database, catalog: Catalog, entries: list[Entry]) -> dict:
    """The changeset of ``entries``, with the current values of their rows."""
    nodes: dict[str, int] = {}  # node id -> its number on the wire
    wire: dict[int, int] = {}  # local node index -> its number on the wire

    def node(idx: int) -> int:
        number = wire.get(idx)
        if number is None:
            number = wire[idx] = nodes.setdefault(catalog.node_id(idx), len(nodes))
        return number

    by_table: dict[int, list[Entry]] = {}
    for e in entries:
        by_table.setdefault(e.tbl, []).append(e)
    read = []
    for tid, items in by_table.items():
        table = catalog.table_names[tid]
        columns = catalog.columns[table]
        names = catalog.column_names[table]
        row_pks = [e.pk for e in items if e.col == ROW]
        cell_entries = [e for e in items if e.col > 0 and names.get(e.col) in columns]
        wanted = set(row_pks) | {e.pk for e in cell_entries}
        read.append((table, items, row_pks, cell_entries, _read_rows(db, table, columns, wanted),
                     _own_versions(db, tid, row_pks)))
    # Stamps travel as differences from the smallest: a whole row carries its columns' own
    # versions, which may be older than every entry sent (one acknowledged long ago, or moved
    # back when a fast clock was put right), so they count too.
    base = min([e.hlc for e in entries] + [h for *_, overrides in read
                                           for versions in overrides.values()
                                           for _c, h, _n in versions], default=0)
    blocks = []
    for table, items, row_pks, cell_entries, current, overrides in read:
        columns = catalog.columns[table]
        index = {name: i for i, name in enumerate(columns)}
        names = catalog.column_names[table]
        rows, cells, deletes = [], [], []
        for e in items:
            if e.col == TOMBSTONE:
                deletes.append([e.pk, e.hlc - base, node(e.node)])
            elif e.col == ROW and e.pk in current:
                newer = overrides.get(e.pk)
                if newer:
                    newer = [[index[names[c]], h - base, node(n)]
                             for c, h, n in newer if names.get(c) in index]
                rows.append([e.pk, e.hlc - base, node(e.node), current[e.pk], newer or []])
        rows_here = set(row_pks)
        for e in cell_entries:
            if e.pk in current and e.pk not in rows_here:
                at = index[names[e.col]]
                cells.append([e.pk, at, e.hlc - base, node(e.node), current[e.pk][at]])
        block = {"name": table, "columns": columns}
        for key, found in (("rows", rows), ("cells", cells), ("deletes", deletes)):
            if found:
                block[key] = found
        blocks.append(block)
    return {"nodes": list(nodes), "base": base, "tables": blocks}


def _read_rows(db: Database, table: str, columns: list[str], pks) -> dict[str, list]:
    found = {}
    select = ", ".join(_q(c) for c in columns) or "NULL"
    pks = list(pks)
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for row in db.execute(f"SELECT id, {select} FROM {_q(table)} WHERE id IN ({marks})",
                              chunk):
            found[row[0]] = row[1:]
    return found


def _own_versions(db: Database, tid: int, pks: list[str]) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    for start in range(0, len(pks), 500):
        chunk = pks[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for pk, col, hlc, node in db.execute(
                f"SELECT pk, col, hlc, node FROM _sync_clock WHERE tbl = ? AND col > 0 "
                f"AND pk IN ({marks})", [tid, *chunk]):
            found.setdefault(pk, []).append((col, hlc, node))
    return found


def count(changeset: dict) -> int:
    """Row changes in a changeset (a whole row, a cell or a delete each count one)."""
    return sum(len(b.get(k, ())) for b in changeset.get("tables", ())
               for k in ("rows", "cells", "deletes"))


def decode(changeset, catalog: Catalog, *, lenient: bool = False) -> list[Change]:
    """Check a received changeset thoroughly and turn it into Changes; Malformed otherwise.

    ``lenient`` (a node reading the hub's pull) skips tables and columns this replica does not
    know: the hub may run a newer version. The hub itself is strict: what it cannot store, it
    refuses, and the node keeps it until the hub is upgraded.
    """
    if not isinstance(changeset, dict):
        raise Malformed("changes must be an object")
    nodes = changeset.get("nodes", [])
    base = changeset.get("base", 0)
    blocks = changeset.get("tables", [])
    if not (isinstance(nodes, list) and all(is_id(n) for n in nodes)):
        raise Malformed("nodes must be a list of node ids")
    if not is_int(base):
        raise Malformed("base must be a non-negative integer")
    if not isinstance(blocks, list):
        raise Malformed("tables must be a list")
    changes = []
    for block in blocks:
        changes.extend(_decode_block(block, nodes, base, catalog, lenient))
    return changes


BAD_VALUES = ("values must be text, numbers or null that SQLite can store (whole numbers of "
              "64 bits, finite numbers, Unicode text)")
MAX_STAMP = 2**62


def _decode_block(block, nodes, base, catalog: Catalog, lenient: bool) -> list[Change]:
    # Runs for every change a replica receives: plain loops, checks inlined.
    if not isinstance(block, dict) or not isinstance(block.get("name"), str):
        raise Malformed("each table must be an object with a name")
    table = block["name"]
    if table not in catalog.specs:
        if lenient:
            return []
        raise Malformed(f"unknown table {table!r}: is the hub older than this centre? "
                        f"Upgrade the hub first.")
    columns = block.get("columns", [])
    known = set(catalog.columns[table])
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise Malformed(f"{table}: columns must be a list of names")
    unknown = {c for c in columns if c not in known}
    if unknown and not lenient:
        raise Malformed(f"{table}: unknown or local columns {sorted(unknown)}: is the hub older "
                        f"than this centre? Upgrade the hub first.")
    if len(set(columns)) != len(columns):
        raise Malformed(f"{table}: a column is named twice")
    width, count_nodes = len(columns), len(nodes)

    def version(dh, n):
        if type(dh) is not int or type(n) is not int or not (
                0 <= dh < MAX_STAMP and 0 <= n < count_nodes):
            raise Malformed(f"{table}: bad version")
        return (base + dh, nodes[n])

    out = []
    append = out.append
    for item in _list(block.get("rows", []), table, "rows"):
        if not (type(item) is list and len(item) == 5):
            raise Malformed(f"{table}: bad row")
        pk, dh, n, values, newer = item
        if not (_is_pk(pk) and type(values) in (list, tuple) and len(values) == width
                and type(newer) is list):
            raise Malformed(f"{table}: bad row")
        if not _all_values(values):
            raise Malformed(f"{table}: {BAD_VALUES}")
        overrides = {}
        for o in newer:
            if not (type(o) is list and len(o) == 3 and type(o[0]) is int
                    and 0 <= o[0] < width):
                raise Malformed(f"{table}: bad column version")
            overrides[columns[o[0]]] = version(o[1], o[2])
        if unknown:
            values = {c: v for c, v in zip(columns, values) if c not in unknown}
            overrides = {c: v for c, v in overrides.items() if c not in unknown}
        else:
            values = dict(zip(columns, values))
        append(Change("row", table, pk, version(dh, n), values, overrides))
    for item in _list(block.get("cells", []), table, "cells"):
        if not (type(item) is list and len(item) == 5 and _is_pk(item[0])
                and type(item[1]) is int and 0 <= item[1] < width):
            raise Malformed(f"{table}: bad cell")
        if not _all_values((item[4],)):
            raise Malformed(f"{table}: {BAD_VALUES}")
        if columns[item[1]] in unknown:
            version(item[2], item[3])
            continue
        append(Change("cell", table, item[0], version(item[2], item[3]),
                      {columns[item[1]]: item[4]}))
    for item in _list(block.get("deletes", []), table, "deletes"):
        if not (type(item) is list and len(item) == 3 and _is_pk(item[0])):
            raise Malformed(f"{table}: bad delete")
        append(Change("delete", table, item[0], version(item[1], item[2])))
    return out


def _all_values(values) -> bool:
    """Every value one SQLite stores as it came (see ``is_value``), checked in one loop."""
    for v in values:
        kind = type(v)
        if kind is str:
            if not v.isascii():
                try:
                    v.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif kind is int:
            if not INT64[0] <= v <= INT64[1]:
                return False
        elif v is None:
            continue
        elif kind is float:
            if not math.isfinite(v):
                return False
        else:
            return False
    return True


def _list(value, table, key):
    if not isinstance(value, list):
        raise Malformed(f"{table}: {key} must be a list")
    return value


def is_int(value) -> bool:
    """A whole number a sequence, stamp or count can be: 0 <= value < 2**62 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62


def is_value(value) -> bool:
    """A value SQLite stores as it came: null, a 64-bit whole number (not a bool), a finite
    number, or Unicode text (no lone surrogate, which has no UTF-8 form)."""
    return _all_values((value,))


def is_text(value: str) -> bool:
    """Text with a UTF-8 form (JSON can carry lone surrogates; SQLite cannot store them)."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_pk(value) -> bool:
    return type(value) is str and 0 < len(value) <= MAX_PK and (value.isascii() or is_text(value))


def is_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 64 and is_text(value)
