"""The kiosk schema as an ordered set of migrations (``m0001_...``); imports only sqlite-utils.

Synced tables (see ``SYNCED_TABLES`` in each area's models) carry a text ``id`` and the owning
``centre_id``, and avoid constraints a valid sync batch could break: no foreign keys between
synced tables, no unique natural keys, NOT NULL only with a default. Local tables (sessions, PIN
failures) may point at synced rows with cascading foreign keys, since they never travel.
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("kiosk")


@MIGRATIONS()
def m0001_centres_and_accounts(db):
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

        -- synced: centre_id is the person's home centre; pin_hash never leaves it
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'villager',
            lang TEXT,
            pin_hash TEXT,
            password_hash TEXT,
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX accounts_by_centre_name ON accounts (centre_id, name);

        -- local: signed-in sessions of this installation (the cookie holds the token, the
        -- database only its SHA-256, so a copied database signs nobody in)
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX sessions_by_account ON sessions (account_id);

        -- local: wrong PINs in a row, and the lock they caused
        CREATE TABLE pin_failures (
            account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT
        ) STRICT;

        -- local: rows made by ``infocentre demo``, so they can be found and removed
        CREATE TABLE demo_rows (
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            PRIMARY KEY (table_name, row_id)
        ) STRICT;
        """
    )


@MIGRATIONS()
def m0002_sync_status(db):
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


@MIGRATIONS()
def m0003_account_photos(db):
    # synced: the SHA-256 of a person's photo in the media store (sync.media), shown on the
    # sign-in list for people who read names slowly; the photo travels where the account goes.
    db.execute("ALTER TABLE accounts ADD COLUMN photo TEXT")
