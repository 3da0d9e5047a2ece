"""A province's centres at the hub's door at once (issue 13): a request that waited its turn too
long is answered "busy" at once, doing nothing, and the centre sends it again a little later;
no request fails for a lock. A real hub served on 127.0.0.1 and the real signed client."""

from __future__ import annotations

import shutil
import threading

import pytest

from kiosk.data import open_db
from sync.client import HubClient, sync_now
from sync.engine.clock import wall_ms
from sync.errors import Unreachable

from .sync_world import TABLES, Replica
from .thread_hub import Hub, templates


@pytest.fixture
def hub(tmp_path):
    server = Hub(tmp_path / "hub", SYNC_QUEUE_MAX=5)
    yield server
    server.close()


def centre(hub, tmp_path, name):
    node_id, token = hub.register(name)
    path = tmp_path / f"{name}.db"
    shutil.copyfile(templates()["node"], path)
    return Replica(path, node_id, "node"), token


class LateClient(HubClient):
    """Its first ``late`` requests arrive as if they had waited ``seconds`` in the hub's queue
    (signed that long before the hub reads them)."""

    def __init__(self, *args, late=1, seconds=30, **kwargs):
        super().__init__(*args, **kwargs)
        self.late, self.seconds = late, seconds

    def exchange(self, payload, time_ms, packed=None):
        if self.late:
            self.late -= 1
            time_ms -= self.seconds * 1000
        return super().exchange(payload, time_ms, packed)


def test_a_request_that_waited_too_long_is_answered_busy_and_sent_again(hub, tmp_path):
    a, token = centre(hub, tmp_path, "Centro A")
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'minga')", [a.node_id])
    before = hub.db.execute("SELECT seq FROM _sync_state").fetchone()
    waits = []
    client = LateClient(hub.url, token, late=2)
    report = sync_now(a.db, TABLES, client, schema=1, sleep=waits.append)
    client.close()
    assert report.status == "synced" and report.sent == 1
    assert len(waits) == 2 and all(5 <= w <= 30 for w in waits)  # the hub's retry_after
    assert report.requests == 3  # two answered busy, doing nothing; the third applied
    assert hub.rows("notes")["n"][1] == "minga"
    assert hub.db.execute("SELECT seq FROM _sync_state").fetchone() > before


def test_a_hub_still_busy_after_the_centres_patience_counts_as_unreachable(hub, tmp_path):
    a, token = centre(hub, tmp_path, "Centro A")
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'minga')", [a.node_id])
    client = LateClient(hub.url, token, late=100)
    with pytest.raises(Unreachable) as gone:
        sync_now(a.db, TABLES, client, schema=1, sleep=lambda s: None, patience=60)
    client.close()
    assert gone.value.reason == "busy"
    assert "n" not in hub.rows("notes")


def test_centres_syncing_all_at_once_never_fail_for_a_lock(hub, tmp_path):
    centres = [centre(hub, tmp_path, f"Centro {i}") for i in range(12)]
    for replica, _ in centres:
        replica.db.conn.executemany(
            "INSERT INTO notes (id, centre_id, title, body) VALUES (?, ?, ?, ?)",
            [(f"{replica.node_id[:8]}-{i}", replica.node_id, f"Minga {i}", "x" * 200)
             for i in range(200)])
        replica.db.conn.commit()
    start, errors = threading.Barrier(len(centres)), []

    def run(replica, token):
        db = open_db(replica.path)  # each centre's own connection, in its own thread
        client = HubClient(hub.url, token)
        start.wait()
        try:
            for _ in range(2):
                sync_now(db, TABLES, client, schema=1, batch_limit=50, page_limit=500)
        except Exception as e:  # noqa: BLE001 (every failure is the finding)
            errors.append(repr(e))
        finally:
            client.close()
            db.close()

    threads = [threading.Thread(target=run, args=c) for c in centres]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert len(hub.rows("notes")) == 12 * 200


def test_the_hub_answers_busy_before_doing_anything(hub, tmp_path):
    a, token = centre(hub, tmp_path, "Centro A")
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'minga')", [a.node_id])
    client = LateClient(hub.url, token, late=1)
    from sync.engine import Catalog, build_request
    from sync.errors import Refused

    request = build_request(a.db, Catalog(a.db, TABLES), schema=1)
    before = hub.db.execute("SELECT seq, (SELECT count(*) FROM _sync_nonces), (SELECT count(*) "
                            "FROM _sync_batches) FROM _sync_state").fetchone()
    with pytest.raises(Refused) as busy:
        client.exchange(request, wall_ms())
    client.close()
    assert busy.value.code == "busy" and busy.value.http_status == 503
    assert 5 <= busy.value.extra["retry_after"] <= 30
    assert hub.db.execute("SELECT seq, (SELECT count(*) FROM _sync_nonces), (SELECT count(*) "
                          "FROM _sync_batches) FROM _sync_state").fetchone() == before


def test_a_clock_minutes_slow_is_not_taken_for_a_long_wait_twice(hub, tmp_path):
    a, token = centre(hub, tmp_path, "Centro A")
    a.db.execute("UPDATE _sync_state SET offset_ms = ?", [-4 * 60_000])  # never synced yet
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'minga')", [a.node_id])
    waits = []
    client = HubClient(hub.url, token)
    report = sync_now(a.db, TABLES, client, schema=1, sleep=waits.append)
    client.close()
    # Signed four minutes "ago", it looked like a long wait once; the hub's time came back with
    # the answer, and the next request went through.
    assert len(waits) == 1 and report.status == "synced" and "n" in hub.rows("notes")
    assert abs(a.db.execute("SELECT offset_ms FROM _sync_state").fetchone()[0]) < 2000
