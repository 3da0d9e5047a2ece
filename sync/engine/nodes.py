"""The engine's bookkeeping of who is who: the hub's registry of nodes (``_sync_nodes``) and a
replica taking the identity the hub gave it. Imports the standard library and sqlite-utils only.

A node's secret is never stored: the hub derives it from its own key, the node id and the
``generation`` kept here (sync/README.md, "Authentication and errors").
"""

from __future__ import annotations

import uuid

from sqlite_utils import Database

from .capture import intern_node


def register_node(db: Database, node_id: str, now: str) -> int:
    """Add a node to the hub's registry; returns its generation (the first is 1).

    :param now: ISO-8601 UTC text, kept as ``created_at``
    """
    db.execute("INSERT INTO _sync_nodes (node_id, generation, created_at) VALUES (?, 1, ?)",
               [node_id, now])
    return 1


def revoke_node(db: Database, node_id: str, now: str) -> bool:
    """Stop a node's token working at once (the hub answers it 'revoked'); False if there is
    no such node, or it was revoked already."""
    return db.execute("UPDATE _sync_nodes SET revoked_at = ? WHERE node_id = ? AND revoked_at "
                      "IS NULL", [now, node_id]).rowcount > 0


def list_nodes(db: Database) -> list[dict]:
    """The hub's registered nodes: node_id, created_at, last_seen_at, revoked_at and the
    schema_version each last reported."""
    cursor = db.execute("SELECT node_id, created_at, last_seen_at, revoked_at, schema_version "
                        "FROM _sync_nodes ORDER BY created_at, node_id")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def forget_row(db: Database, table: str, row_id: str) -> None:
    """Remove a row here without a tombstone, with the clock entries that would send it (a row
    that was never real, or one another replica will bring). Call inside ``applying``."""
    db.execute(f'DELETE FROM "{table}" WHERE id = ?', [row_id])
    db.execute("DELETE FROM _sync_clock WHERE pk = ? AND tbl = (SELECT id FROM _sync_tables "
               "WHERE name = ?)", [row_id, table])


def take_identity(db: Database, node_id: str) -> None:
    """This replica becomes the node ``node_id`` (a centre joining a hub): the changes made here
    become that node's, still waiting to be sent, under a new database instance that the hub
    has acknowledged nothing of and that pulls from the start. Call inside ``immediate``."""
    new_idx = intern_node(db, node_id)
    db.execute("UPDATE _sync_clock SET node = ? WHERE node = (SELECT node_idx FROM _sync_state)",
               [new_idx])
    db.execute("UPDATE _sync_state SET node_id = ?, node_idx = ?, instance_id = ?, acked = 0, "
               "cursor = 0, inflight = NULL WHERE id = 1", [node_id, new_idx, str(uuid.uuid4())])
