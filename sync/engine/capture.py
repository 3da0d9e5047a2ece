"""Change capture: plain-SQL triggers that record every insert, update and delete of a synced table
in ``_sync_clock``, and the installation of the engine into a database.

The triggers use no function the application registers, so writes made with the ``sqlite3``
command-line tool are captured too (DESIGN property 1). They stay silent while ``applying`` is set,
so changes applied from the hub are not captured again. See sync/README.md, "Capture".
"""

from __future__ import annotations

import json
import uuid

from sqlite_utils import Database

from .clock import STAMP_SQL
from .registry import UPLOAD_ANY, UPLOAD_HUB, SyncedTable, synced_columns
from .schema import MIGRATIONS
from .state import immediate, new_epoch

ROW, TOMBSTONE = 0, -1  # pseudo-columns of _sync_clock
REUSED_ID = ("this id was deleted and cannot be used again (make a new row; never INSERT OR "
             "REPLACE into a synced table)")


def install(db: Database, tables: list[SyncedTable], *, node_id: str, role: str) -> None:
    """Create the engine's tables, (re)create the capture triggers, adopt uncaptured rows.

    Safe to run at every start, from several processes at once.
    """
    with immediate(db):
        MIGRATIONS.apply(db)
        _ensure_state(db, node_id, role)
        shape = {}
        for spec in tables:
            table_id = intern_table(db, spec.name)
            columns = [(intern_column(db, table_id, name), name)
                       for name in synced_columns(db, spec)]
            shape[spec.name] = sorted(name for _, name in columns)
            _install_media_triggers(db, spec)
            statements = trigger_sql(table_id, spec, columns, role)
            if _installed(db, spec.name) == [s for s in statements if s.startswith("CREATE")]:
                continue  # capture was in place: every row written since has its clock entry
            for statement in statements:
                db.execute(statement)
            if not (role == "node" and spec.upload == UPLOAD_HUB):
                # A centre's copy of the hub's rows (a course pack installed from a USB stick)
                # stays uncaptured: only the hub may change them, and its copy wins on arrival.
                # Only when capture was missing or changed: the look reads the whole table.
                _adopt_rows(db, table_id, spec.name)
        _note_shape(db, shape)


def _ensure_state(db: Database, node_id: str, role: str) -> None:
    node_idx = intern_node(db, node_id)
    row = db.execute("SELECT node_id, role FROM _sync_state WHERE id = 1").fetchone()
    if row is None:
        db.execute("INSERT INTO _sync_state (id, node_id, node_idx, instance_id, role) "
                   "VALUES (1, ?, ?, ?, ?)", [node_id, node_idx, str(uuid.uuid4()), role])
    elif tuple(row) != (node_id, role):
        # Another identity (a centre joining a hub, or a copy of a template): a new instance.
        db.execute("UPDATE _sync_state SET node_id = ?, node_idx = ?, role = ?, instance_id = ?, "
                   "epoch = NULL WHERE id = 1", [node_id, node_idx, role, str(uuid.uuid4())])
    # The hub's epoch names its history; a node learns it from the hub.
    db.execute("UPDATE _sync_state SET epoch = ? WHERE id = 1 AND role = 'hub' AND epoch IS NULL",
               [new_epoch()])


def _note_shape(db: Database, shape: dict) -> None:
    """After an upgrade that added synced tables or columns, a node pulls everything again.

    An older node skips the tables and columns it does not know yet when it pulls (the hub may
    be upgraded first); once it knows them, it must fetch what it skipped. See sync/README.md,
    "Upgrades".
    """
    role, cursor, old, fresh = db.execute(
        "SELECT role, cursor, shape, fresh FROM _sync_state WHERE id = 1").fetchone()
    new = json.dumps(shape, sort_keys=True)
    if old == new:
        return
    db.execute("UPDATE _sync_state SET shape = ? WHERE id = 1", [new])
    if role != "node" or old is None or cursor == 0:
        return
    before = json.loads(old)
    fresh = json.loads(fresh) if fresh else {}
    gained = False
    for table, columns in shape.items():
        added = sorted(set(columns) - set(before.get(table, columns)))
        gained = gained or table not in before or bool(added)
        if added:
            fresh[table] = sorted(set(fresh.get(table, [])) | set(added))
    if gained:
        db.execute("UPDATE _sync_state SET cursor = 0, fresh = ? WHERE id = 1",
                   [json.dumps(fresh, sort_keys=True) if fresh else None])


def intern_table(db: Database, name: str) -> int:
    db.execute("INSERT OR IGNORE INTO _sync_tables (name) VALUES (?)", [name])
    return db.execute("SELECT id FROM _sync_tables WHERE name = ?", [name]).fetchone()[0]


def intern_column(db: Database, table_id: int, name: str) -> int:
    row = db.execute("SELECT id FROM _sync_columns WHERE table_id = ? AND name = ?",
                     [table_id, name]).fetchone()
    if row:
        return row[0]
    next_id = db.execute("SELECT coalesce(max(id), 0) + 1 FROM _sync_columns WHERE table_id = ?",
                         [table_id]).fetchone()[0]
    db.execute("INSERT INTO _sync_columns (table_id, id, name) VALUES (?, ?, ?)",
               [table_id, next_id, name])
    return next_id


def intern_node(db: Database, node_id: str) -> int:
    db.execute("INSERT OR IGNORE INTO _sync_origins (node_id) VALUES (?)", [node_id])
    return db.execute("SELECT id FROM _sync_origins WHERE node_id = ?", [node_id]).fetchone()[0]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def trigger_sql(table_id: int, spec: SyncedTable, columns: list[tuple[int, str]],
                role: str = "node") -> list[str]:
    """DROP and CREATE statements of the three capture triggers of one table, for a replica of
    ``role`` (a node's also refuse writes to other centres' rows; the hub's need not look)."""
    t, name = table_id, _q(spec.name)
    prefix = f"_sync_{spec.name}"
    quiet = "(SELECT applying FROM _sync_state WHERE id = 1) = 0"
    stamp = f"UPDATE _sync_state SET hlc = {STAMP_SQL}, seq = seq + 1 WHERE id = 1;"
    upsert = ("ON CONFLICT (tbl, pk, col) DO UPDATE SET hlc = excluded.hlc, "
              "node = excluded.node, seq = excluded.seq, origin = NULL;")

    def record(pk: str, col: int, where: str = "") -> str:
        return (f"INSERT INTO _sync_clock (tbl, pk, col, hlc, node, seq) SELECT {t}, {pk}, "
                f"{col}, hlc, node_idx, seq FROM _sync_state WHERE id = 1{where} {upsert}")

    changed = " OR ".join(f"OLD.{_q(c)} IS NOT NEW.{_q(c)}" for _, c in columns) or "0"
    # On a node, a row of another centre is read-only unless anyone may change the table: the
    # hub would refuse the change, and this copy would differ from every other for ever.
    guarded = spec.upload != UPLOAD_ANY and role == "node"
    own = "(SELECT node_id FROM _sync_state WHERE id = 1)"

    def guard(*rows: str) -> str:
        if not guarded:
            return ""
        foreign = " OR ".join(f"{r}.centre_id IS NOT {own}" for r in rows)
        return (f"SELECT RAISE(ABORT, 'this row belongs to another centre: it can only be "
                f"changed there') WHERE {foreign};")
    per_column = "\n  ".join(
        record("NEW.id", col, f" AND OLD.{_q(c)} IS NOT NEW.{_q(c)}") for col, c in columns)
    return [
        f"DROP TRIGGER IF EXISTS {_q(prefix + '_insert')}",
        f"DROP TRIGGER IF EXISTS {_q(prefix + '_update')}",
        f"DROP TRIGGER IF EXISTS {_q(prefix + '_delete')}",
        f"""CREATE TRIGGER {_q(prefix + '_insert')} AFTER INSERT ON {name} WHEN {quiet}
BEGIN
  SELECT RAISE(ABORT, '{REUSED_ID}')
    WHERE EXISTS (SELECT 1 FROM _sync_clock WHERE tbl = {t} AND pk = NEW.id AND col = {TOMBSTONE})
       OR EXISTS (SELECT 1 FROM _sync_deleted WHERE tbl = {t} AND pk = NEW.id);
  {guard("NEW")}
  {stamp}
  {record("NEW.id", ROW)}
END""",
        f"""CREATE TRIGGER {_q(prefix + '_update')} AFTER UPDATE ON {name}
WHEN {quiet} AND (OLD.id IS NOT NEW.id OR {changed})
BEGIN
  SELECT RAISE(ABORT, 'the id of a synced row cannot change') WHERE OLD.id IS NOT NEW.id;
  {guard("OLD", "NEW")}
  {stamp}
  {per_column}
END""",
        f"""CREATE TRIGGER {_q(prefix + '_delete')} AFTER DELETE ON {name} WHEN {quiet}
BEGIN
  {guard("OLD")}
  {stamp}
  DELETE FROM _sync_clock WHERE tbl = {t} AND pk = OLD.id;
  {record("OLD.id", TOMBSTONE)}
END""",
    ]


# Media no row names any more (sync/README.md, "Media"): a blob a row named and no longer does
# is noted in _sync_media_orphans, whoever wrote the change (these triggers also fire while
# changes from elsewhere are applied, and when rows leave this replica), for sync.media.sweep.
NOW_MS_SQL = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"


def media_trigger_sql(spec: SyncedTable) -> list[str]:
    """DROP and CREATE statements of the two triggers noting the blobs a table's rows stop
    naming (only the DROPs for a table without media columns)."""
    prefix = f"_syncgc_{spec.name}"  # never a capture trigger's name (those are _sync_...)
    drops = [f"DROP TRIGGER IF EXISTS {_q(prefix + '_delete')}",
             f"DROP TRIGGER IF EXISTS {_q(prefix + '_update')}"]
    if not spec.media:
        return drops

    def note(column: str, changed: bool) -> str:
        old = f"OLD.{_q(column)}"
        where = f" AND {old} IS NOT NEW.{_q(column)}" if changed else ""
        return (f"INSERT INTO _sync_media_orphans (sha, seq, at_ms) SELECT {old}, NULL, "
                f"{NOW_MS_SQL} WHERE {old} IS NOT NULL{where} ON CONFLICT (sha) DO UPDATE SET "
                f"seq = NULL, at_ms = excluded.at_ms;")
    name = _q(spec.name)
    return drops + [
        f"CREATE TRIGGER {_q(prefix + '_delete')} AFTER DELETE ON {name}\nBEGIN\n  "
        + "\n  ".join(note(c, False) for c in spec.media) + "\nEND",
        f"CREATE TRIGGER {_q(prefix + '_update')} AFTER UPDATE OF "
        f"{', '.join(_q(c) for c in spec.media)} ON {name}\nBEGIN\n  "
        + "\n  ".join(note(c, True) for c in spec.media) + "\nEND",
    ]


def _install_media_triggers(db: Database, spec: SyncedTable) -> None:
    """The media triggers of one table, and an index on each media column (the sweep and the
    hub's scope check of a blob look rows up by the SHA-256 they name)."""
    statements = media_trigger_sql(spec)
    prefix = f"_syncgc_{spec.name}"
    installed = [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?) ORDER BY "
        "name = ?", [prefix + "_delete", prefix + "_update", prefix + "_update"])]
    if installed != [s for s in statements if s.startswith("CREATE")]:
        for statement in statements:
            db.execute(statement)
    for column in spec.media:
        db.execute(f"CREATE INDEX IF NOT EXISTS {_q(f'_syncgc_{spec.name}_{column}')} ON "
                   f"{_q(spec.name)} ({_q(column)})")


def _installed(db: Database, table: str) -> list[str]:
    """The CREATE statements of this table's capture triggers as they are in the database."""
    prefix = f"_sync_{table}_"
    return [sql for (sql,) in db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?) ORDER BY "
        "CASE name WHEN ? THEN 0 WHEN ? THEN 1 ELSE 2 END",
        [prefix + "insert", prefix + "update", prefix + "delete", prefix + "insert",
         prefix + "update"])]


def _adopt_rows(db: Database, table_id: int, table: str) -> None:
    """Rows written before capture existed (or with triggers dropped) get a row version now."""
    missing = db.execute(
        f"SELECT count(*) FROM {_q(table)} r WHERE NOT EXISTS (SELECT 1 FROM _sync_clock c "
        f"WHERE c.tbl = ? AND c.pk = r.id)", [table_id]).fetchone()[0]
    if not missing:
        return
    db.execute(f"UPDATE _sync_state SET hlc = {STAMP_SQL} WHERE id = 1")
    db.execute(
        f"INSERT INTO _sync_clock (tbl, pk, col, hlc, node, seq) "
        f"SELECT ?, r.id, {ROW}, s.hlc, s.node_idx, s.seq + row_number() OVER () "
        f"FROM {_q(table)} r, _sync_state s WHERE s.id = 1 AND NOT EXISTS "
        f"(SELECT 1 FROM _sync_clock c WHERE c.tbl = ? AND c.pk = r.id)", [table_id, table_id])
    db.execute("UPDATE _sync_state SET seq = seq + ? WHERE id = 1", [missing])
