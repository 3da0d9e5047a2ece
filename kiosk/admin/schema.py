"""The admin area's migration set: the centres of the region.
Imports only sqlite-utils and ``kiosk.schema`` (``adopts``).

Synced tables carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid
sync batch could break (``kiosk/schema.py``).
"""

from sqlite_utils import Migrations

from ..schema import adopts

MIGRATIONS = Migrations("admin")


@MIGRATIONS()
@adopts("m0001_centres_and_accounts")
def m0001_centres(db):
    db.executescript(
        """
        -- synced: owned by the hub, one row per centre (the hub included)
        CREATE TABLE centres (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'node',
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        """
    )


@MIGRATIONS()
def m0002_region_settings(db):
    db.executescript(
        """
        -- synced region-wide, written by the hub only (DESIGN, Data: the currency of prices);
        -- id: UUIDv5 of the key
        CREATE TABLE region_settings (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            key TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        """
    )
