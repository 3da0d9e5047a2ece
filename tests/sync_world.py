"""An in-process world for engine tests: a hub and nodes on real SQLite files cloned from a
template, exchanging the same JSON a real request would carry, with faults on demand."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.data import open_db
from sync.engine import (
    REGION,
    UPLOAD_ANY,
    Catalog,
    SyncedTable,
    build_request,
    consent,
    install,
    process_reply,
    serve_exchange,
    start_resync,
)
from sync.engine.clock import wall_ms
from sync.engine.hub import check_high_water
from sync.errors import ClockAhead, ResyncRequired

TABLES = [
    SyncedTable("notes", scope=REGION, upload=UPLOAD_ANY),
    SyncedTable("diary"),  # the owning centre only
    SyncedTable("tales", scope=consent("consent", "public"), local_columns=("secret",)),
]
SCHEMA = """
CREATE TABLE notes (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '', title TEXT,
                    body TEXT, score INTEGER);
CREATE TABLE diary (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '', day TEXT,
                    entry TEXT);
CREATE TABLE tales (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '', text TEXT,
                      consent TEXT NOT NULL DEFAULT 'private', secret TEXT);
"""
TABLES_V2 = [*TABLES, SyncedTable("events", scope=REGION, upload=UPLOAD_ANY)]
UPGRADE = """
ALTER TABLE notes ADD COLUMN mood TEXT;
CREATE TABLE events (id TEXT PRIMARY KEY, centre_id TEXT NOT NULL DEFAULT '', what TEXT);
"""
COLUMNS = {"notes": ["title", "body", "score"], "diary": ["day", "entry"],
           "tales": ["text", "consent"]}


def make_template(path: Path) -> Path:
    db = open_db(path)
    db.executescript(SCHEMA)
    install(db, TABLES, node_id="template", role="node")
    db.close()
    return path


@dataclass
class Replica:
    path: Path
    node_id: str
    role: str
    tables: list = field(default_factory=lambda: TABLES)

    def __post_init__(self):
        self.reopen()

    def reopen(self, tables: list | None = None) -> None:
        """Open the database (again), as a start of the app does; ``tables``: after an
        upgrade that registered more synced tables or columns."""
        self.tables = tables or self.tables
        self.db = open_db(self.path)
        install(self.db, self.tables, node_id=self.node_id, role=self.role)
        self.catalog = Catalog(self.db, self.tables)

    def upgrade(self) -> None:
        """Version 2 of the app: notes gain a mood, and a table of events appears."""
        self.db.executescript(UPGRADE)
        self.db.close()
        self.reopen(TABLES_V2)

    def rows(self, table: str) -> dict:
        cols = ["centre_id", *COLUMNS[table]]
        return {r[0]: tuple(r[1:]) for r in self.db.execute(
            f"SELECT id, {', '.join(cols)} FROM {table}")}

    def integrity(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]


@dataclass
class World:
    root: Path
    template: Path
    hub: Replica = None
    nodes: dict = field(default_factory=dict)
    hub_offset_ms: int = 0  # the hub's own clock error (0: right)
    high_water: int = 0  # the hub's high-water mark, kept outside its database (sync.watermark)
    log: list = field(default_factory=list)  # (node, request, reply) of acknowledged batches
    events: list = field(default_factory=list)  # what happened worth counting

    @classmethod
    def create(cls, root: Path, template: Path, node_count: int) -> World:
        world = cls(root, template)
        world.hub = world._replica("hub", str(uuid.uuid4()))
        for i in range(node_count):
            node_id = str(uuid.uuid4())
            world.register(node_id)
            world.nodes[node_id] = world._replica(f"node{i}", node_id)
        return world

    def _replica(self, name: str, node_id: str) -> Replica:
        path = self.root / f"{name}.db"
        shutil.copyfile(self.template, path)
        return Replica(path, node_id, "hub" if name == "hub" else "node")

    def register(self, node_id: str) -> None:
        self.hub.db.execute("INSERT OR IGNORE INTO _sync_nodes (node_id, created_at) "
                            "VALUES (?, datetime('now'))", [node_id])

    def hub_now(self) -> int:
        return wall_ms() + self.hub_offset_ms

    def exchange(self, node: Replica, request: dict) -> dict:
        wire = json.loads(json.dumps(request))
        reply = serve_exchange(self.hub.db, self.hub.catalog, wire, node_id=node.node_id,
                               now_ms=self.hub_now(), max_page=max(50, request["limit"]),
                               high_water=self.high_water)
        self.high_water = max(self.high_water, self.hub.db.execute(
            "SELECT seq FROM _sync_state").fetchone()[0])
        return json.loads(json.dumps(reply))

    def restore_hub(self, backup: Path) -> None:
        """The hub's disk died: an older copy of its database file comes back, and the hub
        starts again (sync.server reads the high-water mark at start)."""
        self.hub.db.close()
        for suffix in ("-wal", "-shm"):
            Path(f"{self.hub.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, self.hub.path)
        self.hub.reopen()
        check_high_water(self.hub.db, self.high_water)

    def sync(self, node: Replica, *, cut_after: int | None = None, lose_reply_at: int | None =
             None, max_rounds: int = 200, batch_limit: int = 7, page_limit: int = 50) -> int:
        """Sync a node until nothing is left; returns the number of requests.

        ``cut_after`` stops after that many requests (a cut link); ``lose_reply_at`` loses the
        reply of that request (the hub applied it; the node never heard).
        """
        requests = 0
        retries = 0
        while requests < max_rounds:
            if cut_after is not None and requests >= cut_after:
                return requests
            request = build_request(node.db, node.catalog, schema=1, batch_limit=batch_limit,
                                    page_limit=page_limit)
            requests += 1
            try:
                reply = self.exchange(node, request)
            except ClockAhead as e:
                self.events.append("clock_ahead")
                retries += 1
                assert retries < 5, "clock_ahead keeps coming back"
                from sync.engine import note_hub_time

                note_hub_time(node.db, e.extra["hub_time"], wall_ms(), refused=True)
                continue
            except ResyncRequired:
                self.events.append("resync")
                start_resync(node.db)
                continue
            if lose_reply_at is not None and requests == lose_reply_at:
                continue
            if reply.get("renew_instance"):
                self.events.append("renew_instance")
            known = node.db.execute("SELECT epoch FROM _sync_state").fetchone()[0]
            if known and reply.get("epoch") != known:
                self.events.append("new_epoch")
            step = process_reply(node.db, node.catalog, request, reply, wall_ms=wall_ms())
            if request["batch"] and reply.get("ack"):
                self.log.append((node.node_id, request, reply))
            if not step.more:
                return requests
        raise AssertionError("sync did not finish")

    def sync_all(self) -> None:
        for _ in range(2):
            for node in self.nodes.values():
                self.sync(node)

    def close(self) -> None:
        for replica in [self.hub, *self.nodes.values()]:
            replica.db.close()


def clone_db(source: Path, target: Path) -> None:
    """A copy of a live database, as a backup tool or a disk clone would make it."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    src.backup(dst)
    dst.close()
    src.close()
