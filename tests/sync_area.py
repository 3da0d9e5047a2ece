"""An area for the sync tests only: the three tables of tests/sync_world.py (a region-wide
table anyone may edit, one each centre keeps to itself, one shared by consent), so a real hub
app serves them. Tests add it with the AREAS setting; the suite never ships it."""

from __future__ import annotations

from sqlite_utils import Migrations

from .sync_world import SCHEMA, TABLES

MIGRATIONS = Migrations("synctest")
SYNCED_TABLES = TABLES


@MIGRATIONS()
def m0001_tables(db):
    db.executescript(SCHEMA)
