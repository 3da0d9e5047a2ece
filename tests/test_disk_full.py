"""A full disk (issue 14): a page whose write fails for space answers a plain page in the
person's language (507) and changes nothing; a sync keeps a reserve of free space, stopping
photo downloads below it, and records every failure in plain words, even one it cannot write
into the database; ``serve`` says plainly why it cannot start on a full disk.

Most tests need no root: SQLite's own size limit (``PRAGMA max_page_count``, per connection)
makes a write fail as a full disk does, and the reserve is a setting set above the real free
space. The last tests fill a small tmpfs of their own, and skip where mounting is not allowed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import requests
from jinja2.filters import do_filesizeformat
from markupsafe import escape
from sqlite_utils import Migrations

from kiosk import create_app, data, i18n, syncing
from kiosk.data import get_db, iso, open_db
from kiosk.installation import init_installation

from .conftest import CSRF, SignIn, make_app
from .factories import PIN, WHEN, count, make_account
from .live import db_rows, free_port, infocentre, join_centre, start_demo_server, start_server
from .test_sync_daemon import wait_for


def fill_table(db, table: str, row) -> int:
    """Hold ``db`` (this connection only) to the pages it has, then fill ``table``'s last
    page with rows like ``row(n)``: the next such row needs a page there is no room for, as on
    a full disk. Returns the rows added."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    added = 0
    while True:
        values = row(added)
        try:
            with db.conn:
                db.conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values))})",
                                values)
        except sqlite3.OperationalError as e:
            assert "full" in str(e)
            return added
        added += 1


def translated(app, code: str, text: str) -> str:
    with app.test_request_context():
        i18n.set_request_language(code)
        return i18n._(text)


TITLE = "The centre's computer is full"
MESSAGE = ("There is no space left on this computer's disk, so this could not be saved. Nothing "
           "was changed. Please tell the facilitator or the centre's admin.")


def test_a_sign_in_on_a_full_disk_gets_a_plain_page_in_the_persons_language(app, db):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="es")
    client = app.test_client()
    sign_in = SignIn(client)
    client.post("/language", data={"lang": "es", "csrf_token": sign_in.token()})
    with app.app_context():
        served = get_db()  # the connection this thread's requests use
        fill_table(served, "sessions", lambda n: (
            hashlib.sha256(str(n).encode()).hexdigest(), rosa["id"], iso(WHEN), iso(WHEN)))
    sessions, failures = count(db, "sessions"), count(db, "pin_failures")

    response = sign_in.pin(rosa, PIN)
    html = response.get_data(as_text=True)
    assert response.status_code == 507
    assert 'lang="es"' in html
    assert escape(translated(app, "es", TITLE)) in html
    assert escape(translated(app, "es", MESSAGE)) in html
    assert (count(db, "sessions"), count(db, "pin_failures")) == (sessions, failures)
    assert "Rosa Quishpe" not in client.get("/").get_data(as_text=True)  # not signed in

    served.execute("PRAGMA max_page_count = 1073741823")  # space was freed
    assert sign_in.pin(rosa, PIN).status_code == 302


def test_other_database_errors_still_get_the_500_page(app, db):
    """Only a full disk gets the 507 page: a damaged database is not the disk's fault."""
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe")
    db.execute("DROP TABLE pin_failures")  # a broken database, not a full one
    served = create_app({"DATA_DIR": app.config["DATA_DIR"]})  # not TESTING: errors answered
    response = served.test_client().get(f"/auth/signin/{rosa['id']}")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)


# Syncing: a reserve of free space, and every failure recorded.


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A demo hub: its courses' pictures are what a new centre's first sync fetches."""
    server = start_demo_server(tmp_path_factory.mktemp("hub"), role="hub",
                               env={"INFOCENTRE_SYNC_DAEMON": "0"})
    yield server
    server.stop()


def new_centre(tmp_path, hub, name="Centro San Pablo") -> Path:
    path = tmp_path / "centre"
    join_centre(hub.data_dir, path, name, hub.url)
    return path


def sync_json(path, **env) -> dict:
    return json.loads(infocentre(path, "sync", "now", "--json", env=env, check=False).stdout)


def status_json(path) -> dict:
    return json.loads(infocentre(path, "sync", "status", "--json").stdout)


def sync_page(path, clock) -> str:
    app = make_app(path, clock, SYNC_DAEMON=False)
    db = open_db(path / "infocentre.db")
    try:
        facilitator = make_account(db, app.config["CENTRE_ID"], role="facilitator", lang="en")
    finally:
        db.close()
    client = app.test_client()
    SignIn(client).pin(facilitator, PIN)
    return client.get("/sync").get_data(as_text=True)


@pytest.mark.live
def test_below_the_reserve_photos_wait_and_the_rows_still_sync(tmp_path, hub, clock):
    path = new_centre(tmp_path, hub)
    # A reserve larger than any disk: the disk is "almost full" whatever it holds.
    report = sync_json(path, INFOCENTRE_DISK_RESERVE_MB=str(10**12))
    assert report["status"] == "synced" and report["received"] > 0
    assert report["blobs_received"] == report["blob_bytes_received"] == 0
    assert report["media_waiting"] > 0
    assert db_rows(path, "SELECT count(*) FROM course_media")[0][0] > 0  # the rows came
    assert not [p for p in (path / "media").rglob("*") if p.is_file()]  # not a byte fetched

    status = status_json(path)
    assert status["last_error"] is None and status["last_success"]
    assert status["media_waiting"] == report["media_waiting"]
    assert status["disk_free"] > 0
    plain = infocentre(path, "sync", "status").stdout
    assert "Disk almost full: photos and recordings wait until space is freed (" in plain
    assert f"({do_filesizeformat(status['disk_free'])[:2]}" in plain  # how much is free
    page = sync_page(path, clock)
    assert "Disk almost full: photos and recordings wait until space is freed" in page

    # Space was freed: the next sync fetches what waited, and the note goes.
    again = sync_json(path)
    assert again["blobs_received"] == report["media_waiting"] and again["media_waiting"] == 0
    assert status_json(path)["media_waiting"] == 0
    assert "Disk almost full" not in infocentre(path, "sync", "status").stdout


@pytest.mark.live
def test_a_sync_stopped_by_a_full_database_is_recorded_in_plain_words(tmp_path, hub, clock):
    path = new_centre(tmp_path, hub)
    app = make_app(path, clock, SYNC_DAEMON=False)
    with app.app_context():
        served = get_db()  # the connection run_sync uses in this thread
        served.execute(f"PRAGMA max_page_count = "
                       f"{served.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(sqlite3.OperationalError, match="full"):
        syncing.run_sync(app)

    status = status_json(path)
    assert status["last_success"] is None
    assert status["last_error"].startswith("The disk of this computer is full")
    assert db_rows(path, "SELECT last_error_code FROM sync_status") == [("disk_full",)]
    assert "The disk of this computer is full" in sync_page(path, clock)
    assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]

    served.execute("PRAGMA max_page_count = 1073741823")  # space was freed
    assert syncing.run_sync(app).status == "synced"
    assert status_json(path)["last_error"] is None


@pytest.mark.live
def test_a_failure_the_database_cannot_take_is_still_shown(tmp_path, hub, clock):
    """The database refuses every write (here: read-only for the sync's connection; on a full
    disk, its WAL cannot grow): the outcome goes to a small file made ahead of need, and the
    status shows the failure instead of "never synced" with no problem."""
    path = new_centre(tmp_path, hub)
    app = make_app(path, clock, SYNC_DAEMON=False)
    with app.app_context():
        served = get_db()
        served.execute("PRAGMA query_only = 1")
    with pytest.raises(sqlite3.OperationalError):
        syncing.run_sync(app)
    served.execute("PRAGMA query_only = 0")  # (the page's sign-in uses it too)

    assert db_rows(path, "SELECT last_attempt_at, failures FROM sync_status") == [(None, 0)]
    status = status_json(path)
    assert status["last_success"] is None
    assert status["last_error"].startswith("A problem on this computer stopped the sync")
    assert "Last problem:" in sync_page(path, clock)

    assert syncing.run_sync(app).status == "synced"
    status = status_json(path)
    assert status["last_error"] is None and status["last_success"]


# A real full disk: a small tmpfs of the test's own (root, and a kernel that allows it).


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MB filesystem mounted for this test; skips where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs",
                               str(mount)], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot mount a small disk here: {e}")
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small disk here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free (as the photo chunks once did)."""
    filler = disk / f"filler-{len(list(disk.glob('filler-*')))}"
    with filler.open("wb") as out:
        while (free := shutil.disk_usage(disk).free) > leave:
            try:
                out.write(bytes(min(1 << 20, free - leave)))
                out.flush()
            except OSError:
                break
    return filler


def sign_in_live(url: str, account_id: str, pin: str):
    session = requests.Session()
    form = session.get(f"{url}/auth/signin/{account_id}", timeout=30)
    token = CSRF.search(form.text).group(1)
    return session.post(f"{url}/auth/signin/{account_id}", data={"pin": pin,
                        "csrf_token": token}, allow_redirects=False, timeout=30)


@pytest.mark.live
def test_a_centre_on_a_full_disk_keeps_serving_says_so_and_recovers(small_disk, hub):
    path = small_disk / "centre"
    join_centre(hub.data_dir, path, "Centro San Pablo", hub.url)
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    [(rosa,)] = db_rows(path, "SELECT id FROM accounts WHERE name = 'Rosa Quishpe'")

    # The default reserve (200 MB at least) is more than this whole disk: photos wait.
    first = sync_json(path)
    assert first["status"] == "synced" and first["sent"] == 1
    assert first["media_waiting"] > 0 and first["blob_bytes_received"] == 0
    assert "Disk almost full" in infocentre(path, "sync", "status").stdout

    # Something else fills the disk while the centre serves and syncs by itself.
    server = start_server(path, env={"INFOCENTRE_SYNC_INTERVAL": "0.3",
                                     "INFOCENTRE_SYNC_RETRY_MIN": "0.2",
                                     "INFOCENTRE_SYNC_RETRY_MAX": "0.5"})
    try:
        filler = fill(small_disk)
        refused = sign_in_live(server.url, rosa, "1234")
        assert refused.status_code == 507, refused.status_code
        assert 'lang="es"' in refused.text  # the centre's language (the person's is unknown)
        assert db_rows(path, "SELECT count(*) FROM sessions") == [(0,)]
        # The daemon's next try fails, and the failure is there to read, in plain words.
        wait_for(lambda: (status_json(path)["last_error"] or "").startswith(
            "The disk of this computer is full"), what="the failure recorded")
        assert server.process.poll() is None  # still serving
    finally:
        server.stop()

    # Stopped, it cannot open its database on a disk with no room at all: it says why.
    fill(small_disk)
    refused = infocentre(path, "serve", "--port", str(free_port()), check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("infocentre: The disk of this computer is full (")
    assert "Traceback" not in refused.stderr

    # Room for SQLite's shared-memory file (32 KiB) and no more: it starts, and serves what
    # needs no writing, although its daemon cannot note when it will try next.
    for made in small_disk.glob("filler-*"):
        made.unlink()
    filler = fill(small_disk, leave=36 * 1024)
    server = start_server(path)
    try:
        assert requests.get(f"{server.url}/auth/signin", timeout=30).status_code == 200
    finally:
        server.stop()
    assert "It syncs with the hub by itself" in (path / "server.log").read_text()

    filler.unlink()  # space was freed
    server = start_server(path, env={"INFOCENTRE_SYNC_DAEMON": "0"})
    try:
        assert sign_in_live(server.url, rosa, "1234").status_code == 302
    finally:
        server.stop()
    assert sync_json(path, INFOCENTRE_DISK_RESERVE_MB="1")["blobs_received"] > 0
    status = status_json(path)
    assert status["last_error"] is None and status["media_waiting"] == 0
    assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_start_that_must_migrate_on_a_full_disk_leaves_no_half_backup(small_disk,
                                                                        monkeypatch):
    """An upgrade backs the database up first; on a disk without room for the copy, the start
    fails (the command says the disk is full), the database is as it was, and no cut-short
    copy keeps what little space there was."""
    path = small_disk / "centre"
    init_installation(path, role="node", name="Centro San Pablo")
    pending = Migrations("kiosk")
    for migration in data.MIGRATIONS._migrations:
        pending(name=migration.name)(migration.fn)

    @pending(name="m9999_test_column")
    def add_column(db):
        db.execute("ALTER TABLE centres ADD COLUMN motto TEXT")

    monkeypatch.setattr(data, "MIGRATIONS", pending)
    size = (path / "infocentre.db").stat().st_size
    fill(small_disk, leave=size // 2)  # room for SQLite's own files, not for a copy
    free = shutil.disk_usage(small_disk).free
    with pytest.raises(sqlite3.DatabaseError) as failed:
        create_app({"DATA_DIR": str(path)})
    assert data.is_disk_full(failed.value, path)
    assert not list(path.glob("backups/*"))
    assert shutil.disk_usage(small_disk).free >= free
    assert "motto" not in {r[1] for r in db_rows(path, "PRAGMA table_info(centres)")}
