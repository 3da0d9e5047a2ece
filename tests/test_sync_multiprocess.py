"""A real hub server and two real centres running ``infocentre sync now`` as processes; one sync
is killed with SIGKILL while the hub's acknowledgement is on its way, then resumed (DESIGN
property 6): the replicas converge, at most one batch is sent twice, and every database is
sound."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid

import pytest

from .faults import Proxy
from .live import db_rows, infocentre, join_centre, start_demo_server

pytestmark = pytest.mark.live

RECORDS = 2400
BATCH = 200


def make_node(tmp_path, hub, name, hub_url):
    path = tmp_path / name
    return path, join_centre(hub.data_dir, path, name, hub_url)[0]


def add_accounts(path, node_id, count):
    """Rows written straight into the database (triggers capture them as any write)."""
    with sqlite3.connect(path / "infocentre.db") as db:
        db.executemany(
            "INSERT INTO accounts (id, centre_id, name, role, created_at, updated_at) VALUES "
            "(?, ?, ?, 'villager', datetime('now'), datetime('now'))",
            [(str(uuid.uuid4()), node_id, f"Persona {i:05d}") for i in range(count)])


def test_a_sync_killed_mid_transfer_resumes_and_everything_converges(tmp_path):
    hub = start_demo_server(tmp_path / "hub", role="hub")
    proxy = Proxy(int(hub.url.rsplit(":", 1)[1]), hold_at=5)
    env = {**os.environ, "INFOCENTRE_SYNC_BATCH": str(BATCH)}
    try:
        a, a_id = make_node(tmp_path, hub, "centro-a", f"http://127.0.0.1:{proxy.port}")
        b, b_id = make_node(tmp_path, hub, "centro-b", hub.url)
        add_accounts(a, a_id, RECORDS)
        add_accounts(b, b_id, 50)

        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--data-dir", str(a), "sync", "now", "--json"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The proxy holds back the fifth answer: the hub has applied that batch, the node
        # never hears so. Then the power goes.
        assert proxy.held.wait(60), "the fifth acknowledgement never came"
        process.kill()
        process.wait(10)
        assert process.returncode == -9

        for path in (a, b, a):  # resumed, then the other centre, then once more
            result = infocentre(path, "sync", "now", "--json", env={
                "INFOCENTRE_SYNC_BATCH": str(BATCH), "INFOCENTRE_HUB_URL": hub.url})
            assert json.loads(result.stdout)["status"] == "synced"
        batches, replays = db_rows(hub.data_dir, "SELECT count(*), coalesce(sum(replays), 0) "
                                                 "FROM _sync_batches")[0]
        assert batches == RECORDS // BATCH + 1  # twelve of a, one of b
        assert replays == 1  # just the batch whose acknowledgement was lost: sent again, once

        for path, node_id in ((a, a_id), (b, b_id)):
            mine = db_rows(path, "SELECT id, name, centre_id FROM accounts ORDER BY id")
            at_hub = db_rows(hub.data_dir, "SELECT id, name, centre_id FROM accounts WHERE "
                                           "centre_id = ? ORDER BY id", [node_id])
            assert mine == at_hub and len(mine) in (RECORDS, 50)
            assert db_rows(path, "SELECT id, name FROM centres ORDER BY id") == db_rows(
                hub.data_dir, "SELECT id, name FROM centres ORDER BY id")
        for path in (a, b, hub.data_dir):
            assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]
    finally:
        proxy.close()
        hub.stop()
