"""Which tables are synced, with which scope, and a check that their schema can be synced.

A synced table needs a text primary key ``id`` (a UUID born where the row is born) and a
``centre_id`` naming the owning centre (DESIGN, Data). It must not hold constraints that a valid
batch from another replica could break: no foreign key to another table, no unique index other
than the primary key, and no NOT NULL column without a default (a column can arrive before the
rest of its row). Columns listed in ``local_columns`` never leave the centre (PIN hashes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

REGION = "region"  # every node receives every row
OWNER = "owner"  # only the owning centre (and the hub) holds the row


@dataclass(frozen=True)
class SyncedTable:
    name: str
    scope: str = OWNER
    local_columns: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.scope not in (REGION, OWNER):
            raise ValueError(f"unknown scope {self.scope!r} for table {self.name}")


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
    for col in columns.values():
        if col["notnull"] and col["dflt_value"] is None and not col["pk"]:
            found.append(problem(f"column {col['name']} is NOT NULL without a default"))
    if list(db.query(f"PRAGMA foreign_key_list([{spec.name}])")):
        found.append(problem("has a foreign key"))
    for index in db.query(f"PRAGMA index_list([{spec.name}])"):
        if index["unique"] and index["origin"] != "pk":
            found.append(problem(f"has a unique index {index['name']}"))
    return found
