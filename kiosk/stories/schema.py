"""The stories area's migration set: stories, their photos, the hub's record of what it
collected, and the local search index. Imports only sqlite-utils.

Synced tables carry a text ``id`` and the owning ``centre_id`` and avoid constraints a valid sync
batch could break (``kiosk/schema.py``). ``shared`` (1 when the story is approved and its teller
allowed the region to hear it) is written by the owning centre on the story and on each of its
photos in one transaction, since a row's scope is computed from that row alone
(``kiosk/stories/README.md``).
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("stories")


@MIGRATIONS()
def m0001_stories(db):
    db.executescript(
        """
        -- synced: always with the hub, with every centre once shared; written by centre_id
        CREATE TABLE stories (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            teller_id TEXT NOT NULL DEFAULT '',      -- an account, or '' for a named person
            teller_name TEXT NOT NULL DEFAULT '',
            recorded_by TEXT NOT NULL DEFAULT '',    -- the account that recorded it
            recorded_by_name TEXT NOT NULL DEFAULT '',
            audio TEXT,                              -- SHA-256 of the recording, or NULL
            audio_kind TEXT NOT NULL DEFAULT '',     -- audio/webm, audio/ogg, audio/mpeg, audio/wav
            audio_bytes INTEGER NOT NULL DEFAULT 0,
            audio_seconds INTEGER NOT NULL DEFAULT 0, -- 0 when not known
            body TEXT NOT NULL DEFAULT '',           -- the story as written
            transcript TEXT NOT NULL DEFAULT '',     -- what the recording says
            village TEXT NOT NULL DEFAULT '',
            year INTEGER NOT NULL DEFAULT 0,         -- 0: not known (then maybe the decade)
            decade INTEGER NOT NULL DEFAULT 0,       -- 1970 for the 1970s; 0: not known
            lang TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '[]',         -- JSON array of lowercase words
            consent TEXT NOT NULL DEFAULT 'centre',  -- centre, region, public
            consent_at TEXT NOT NULL DEFAULT '',
            consent_by TEXT NOT NULL DEFAULT '',     -- the name of who took it
            status TEXT NOT NULL DEFAULT 'pending',  -- pending, returned, approved, hidden
            review_note TEXT NOT NULL DEFAULT '',
            reviewed_by TEXT NOT NULL DEFAULT '',
            reviewed_at TEXT NOT NULL DEFAULT '',
            shared INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX stories_by_status ON stories (status, created_at);
        CREATE INDEX stories_by_centre ON stories (centre_id, status);
        CREATE INDEX stories_by_village ON stories (village);
        CREATE INDEX stories_by_decade ON stories (decade);
        CREATE INDEX stories_by_teller ON stories (teller_id);
        CREATE INDEX stories_by_recorder ON stories (recorded_by);
        -- a story's photos in order; removing one deletes its row (its id is random)
        CREATE TABLE story_photos (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            story_id TEXT NOT NULL DEFAULT '',
            photo TEXT,
            position INTEGER NOT NULL DEFAULT 0,
            shared INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX story_photos_by_story ON story_photos (story_id, position);

        -- local, at the hub: the stories regional staff have collected
        CREATE TABLE story_collected (
            story_id TEXT PRIMARY KEY,
            collected_at TEXT NOT NULL,
            collected_by TEXT NOT NULL DEFAULT ''
        ) STRICT;

        -- local: the search index, accents and case ignored, kept by triggers (rows a sync
        -- applies are indexed as they land). Rows are found by story_id, not rowid: VACUUM
        -- (and so a backup) may renumber the rowids of a table with a text key
        CREATE VIRTUAL TABLE stories_search USING fts5(
            story_id UNINDEXED, title, transcript, tags, body, village, teller,
            tokenize = "unicode61 remove_diacritics 2");
        CREATE TRIGGER stories_search_insert AFTER INSERT ON stories BEGIN
            INSERT INTO stories_search (story_id, title, transcript, tags, body, village,
                                        teller)
            VALUES (new.id, new.title, new.transcript, new.tags, new.body,
                    new.village, new.teller_name);
        END;
        CREATE TRIGGER stories_search_update AFTER UPDATE OF title, transcript, tags, body,
                village, teller_name ON stories BEGIN
            DELETE FROM stories_search WHERE story_id = old.id;
            INSERT INTO stories_search (story_id, title, transcript, tags, body, village,
                                        teller)
            VALUES (new.id, new.title, new.transcript, new.tags, new.body,
                    new.village, new.teller_name);
        END;
        CREATE TRIGGER stories_search_delete AFTER DELETE ON stories BEGIN
            DELETE FROM stories_search WHERE story_id = old.id;
            DELETE FROM story_collected WHERE story_id = old.id;
        END;
        """
    )
