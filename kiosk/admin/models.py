"""Centres: one row per installation of the region, the hub included. Imports ``kiosk.data``
and ``sync.engine`` only.

The centres table is synced region-wide and owned by the hub (DESIGN, Data); until a centre joins
a hub, its own row is owned by itself.
"""

from __future__ import annotations

import datetime as dt

from sqlite_utils import Database

from sync.engine import REGION, SyncedTable

from ..data import iso
from ..errors import NotFound

SYNCED_TABLES = [SyncedTable("centres", scope=REGION)]


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
