"""The engine's own tables through the engine's functions (issue 15): the hub's registry of
nodes, and a centre taking the node id the hub gave it."""

from __future__ import annotations

import uuid

from sync.engine import nodes, pending, read_state
from sync.engine.state import applying, immediate

from .factories import make_account


def test_the_hub_registers_lists_and_revokes_nodes_once(hub_db):
    node_id = str(uuid.uuid4())
    assert nodes.register_node(hub_db, node_id, "2026-11-23T15:00:00+00:00") == 1
    [found] = [n for n in nodes.list_nodes(hub_db) if n["node_id"] == node_id]
    assert found["revoked_at"] is None and found["created_at"].startswith("2026-11-23")
    assert nodes.revoke_node(hub_db, node_id, "2026-11-24T15:00:00+00:00")
    assert not nodes.revoke_node(hub_db, node_id, "2026-11-25T15:00:00+00:00")  # already
    assert not nodes.revoke_node(hub_db, str(uuid.uuid4()), "2026-11-25T15:00:00+00:00")
    [found] = [n for n in nodes.list_nodes(hub_db) if n["node_id"] == node_id]
    assert found["revoked_at"] == "2026-11-24T15:00:00+00:00"


def test_a_centre_taking_a_new_id_keeps_its_changes_waiting_and_forgets_rows_quietly(app, db):
    centre = app.config["CENTRE_ID"]
    keep, drop = make_account(db, centre), make_account(db, centre)
    waiting = pending(db)
    before = read_state(db)
    new_id = str(uuid.uuid4())
    with immediate(db), applying(db):
        nodes.forget_row(db, "accounts", drop["id"])
        nodes.take_identity(db, new_id)
    after = read_state(db)
    assert after["node_id"] == new_id and after["instance_id"] != before["instance_id"]
    assert (after["acked"], after["cursor"]) == (0, 0)
    assert pending(db) == waiting - 1  # the forgotten row left no tombstone to send
    assert db.execute("SELECT count(*) FROM accounts WHERE id IN (?, ?)",
                      [keep["id"], drop["id"]]).fetchone()[0] == 1
