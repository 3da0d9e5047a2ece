"""The core's migration set ``kiosk``, and how the areas' sets took over the tables it made
before each area had its own (issue 15). Imports only sqlite-utils.

Each area brings its own ``Migrations`` set (``kiosk/README.md``). Synced tables (``SYNCED_TABLES``
of each area) carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid sync
batch could break: no foreign keys between synced tables, no unique natural keys, NOT NULL only
with a default. Local tables (sessions, PIN failures) may point at synced rows with cascading
foreign keys, since they never travel.
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("kiosk")

# Before each area had its own set, this set made every table, and databases made then record
# these names. The areas' migrations that took their tables over say which with ``adopts``: on
# such a database they are recorded as applied, never run (their tables are there). This code
# never runs these names again, and knows them.
RETIRED = ("m0001_centres_and_accounts", "m0002_sync_status", "m0003_account_photos",
           "m0004_courses")


def adopts(name: str):
    """Mark a migration as already made where the retired kiosk migration ``name`` ran."""
    if name not in RETIRED:
        raise ValueError(f"{name} is not a retired migration of the kiosk set")

    def mark(fn):
        fn.adopts = name
        return fn

    return mark


@MIGRATIONS()
@adopts("m0001_centres_and_accounts")
def m0005_demo_rows(db):
    db.executescript(
        """
        -- local: rows made by ``infocentre demo``, so they can be found and removed
        CREATE TABLE demo_rows (
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            PRIMARY KEY (table_name, row_id)
        ) STRICT;
        """
    )


@MIGRATIONS()
@adopts("m0002_sync_status")
def m0006_sync_status(db):
    db.executescript(
        """
        -- local: how syncing with the hub goes, for the kiosk's page and `sync status`
        CREATE TABLE sync_status (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error_code TEXT,     -- unreachable:<reason>, refused:<hub code>, error
            last_error_detail TEXT,   -- the technical message, for the log
            failures INTEGER NOT NULL DEFAULT 0,  -- failed attempts in a row
            next_attempt_at TEXT,     -- when the daemon tries again
            progress TEXT,            -- JSON, while a sync runs: sent, received, to_send
            last_report TEXT          -- JSON summary of the last attempt
        ) STRICT;
        INSERT INTO sync_status (id) VALUES (1);
        """
    )
