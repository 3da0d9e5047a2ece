"""Centres: one row per installation of the region, the hub included. Imports ``kiosk.data``
and ``sync.engine`` only.

The centres table is synced region-wide and owned by the hub (DESIGN, Data); until a centre joins
a hub, its own row is owned by itself.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlite_utils import Database

from sync.engine import REGION, UPLOAD_HUB, SyncedTable, nodes

from ..data import iso, writing
from ..errors import NotFound

# Every centre knows every centre; only the hub changes them.
SYNCED_TABLES = [SyncedTable("centres", scope=REGION, upload=UPLOAD_HUB)]


def add_centre(db: Database, *, centre_id: str, name: str, role: str, now: dt.datetime,
               owner_id: str | None = None) -> dict:
    db.table("centres").insert({
        "id": centre_id, "centre_id": owner_id or centre_id, "name": name, "role": role,
        "created_at": iso(now), "updated_at": iso(now)})
    return get_centre(db, centre_id)


def get_centre(db: Database, centre_id: str) -> dict:
    rows = list(db.query("SELECT * FROM centres WHERE id = ?", [centre_id]))
    if not rows:
        raise NotFound("no such centre")
    return rows[0]


# The hub's registry of centres: a centres row (synced, region-wide) and its credentials.


def register_node(db: Database, *, name: str, hub_id: str, now: dt.datetime) -> dict:
    node_id = str(uuid.uuid4())
    with writing(db):
        add_centre(db, centre_id=node_id, name=name, role="node", now=now, owner_id=hub_id)
        generation = nodes.register_node(db, node_id, iso(now))
    return {"node_id": node_id, "generation": generation}


def revoke_node(db: Database, node_id: str, now: dt.datetime) -> bool:
    """Stop a centre's token working at once: the hub answers it 'revoked'."""
    return nodes.revoke_node(db, node_id, iso(now))


def list_nodes(db: Database) -> list[dict]:
    """The registered centres with their names, by name."""
    names = dict(db.execute("SELECT id, name FROM centres").fetchall())
    found = [{"node_id": n["node_id"], "name": names.get(n["node_id"]), **n}
             for n in nodes.list_nodes(db)]
    return sorted(found, key=lambda n: (n["name"] is not None, n["name"] or ""))
