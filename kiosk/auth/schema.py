"""The auth area's migration set: accounts, sessions and PIN failures.
Imports only sqlite-utils and ``kiosk.schema`` (``adopts``).

Synced tables carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid
sync batch could break (``kiosk/schema.py``).
"""

from sqlite_utils import Migrations

from ..schema import adopts

MIGRATIONS = Migrations("auth")


@MIGRATIONS()
@adopts("m0001_centres_and_accounts")
def m0001_accounts(db):
    db.executescript(
        """
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
        """
    )


@MIGRATIONS()
@adopts("m0003_account_photos")
def m0002_account_photos(db):
    # synced: the SHA-256 of a person's photo in the media store (sync.media), shown on the
    # sign-in list for people who read names slowly; the photo travels where the account goes.
    db.execute("ALTER TABLE accounts ADD COLUMN photo TEXT")


@MIGRATIONS()
def m0003_account_second_language(db):
    # synced: the language a person reads when a course has no text in the page's language
    # (kiosk.i18n.text_languages); NULL means Spanish. It travels with the account, so a
    # person reads the same fallback at every centre.
    db.execute("ALTER TABLE accounts ADD COLUMN second_lang TEXT")
