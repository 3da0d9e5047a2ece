"""The engine's own tables (names start with ``_sync_``), as the ``sync`` migration set.

Imports sqlite-utils only. The same tables exist on nodes and on the hub; some are used by only
one of them (noted below).
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("sync")


@MIGRATIONS()
def m0001_engine(db):
    db.executescript(
        """
        -- One row: who this replica is, its clock and its place in the exchange with the hub.
        CREATE TABLE _sync_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            node_id TEXT NOT NULL,            -- this installation's centre id
            node_idx INTEGER NOT NULL,        -- node_id interned in _sync_origins
            instance_id TEXT NOT NULL,        -- this copy of the database (renewed on restore)
            role TEXT NOT NULL,               -- 'node' or 'hub'
            applying INTEGER NOT NULL DEFAULT 0,  -- 1 while applying others' changes
            hlc INTEGER NOT NULL DEFAULT 0,   -- the last hybrid logical clock value issued
            seq INTEGER NOT NULL DEFAULT 0,   -- the last local sequence number
            offset_ms INTEGER NOT NULL DEFAULT 0,  -- node: hub time minus local time
            acked INTEGER NOT NULL DEFAULT 0,     -- node: local seq acknowledged by the hub
            cursor INTEGER NOT NULL DEFAULT 0,    -- node: hub seq pulled up to
            inflight TEXT,                        -- node: the batch being sent (JSON)
            resync INTEGER NOT NULL DEFAULT 0,    -- node: full resynchronisation under way
            scoped_seq INTEGER NOT NULL DEFAULT 0,  -- hub: buckets computed up to this seq
            purged_seq INTEGER NOT NULL DEFAULT 0,  -- hub: tombstones purged up to this seq
            last_sync_at TEXT
        ) STRICT;

        CREATE TABLE _sync_tables (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE
        ) STRICT;

        CREATE TABLE _sync_columns (
            table_id INTEGER NOT NULL,
            id INTEGER NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (table_id, id),
            UNIQUE (table_id, name)
        ) STRICT;

        -- Node ids, interned: clock rows hold a small integer instead of a 36-character UUID.
        CREATE TABLE _sync_origins (
            id INTEGER PRIMARY KEY,
            node_id TEXT NOT NULL UNIQUE
        ) STRICT;

        -- The version of every cell: col 0 is the row (its insert), col -1 its tombstone.
        -- Ordered by seq it is also the feed of changes; there is no separate change log.
        CREATE TABLE _sync_clock (
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            col INTEGER NOT NULL,
            hlc INTEGER NOT NULL,
            node INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            origin INTEGER,  -- hub: the instance that pushed this version (no echo back)
            PRIMARY KEY (tbl, pk, col)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX _sync_clock_by_seq ON _sync_clock (seq);

        -- Hub: the buckets each row belongs to, and rows that left a bucket.
        CREATE TABLE _sync_members (
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            bucket TEXT NOT NULL,
            PRIMARY KEY (tbl, pk, bucket)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE _sync_exits (
            seq INTEGER PRIMARY KEY,
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            bucket TEXT NOT NULL
        ) STRICT;

        -- Hub: ids whose tombstones were purged; deleted for ever.
        CREATE TABLE _sync_deleted (
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            PRIMARY KEY (tbl, pk)
        ) STRICT, WITHOUT ROWID;

        -- Hub: registered centres' credentials, database copies, batches and nonces seen.
        CREATE TABLE _sync_nodes (
            node_id TEXT PRIMARY KEY,
            generation INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            last_seen_at TEXT,
            schema_version INTEGER
        ) STRICT;
        CREATE TABLE _sync_instances (
            id INTEGER PRIMARY KEY,
            node_id TEXT NOT NULL,
            instance_id TEXT NOT NULL UNIQUE,
            acked INTEGER NOT NULL DEFAULT 0,
            last_seen_at TEXT
        ) STRICT;
        CREATE TABLE _sync_batches (
            node_id TEXT NOT NULL,
            batch_id TEXT NOT NULL,
            reply TEXT NOT NULL,
            received_at TEXT NOT NULL,
            replays INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (node_id, batch_id)
        ) STRICT;
        CREATE TABLE _sync_nonces (
            node_id TEXT NOT NULL,
            nonce TEXT NOT NULL,
            seen_ms INTEGER NOT NULL,
            PRIMARY KEY (node_id, nonce)
        ) STRICT;
        CREATE INDEX _sync_nonces_by_time ON _sync_nonces (seen_ms);

        -- Both: changes that could not be applied, kept and reported rather than retried.
        CREATE TABLE _sync_quarantine (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            source TEXT NOT NULL,
            table_name TEXT NOT NULL,
            pk TEXT NOT NULL,
            reason TEXT NOT NULL,
            change TEXT NOT NULL
        ) STRICT;

        -- Node: rows received during a full resynchronisation.
        CREATE TABLE _sync_seen (
            tbl INTEGER NOT NULL,
            pk TEXT NOT NULL,
            PRIMARY KEY (tbl, pk)
        ) STRICT, WITHOUT ROWID;
        """
    )


@MIGRATIONS()
def m0002_shape(db):
    # shape: the synced tables and columns this replica knew at its last start (JSON).
    # fresh: node, after an upgrade: {table: [columns]} new here, whose values the hub has and
    # this copy does not; they take the hub's values during the pull that follows.
    db.execute("ALTER TABLE _sync_state ADD COLUMN shape TEXT")
    db.execute("ALTER TABLE _sync_state ADD COLUMN fresh TEXT")


@MIGRATIONS()
def m0003_bundles(db):
    # Node: the batches it put in bundles that the hub has not acknowledged yet (JSON list of
    # {"id", "from", "to"}); the next bundle carries them again with the same ids.
    db.execute("ALTER TABLE _sync_state ADD COLUMN bundled TEXT")
    # Hub: what each centre last said it has, online or in a bundle (its database copy, pull
    # cursor, acknowledged sequence, a full resynchronisation under way): a bundle for it
    # starts there.
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN instance_id TEXT")
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN cursor INTEGER")
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN acked INTEGER")
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN everything INTEGER NOT NULL DEFAULT 0")
    # Hub: the centre's batch its last bundle brought stamped ahead of the hub's clock (JSON
    # {"batch", "hub_time"}): the hub's next bundle for it asks for new stamps.
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN refused TEXT")


@MIGRATIONS()
def m0004_media(db):
    # Node: the blobs (sync.media) the hub has said it holds, so they are never offered again.
    db.execute("CREATE TABLE _sync_blobs_at_hub (sha TEXT PRIMARY KEY) WITHOUT ROWID")


@MIGRATIONS()
def m0005_restores_and_scale(db):
    # epoch: hub, the identity of its history (renewed when it finds it was restored); node, the
    # hub's epoch at the last exchange (a new one means: send everything, pull everything).
    db.execute("ALTER TABLE _sync_state ADD COLUMN epoch TEXT")
    # fixed_hlc: the largest stamp here that can no longer move (applied from others, or
    # acknowledged by the hub); a correction of this node's stamps never goes below it.
    db.execute("ALTER TABLE _sync_state ADD COLUMN fixed_hlc INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE _sync_state SET fixed_hlc = hlc")
    # owed_ms: node, how far the batch in flight was stamped ahead, measured after it was
    # sent: if the hub refuses it, its stamps move back by this much (DESIGN property 5).
    db.execute("ALTER TABLE _sync_state ADD COLUMN owed_ms INTEGER NOT NULL DEFAULT 0")
    # Hub: the feed of each bucket, (bucket, seq) -> the row changed at that sequence number,
    # so a pull reads its own buckets after its cursor and nothing else. Entries overwritten
    # since leave stale lines, which a pull skips and a purge removes.
    db.execute("CREATE TABLE _sync_feed (bucket TEXT NOT NULL, seq INTEGER NOT NULL, "
               "tbl INTEGER NOT NULL, pk TEXT NOT NULL, PRIMARY KEY (bucket, seq)) "
               "STRICT, WITHOUT ROWID")
    db.execute("INSERT OR IGNORE INTO _sync_feed (bucket, seq, tbl, pk) SELECT m.bucket, c.seq, "
               "c.tbl, c.pk FROM _sync_clock c JOIN _sync_members m ON m.tbl = c.tbl AND "
               "m.pk = c.pk WHERE c.seq > 0 AND c.seq <= (SELECT scoped_seq FROM _sync_state)")
    db.execute("CREATE INDEX _sync_exits_by_bucket ON _sync_exits (bucket, seq)")
    # Hub: when its sequence reached a number, so tombstones are purged by when they arrived,
    # never by their stamp (a centre back after months offline sends old stamps).
    db.execute("CREATE TABLE _sync_marks (seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL) "
               "STRICT")
    db.execute("INSERT INTO _sync_marks (seq, at_ms) SELECT seq, CAST((julianday('now') - "
               "2440587.5) * 86400000 AS INTEGER) FROM _sync_state")
    db.execute("UPDATE _sync_state SET epoch = lower(hex(randomblob(4))) WHERE role = 'hub'")
    # Hub: the epoch in which each database copy last exchanged. After a restore, copies still
    # on the old epoch prove nothing new (they are about to hear of the new one).
    db.execute("ALTER TABLE _sync_instances ADD COLUMN epoch TEXT")


@MIGRATIONS()
def m0006_batch_senders(db):
    # Hub: the database copy (_sync_instances.id) that sent each batch. A batch id is a replay
    # only from the copy that sent it: a PC cloned from a disk holds its twin's batch in flight,
    # and must not take its twin's acknowledgement (and with it, its twin's history) for its own.
    db.execute("ALTER TABLE _sync_batches ADD COLUMN instance INTEGER")


@MIGRATIONS()
def m0007_node_reports(db):
    # Hub: what each centre said of itself at its last exchange, for the regional staff: its
    # software version, and how many of its changes were still to send after that request;
    # and the end of the last page the hub handed it (what waits for it starts there).
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN software TEXT")
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN waiting INTEGER")
    db.execute("ALTER TABLE _sync_nodes ADD COLUMN handed INTEGER")


@MIGRATIONS()
def m0008_media_orphans(db):
    # Both: blobs that a row named and no longer does (a row deleted, dropped from this
    # replica, or its media column given another value), written by triggers that fire also
    # while changes are applied; the media sweep (sync.media.sweep) deletes a blob's file once
    # no row names it. seq: hub, its sequence number once the blob stopped being named (NULL
    # until the next sweep notes it); centres have pulled the change once their cursors pass
    # it. at_ms: when, by this computer's clock (the purge horizon's measure, and a blob
    # stored again since is kept).
    db.execute("CREATE TABLE _sync_media_orphans (sha TEXT PRIMARY KEY, seq INTEGER, "
               "at_ms INTEGER NOT NULL) STRICT, WITHOUT ROWID")
    db.execute("CREATE INDEX _sync_media_orphans_by_seq ON _sync_media_orphans (seq)")
