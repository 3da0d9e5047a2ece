"""Accidents with real processes (issue 13): a centre whose PC is a year fast, a hub put back
from a plain copy of its database file, text that is not UTF-8 typed with the sqlite3 tool, and
a sync that must end while the kiosk keeps writing. A real hub server on 127.0.0.1 and real
``infocentre`` processes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time

import pytest

from kiosk.data import open_db

from .live import db_rows, infocentre, start_server

pytestmark = pytest.mark.live


def make_hub(path):
    infocentre(path, "init", "--role", "hub", "--name", "Hub Sierra Centro")
    return start_server(path)


@pytest.fixture
def hub(tmp_path):
    server = make_hub(tmp_path / "hub")
    yield server
    server.stop()


def new_centre(tmp_path, hub, name: str):
    made = json.loads(infocentre(hub.data_dir, "hub", "add-node", name, "--json").stdout)
    path = tmp_path / name.replace(" ", "-")
    infocentre(path, "init", "--role", "node", "--name", name, "--hub", hub.url, "--token",
               made["token"])
    return path, made["node_id"]


def sync(path, env=None, prefix=()):
    result = subprocess.run([*prefix, *infocentre_command(path), "sync", "now", "--json"],
                            capture_output=True, text=True, timeout=120,
                            env=env)
    return result, (json.loads(result.stdout) if result.stdout.strip() else {})


def infocentre_command(path):
    import sys

    return [sys.executable, "-m", "kiosk", "--data-dir", str(path)]


def names(path) -> set:
    return {r[0] for r in db_rows(path, "SELECT name FROM accounts")}


@pytest.mark.skipif(not shutil.which("faketime"), reason="faketime is not installed")
def test_a_centre_a_year_fast_cannot_beat_a_later_edit_with_one_it_made_offline(tmp_path, hub):
    path, node_id = new_centre(tmp_path, hub, "Centro Adelantado")
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    result, _ = sync(path)
    assert result.returncode == 0, result.stderr
    # The PC's date goes a year ahead; offline, the centre renames Rosa.
    subprocess.run(["faketime", "-f", "+365d", "sqlite3", str(path / "infocentre.db"),
                    "UPDATE accounts SET name = 'Rosa (offline, a year fast)' WHERE name = "
                    "'Rosa Quishpe'"], check=True)
    time.sleep(0.05)
    # Later, at the regional office, staff correct her name (an honest clock).
    subprocess.run(["sqlite3", str(hub.data_dir / "infocentre.db"),
                    "UPDATE accounts SET name = 'Rosa Quishpe Andrango' WHERE name = "
                    "'Rosa Quishpe'"], check=True)
    result, report = sync(path, prefix=["faketime", "-f", "+365d"])
    assert result.returncode == 0, result.stderr
    assert report["status"] == "synced"
    # The edit made offline keeps its true place in time: before the honest one.
    assert names(hub.data_dir) >= {"Rosa Quishpe Andrango"}
    assert "Rosa (offline, a year fast)" not in names(hub.data_dir)
    assert "Rosa Quishpe Andrango" in names(path)
    assert db_rows(hub.data_dir, "SELECT count(*) FROM accounts WHERE centre_id = ?",
                   [node_id]) == [(1,)]


def test_a_hub_put_back_from_a_copy_of_its_file_loses_nothing_the_centres_hold(tmp_path):
    hub_dir = tmp_path / "hub"
    hub = make_hub(hub_dir)
    try:
        a, _ = new_centre(tmp_path, hub, "Centro A")
        b, _ = new_centre(tmp_path, hub, "Centro B")
        infocentre(a, "user", "add", "Ana antes", "--role", "villager", "--pin", "1234")
        for path in (a, b):
            assert sync(path)[0].returncode == 0
        hub.stop()
        backup = tmp_path / "hub-backup.db"
        src, dst = sqlite3.connect(hub_dir / "infocentre.db"), sqlite3.connect(backup)
        src.backup(dst)
        src.close(), dst.close()
        port = int(hub.url.rsplit(":", 1)[1])
        hub = start_server(hub_dir, port=port)
        infocentre(a, "user", "add", "Ana después", "--role", "villager", "--pin", "1234")
        infocentre(b, "user", "add", "Beto después", "--role", "villager", "--pin", "1234")
        for path in (a, b, a):
            assert sync(path)[0].returncode == 0
        assert {"Ana después", "Beto después"} <= names(hub_dir)
        hub.stop()
        # The disk died: last week's copy of the file comes back, no command run.
        for suffix in ("-wal", "-shm"):
            (hub_dir / f"infocentre.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, hub_dir / "infocentre.db")
        hub = start_server(hub_dir, port=port)
        # The hub writes before any centre syncs: a new centre is registered.
        c, c_id = new_centre(tmp_path, hub, "Centro C")
        for path in (a, b, c, a, b):
            result, _ = sync(path)
            assert result.returncode == 0, result.stderr
        assert {"Ana antes", "Ana después", "Beto después"} <= names(hub_dir)
        for path in (a, b, c):
            assert (c_id,) in db_rows(path, "SELECT id FROM centres")
            assert db_rows(path, "SELECT count(*) FROM _sync_clock c, _sync_state s WHERE "
                                 "c.node = s.node_idx AND c.seq > s.acked") == [(0,)]
    finally:
        hub.stop()


def test_text_that_is_not_utf8_stops_neither_a_command_nor_a_sync(tmp_path, hub):
    path, node_id = new_centre(tmp_path, hub, "Centro Windows")
    # Typed in a Windows console with the sqlite3 tool: Latin-1 bytes, not UTF-8.
    subprocess.run(["sqlite3", str(path / "infocentre.db"),
                    "INSERT INTO accounts (id, centre_id, name, role, lang) VALUES ('w1', "
                    f"'{node_id}', CAST(X'4A6F73E9204DE96E6465' AS TEXT), 'villager', 'es')"],
                   check=True)
    added = infocentre(path, "user", "add", "Ana", "--role", "villager", "--pin", "1234",
                       check=False)
    assert added.returncode == 0, added.stderr
    listed = json.loads(infocentre(path, "user", "list", "--json").stdout)
    assert "Jos\ufffd M\ufffdnde" in {u["name"] for u in listed}
    result, report = sync(path)
    assert result.returncode == 0, result.stderr
    assert ("Jos\ufffd M\ufffdnde",) in db_rows(hub.data_dir, "SELECT name FROM accounts")
    # Mended where it was written, and said which row.
    assert db_rows(path, "SELECT CAST(name AS BLOB) = CAST('Jos\ufffd M\ufffdnde' AS BLOB) "
                         "FROM accounts WHERE id = 'w1'") == [(1,)]
    assert db_rows(path, "SELECT table_name, pk FROM _sync_quarantine WHERE source = 'here'") \
        == [("accounts", "w1")]
    again, _ = sync(path)
    assert again.returncode == 0


def test_a_sync_ends_while_the_kiosk_keeps_writing(tmp_path, hub):
    path, node_id = new_centre(tmp_path, hub, "Centro Ocupado")
    assert sync(path)[0].returncode == 0
    stop = threading.Event()
    written = []

    def keep_writing():
        db = open_db(path / "infocentre.db")
        i = 0
        while not stop.is_set():
            db.execute("INSERT INTO accounts (id, centre_id, name, role, lang) VALUES "
                       "(?, ?, ?, 'villager', 'es')", [f"busy-{i}", node_id, f"Persona {i}"])
            written.append(i)
            i += 1
            time.sleep(0.001)
        db.close()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(1)
        started = time.monotonic()
        result, report = sync(path)
        took = time.monotonic() - started
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stderr
    assert report["status"] == "synced" and report["sent"] > 0
    assert len(written) > 100, "the writer did not keep writing during the sync"
    # It sent what was waiting when it began (one batch, or two), not a chase after the writer.
    assert report["requests"] <= 3, (report, took)
    # What was written during it goes with the next one; nothing is lost.
    assert sync(path)[0].returncode == 0
    sent = db_rows(hub.data_dir, "SELECT count(*) FROM accounts WHERE id LIKE 'busy-%'")[0][0]
    assert sent == len(written), (sent, len(written), took)
