"""Which tables are synced, who receives their rows (scope), who may change them (upload), and a
check that their schema can be synced.

A synced table needs a text primary key ``id`` (a UUID born where the row is born) and a
``centre_id`` naming the owning centre (DESIGN, Data). It must not hold constraints that a valid
batch from another replica could break: no foreign key to another table, no unique index other
than the primary key, and no NOT NULL column without a default (a column can arrive before the
rest of its row). Columns listed in ``local_columns`` never leave the centre (PIN hashes): they are
not captured, so they are never sent. Columns listed in ``media`` hold the SHA-256 of a blob
(sync.media), which travels to wherever the row goes.

Scopes (see sync/README.md, "Scopes"): the hub puts every row in one or more *buckets*, computed
from the row's current values by SQL expressions over the alias ``r``. A node receives the rows of
the buckets it subscribes to: ``region`` and ``centre:<its id>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database


@dataclass(frozen=True)
class Scope:
    """Which nodes receive a row: each expression gives a bucket name (or NULL for none)."""

    name: str
    buckets: tuple[str, ...]


REGION = Scope("region", ("'region'",))
OWNER = Scope("owner", ("'centre:' || r.centre_id",))


def consent(column: str, *public_values: str) -> Scope:
    """The owning centre always; every centre when ``column`` holds one of ``public_values``."""
    values = ", ".join("'" + v.replace("'", "''") + "'" for v in public_values)
    return Scope(f"consent({column})", (
        "'centre:' || r.centre_id",
        f'CASE WHEN r."{column}" IN ({values}) THEN \'region\' END'))


def owner_and(column: str) -> Scope:
    """The owning centre and the centre named in ``column`` (e.g. the seller of an order)."""
    return Scope(f"owner_and({column})", (
        "'centre:' || r.centre_id", f"'centre:' || r.\"{column}\""))


def node_buckets(node_id: str) -> tuple[str, str]:
    """The buckets a node subscribes to."""
    return ("region", f"centre:{node_id}")


# Who may change a table's rows and have the change accepted by the hub.
UPLOAD_OWNER = "owner"  # the centre named in the row's centre_id
UPLOAD_HUB = "hub"  # only the hub (changes sent by nodes are quarantined)
UPLOAD_ANY = "any"  # any centre


@dataclass(frozen=True)
class SyncedTable:
    name: str
    scope: Scope = OWNER
    local_columns: tuple[str, ...] = field(default=())
    upload: str = UPLOAD_OWNER
    media: tuple[str, ...] = field(default=())  # columns holding a blob's SHA-256 (sync.media)

    def __post_init__(self):
        if not isinstance(self.scope, Scope):
            raise ValueError(f"the scope of {self.name} must be a Scope")
        if self.upload not in (UPLOAD_OWNER, UPLOAD_HUB, UPLOAD_ANY):
            raise ValueError(f"unknown upload rule {self.upload!r} for table {self.name}")


@dataclass(frozen=True)
class SchemaProblem:
    table: str
    problem: str

    def __str__(self):
        return f"{self.table}: {self.problem}"


def check_schema(db: Database, tables: list[SyncedTable]) -> list[SchemaProblem]:
    """Every way in which ``tables`` as they exist in ``db`` could not be synced safely."""
    problems = []
    seen = set()
    for spec in tables:
        if spec.name in seen:
            problems.append(SchemaProblem(spec.name, "registered twice"))
        seen.add(spec.name)
        problems.extend(_check_table(db, spec))
    return problems


def _check_table(db: Database, spec: SyncedTable) -> list[SchemaProblem]:
    def problem(text):
        return SchemaProblem(spec.name, text)

    if not db.table(spec.name).exists():
        return [problem("no such table")]
    columns = {c["name"]: c for c in db.query(f"PRAGMA table_xinfo([{spec.name}])")}
    found = []
    id_col = columns.get("id")
    if not id_col or id_col["pk"] != 1 or id_col["type"].upper() != "TEXT":
        found.append(problem("needs a TEXT primary key named id"))
    if sum(1 for c in columns.values() if c["pk"]) > 1:
        found.append(problem("needs a single-column primary key"))
    if "centre_id" not in columns:
        found.append(problem("needs a centre_id column"))
    for name in spec.local_columns:
        if name not in columns:
            found.append(problem(f"local column {name} does not exist"))
    for name in spec.media:
        if name not in columns or name in spec.local_columns or name in ("id", "centre_id"):
            found.append(problem(f"media column {name} is not a synced column"))
    for col in columns.values():
        if col["notnull"] and col["dflt_value"] is None and not col["pk"]:
            found.append(problem(f"column {col['name']} is NOT NULL without a default"))
    if list(db.query(f"PRAGMA foreign_key_list([{spec.name}])")):
        found.append(problem("has a foreign key"))
    for index in db.query(f"PRAGMA index_list([{spec.name}])"):
        if index["unique"] and index["origin"] != "pk":
            found.append(problem(f"has a unique index {index['name']}"))
    return found


def synced_columns(db: Database, spec: SyncedTable) -> list[str]:
    """The columns that travel: every column but ``id`` and the local ones, in table order."""
    return [c["name"] for c in db.query(f"PRAGMA table_info([{spec.name}])")
            if c["name"] != "id" and c["name"] not in spec.local_columns]
