"""``infocentre hub ...``, ``init --hub``, ``join`` and ``sync now`` as real processes against a
real hub server on 127.0.0.1: summaries, JSON, exit codes, and what they do to the data."""

from __future__ import annotations

import json
import sqlite3

import pytest

from kiosk.config import update_file

from .faults import captive_portal
from .live import db_rows, free_port, infocentre, start_demo_server

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("hub"), role="hub")
    yield server
    server.stop()


def add_node(hub, name="Centro San Pablo") -> dict:
    result = infocentre(hub.data_dir, "hub", "add-node", name, "--json")
    return json.loads(result.stdout)


def new_node(tmp_path, hub, name="Centro San Pablo"):
    made = add_node(hub, name)
    path = tmp_path / name.replace(" ", "-")
    infocentre(path, "init", "--role", "node", "--name", name, "--hub", hub.url, "--token",
               made["token"])
    return path, made


def sync(path, *extra, env=None):
    result = infocentre(path, "sync", "now", "--json", *extra, env=env, check=False)
    return result, json.loads(result.stdout)


def test_add_node_prints_a_token_once_and_nodes_lists_it(hub):
    plain = infocentre(hub.data_dir, "hub", "add-node", "Centro Chimborazo").stdout
    assert "Registered Centro Chimborazo" in plain and "join --hub" in plain
    listed = json.loads(infocentre(hub.data_dir, "hub", "nodes", "--json").stdout)
    assert "Centro Chimborazo" in {n["name"] for n in listed}
    assert all("token" not in n and "secret" not in n for n in listed)


def test_a_new_node_syncs_both_ways_and_a_no_op_is_one_small_request(tmp_path, hub):
    path, made = new_node(tmp_path, hub)
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    result, report = sync(path)
    assert result.returncode == 0, result.stderr
    assert report["status"] == "synced" and report["sent"] == 1 and report["received"] >= 1
    assert set(report) == {"status", "sent", "received", "bytes_sent", "bytes_received",
                           "requests", "seconds", "quarantined", "blobs_sent", "blobs_received",
                           "blob_bytes_sent", "blob_bytes_received", "media_waiting"}
    # The hub now knows Rosa; her PIN hash stayed home.
    assert db_rows(hub.data_dir, "SELECT centre_id, pin_hash FROM accounts WHERE name = "
                              "'Rosa Quishpe'") == [(made["node_id"], None)]
    # The centre received its own row, and the other centres', from the hub.
    assert (made["node_id"],) in db_rows(path, "SELECT id FROM centres")
    result, report = sync(path)
    assert report["requests"] == 1 and report["sent"] == report["received"] == 0
    # The request also tells the hub the centre's software version (for the regional staff).
    assert report["bytes_sent"] + report["bytes_received"] <= 620
    plain = infocentre(path, "sync", "now")
    assert "1 request, " in plain.stdout


def test_sync_now_says_when_the_hub_cannot_be_reached(tmp_path, hub):
    path, made = new_node(tmp_path, hub)
    update_file(path, hub_url=f"http://127.0.0.1:{free_port()}")  # nobody answers there
    result, report = sync(path)
    assert result.returncode == 3 and report["status"] == "unreachable"
    assert "did not answer" in result.stderr


@pytest.mark.parametrize(("status", "words"), [
    (200, "Something else answered instead of the hub"), (502, "The hub has a problem")])
def test_a_captive_portal_or_a_broken_proxy_counts_as_unreachable(tmp_path, hub, status,
                                                                   words):
    path, _ = new_node(tmp_path, hub)
    with captive_portal(status) as url:
        update_file(path, hub_url=url)
        result, report = sync(path)
    assert result.returncode == 3 and report["status"] == "unreachable"
    # `sync status` and the sync page tell a portal from a hub in trouble, in plain words.
    status = json.loads(infocentre(path, "sync", "status", "--json").stdout)
    assert status["last_error"].startswith(words)


def test_a_revoked_centre_is_refused_with_exit_4(tmp_path, hub):
    path, made = new_node(tmp_path, hub)
    assert sync(path)[0].returncode == 0
    infocentre(hub.data_dir, "hub", "revoke-node", made["node_id"])
    result, report = sync(path)
    assert result.returncode == 4 and report["status"] == "refused"
    assert "revoked" in result.stderr


def test_sync_now_is_a_centres_command(tmp_path, hub):
    result, report = sync(hub.data_dir)
    assert result.returncode == 1 and "runs at a centre" in result.stderr
    standalone = tmp_path / "standalone"
    infocentre(standalone, "init", "--role", "node", "--name", "Solo")
    result, report = sync(standalone)
    assert result.returncode == 1 and "no hub yet" in result.stderr
    assert report["status"] == "error"


def test_init_refuses_a_token_that_is_not_one(tmp_path, hub):
    result = infocentre(tmp_path / "c", "init", "--role", "node", "--name", "C", "--hub",
                        hub.url, "--token", "not-a-token", check=False)
    assert result.returncode == 1 and "token" in result.stderr
    assert not (tmp_path / "c" / "config.json").exists()


def test_a_standalone_centre_joins_keeping_its_data_but_not_the_demo(tmp_path, hub):
    path = tmp_path / "standalone"
    infocentre(path, "init", "--role", "node", "--name", "Centro Solo")
    infocentre(path, "demo")
    infocentre(path, "user", "add", "Manuela Real", "--role", "villager", "--pin", "2468")
    made = add_node(hub, "Centro Solo")
    demo_rows = db_rows(path, "SELECT count(*) FROM demo_rows")[0][0]
    joined = infocentre(path, "join", "--hub", hub.url, "--token", made["token"])
    assert f"Removing the demo data first ({demo_rows} rows)" in joined.stdout
    # The demo class and its records go; the courses stay (they are the hub's, not demo).
    assert db_rows(path, "SELECT count(*) FROM classes") == [(0,)]
    assert db_rows(path, "SELECT count(*) FROM progress") == [(0,)]
    assert db_rows(path, "SELECT count(*) FROM courses") == [(3,)]
    assert db_rows(path, "SELECT name, centre_id FROM accounts") == [
        ("Manuela Real", made["node_id"])]
    result, report = sync(path)
    assert result.returncode == 0, result.stderr
    assert db_rows(hub.data_dir, "SELECT centre_id FROM accounts WHERE name = 'Manuela Real'") == [
        (made["node_id"],)]
    # Her PIN still works at her centre.
    assert db_rows(path, "SELECT pin_hash IS NOT NULL FROM accounts") == [(1,)]


def test_join_checks_the_token_with_the_hub_before_changing_anything(tmp_path, hub):
    path = tmp_path / "standalone"
    infocentre(path, "init", "--role", "node", "--name", "Centro Solo")
    made = add_node(hub, "Centro Solo")
    forged = made["token"][:-4] + ("AAAA" if not made["token"].endswith("AAAA") else "BBBB")
    result = infocentre(path, "join", "--hub", hub.url, "--token", forged, check=False)
    assert result.returncode == 1 and "refused this token" in result.stderr
    assert "hub_url" not in json.loads((path / "config.json").read_text())


def test_an_old_centre_is_asked_to_update_and_keeps_its_changes(tmp_path, hub):
    path, made = new_node(tmp_path, hub)
    infocentre(path, "user", "add", "Ana", "--role", "villager", "--pin", "1234")
    picky = tmp_path / "picky-hub"
    server = start_demo_server(picky, role="hub", env={"INFOCENTRE_SYNC_MIN_SCHEMA": "99"})
    try:
        centres_row = add_node(server)
        other = tmp_path / "other"
        infocentre(other, "init", "--role", "node", "--name", "Otro", "--hub", server.url,
                   "--token", centres_row["token"])
        infocentre(other, "user", "add", "Ana", "--role", "villager", "--pin", "1234")
        result, report = sync(other)
        assert result.returncode == 4 and "Please update" in result.stderr
        assert db_rows(other, "SELECT count(*) FROM _sync_clock c, _sync_state s WHERE "
                           "c.node = s.node_idx AND c.seq > s.acked") != [(0,)]
    finally:
        server.stop()


def test_records_travel_compressed_within_150_bytes_each(tmp_path, hub):
    path, made = new_node(tmp_path, hub)
    sync(path)  # the first sync brings the region's courses and their pictures
    with sqlite3.connect(path / "infocentre.db") as db:
        db.executemany(
            "INSERT INTO accounts (id, centre_id, name, role, lang, created_at, updated_at) "
            "VALUES (?, ?, ?, 'villager', 'es', '2026-11-23T15:00:00+00:00', "
            "'2026-11-23T15:00:00+00:00')",
            [(f"acc-{i:04d}", made["node_id"], f"Persona de la comunidad {i}")
             for i in range(300)])
    result, report = sync(path)
    assert report["sent"] == 300 and report["requests"] == 1  # one round trip for one batch
    assert report["bytes_sent"] + report["bytes_received"] < 300 * 150
