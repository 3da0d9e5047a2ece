"""The sync engine: pure replication logic over a ``sqlite_utils.Database``.

Imports the standard library, sqlite-utils and ``sync.errors`` only: no Flask, no requests,
nothing from kiosk. See sync/README.md for the rules it follows.
"""

from . import nodes
from .capture import install
from .changes import Catalog
from .exchange import build_request, process_reply, start_resync
from .hub import serve_exchange
from .purge import purge
from .registry import (
    OWNER,
    REGION,
    UPLOAD_ANY,
    UPLOAD_HUB,
    UPLOAD_OWNER,
    SchemaProblem,
    Scope,
    SyncedTable,
    check_schema,
    consent,
    node_buckets,
    owner_and,
)
from .restamp import note_hub_time
from .state import read_state


def pending(db, after: int | None = None) -> int:
    """Changes made here that the hub has not acknowledged yet; with ``after``, those made
    after that sequence number (what a request's batch leaves to send)."""
    return db.execute(
        "SELECT count(*) FROM _sync_clock c, _sync_state s WHERE s.id = 1 AND c.node = s.node_idx "
        "AND c.seq > coalesce(?, s.acked)", [after]).fetchone()[0]


__all__ = [
    "OWNER", "REGION", "UPLOAD_ANY", "UPLOAD_HUB", "UPLOAD_OWNER", "Catalog", "SchemaProblem",
    "Scope", "SyncedTable", "build_request", "check_schema", "consent", "install", "node_buckets",
    "nodes", "note_hub_time", "owner_and", "pending", "process_reply", "purge", "read_state",
    "serve_exchange", "start_resync",
]
