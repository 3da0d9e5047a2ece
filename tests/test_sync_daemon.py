"""Syncing by itself: the retry schedule, one sync at a time across processes, the status kept
in the database (``sync status``, the kiosk's sync page, the "Sync now" button), and the daemon
as a real process against a real hub, behind a proxy the test switches on and off."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kiosk import syncing
from kiosk.config import update_file, write_token
from sync import daemon as daemons
from sync.errors import AlreadySyncing, Unreachable

from .conftest import SignIn, make_app
from .factories import PIN, make_account
from .faults import Proxy
from .live import db_rows, free_port, infocentre, start_demo_server, start_server
from .test_sync_cli import new_node


def wait_for(check, timeout: float = 20.0, what: str = "it"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def status_json(path) -> dict:
    return json.loads(infocentre(path, "sync", "status", "--json").stdout)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("hub"), role="hub",
                               env={"INFOCENTRE_SYNC_DAEMON": "0"})
    yield server
    server.stop()


# The retry schedule.


def test_retries_double_up_to_the_ceiling_with_jitter_between_half_and_whole():
    rng = random.Random(7)
    for failures in range(1, 15):
        ceiling = min(60.0, 2.0 * 2 ** (failures - 1))
        waits = [daemons.retry_delay(failures, low=2, high=60, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert max(waits) - min(waits) > ceiling / 4  # centres do not retry in step
    assert daemons.retry_delay(1000, low=2, high=60, rng=rng) <= 60


# The daemon's loop, on plain values: a centre given as an object, no Flask app.


class ScriptedCentre:
    """A centre whose syncs end as the test says, in order ("ok", "busy", or an error)."""

    def __init__(self, outcomes):
        self.outcomes, self.calls, self.failed, self.planned = list(outcomes), [], 0, []

    def failures(self) -> int:
        return self.failed

    def probe(self) -> None:
        self.calls.append("probe")

    def sync(self):
        self.calls.append("sync")
        outcome = self.outcomes.pop(0)
        if outcome == "busy":
            raise AlreadySyncing("held elsewhere")
        if isinstance(outcome, Exception):
            self.failed += 1
            raise outcome
        self.failed = 0
        from sync.client import SyncReport

        return SyncReport()

    def plan(self, seconds: float) -> None:
        self.planned.append(seconds)

    def error_code(self, error) -> str:
        return f"unreachable:{error.reason}" if isinstance(error, Unreachable) else "error"


def test_the_daemon_backs_off_probes_first_after_a_failure_and_leaves_a_running_sync_alone():
    centre = ScriptedCentre([Unreachable("no", "no_answer"), Unreachable("no", "no_answer"),
                             "busy", "ok"])
    daemon = daemons.Daemon(centre, interval=300, retry_min=30, retry_max=3600,
                            rng=random.Random(1))
    waits = [daemon.attempt() for _ in range(4)]
    assert centre.calls == ["sync", "probe", "sync", "probe", "sync", "probe", "sync"]
    assert 15 <= waits[0] <= 30 and 30 <= waits[1] <= 60  # doubling, with jitter
    assert waits[2:] == [300, 300]  # someone else's sync counts as done; a success waits long
    assert centre.planned == waits  # each next try noted where people read it
    daemon.stop()


def test_daily_jobs_run_at_start_and_a_failing_one_stops_nothing():
    ran = threading.Event()
    scheduler = daemons.Scheduler()
    scheduler.daily("broken", lambda: 1 / 0, first=0)
    scheduler.daily("purge", ran.set, first=0)
    scheduler.start()
    try:
        assert ran.wait(10)
        assert sorted(scheduler.jobs()) == ["daily:broken", "daily:purge"]
    finally:
        scheduler.stop()


# One sync at a time.


HOLD_LOCK = """
import sys
import threading
from sync.daemon import sync_lock
with sync_lock(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_only_one_sync_runs_at_a_time_across_processes(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert daemons.is_running(path)
        result = infocentre(path, "sync", "now", "--json", check=False)
        assert result.returncode == 1 and "Another sync" in result.stderr
        assert json.loads(result.stdout)["status"] == "error"
        assert status_json(path)["last_success"] is None  # a refused start records nothing
    finally:
        holder.stdin.close()
        holder.wait(10)
    assert not daemons.is_running(path)  # the OS let go of it with the process
    assert infocentre(path, "sync", "now").returncode == 0


def test_a_look_at_the_lock_never_makes_a_sync_give_up(tmp_path):
    """The sync page asks `is_running` every second; a sync starting at that instant must run."""
    with daemons.sync_lock(tmp_path):  # someone looking, for a while longer than a look takes
        started = time.monotonic()
        waiter = threading.Thread(target=lambda: held.append(_take(tmp_path)))
        held: list = []
        waiter.start()
        time.sleep(0.3)
    waiter.join(5)
    assert held == ["taken"] and time.monotonic() - started >= 0.3
    # A real sync holding it for longer than the wait still turns the next one away.
    with daemons.sync_lock(tmp_path), pytest.raises(AlreadySyncing):
        with daemons.sync_lock(tmp_path, wait=0.2):
            pass


def _take(data_dir) -> str:
    with daemons.sync_lock(data_dir, wait=daemons.LOCK_WAIT):
        return "taken"


def test_a_killed_sync_does_not_keep_the_lock(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(10)
    assert not daemons.is_running(path)


# Status.


def test_sync_status_tells_the_last_success_what_waits_and_the_last_problem(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    first_look = status_json(path)
    assert first_look.pop("disk_free") > 0
    assert first_look == {"last_success": None, "pending_changes": 0, "last_error": None,
                          "next_attempt": None, "media_waiting": 0, "disk_note": None}
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    assert status_json(path)["pending_changes"] == 1
    infocentre(path, "sync", "now")
    first = status_json(path)
    assert first["pending_changes"] == 0 and first["last_error"] is None
    assert first["last_success"].startswith(time.strftime("%Y-", time.gmtime()))

    update_file(path, hub_url=f"http://127.0.0.1:{free_port()}")  # nobody answers there
    assert infocentre(path, "sync", "now", check=False).returncode == 3
    failed = status_json(path)
    assert failed["last_success"] == first["last_success"]
    assert failed["last_error"].startswith("No connection to the hub")
    plain = infocentre(path, "sync", "status").stdout
    assert "Last problem: No connection" in plain and "waiting to go to the hub: 0" in plain


def test_sync_status_is_a_centres_command(hub):
    result = infocentre(hub.data_dir, "sync", "status", check=False)
    assert result.returncode == 1 and "runs at a centre" in result.stderr


# The daemon, as a real process.


def test_the_daemon_backs_off_while_the_hub_is_away_and_syncs_when_it_comes_back(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    proxy = Proxy(free_port())  # forwards to a port where nothing listens: "no connection"
    update_file(path, hub_url=f"http://127.0.0.1:{proxy.port}")
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    env = {"INFOCENTRE_SYNC_INTERVAL": "0.5", "INFOCENTRE_SYNC_RETRY_MIN": "0.2",
           "INFOCENTRE_SYNC_RETRY_MAX": "1"}
    daemon = subprocess.Popen([sys.executable, "-m", "kiosk", "--data-dir", str(path), "sync",
                               "daemon"], env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: db_rows(path, "SELECT failures FROM sync_status")[0][0] >= 4,
                 what="four failed tries")
        failed = status_json(path)
        assert failed["last_success"] is None and failed["pending_changes"] == 1
        assert failed["last_error"].startswith("No connection") and failed["next_attempt"]

        proxy.target_port = int(hub.url.rsplit(":", 1)[1])  # the link comes up
        wait_for(lambda: db_rows(hub.data_dir, "SELECT 1 FROM accounts WHERE name = ?",
                              ["Rosa Quishpe"]), what="the account reaching the hub")
        # The status is written once the whole sync is over, a moment after the push.
        synced = wait_for(lambda: (s := status_json(path))["last_success"] and s,
                          what="the sync recorded")
        assert synced["last_error"] is None and synced["pending_changes"] == 0

        # Still running: a change made later goes up by itself too.
        infocentre(path, "user", "add", "Manuel Guamán", "--role", "villager", "--pin", "1234")
        wait_for(lambda: db_rows(hub.data_dir, "SELECT 1 FROM accounts WHERE name = ?",
                              ["Manuel Guamán"]), what="the second account reaching the hub")
    finally:
        daemon.terminate()
        output = daemon.communicate(timeout=20)[0]
        proxy.close()
    assert daemon.returncode == 0, output
    assert "sync failed (unreachable:no_answer)" in output and "synced:" in output
    assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_a_joined_centres_server_syncs_by_itself(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    server = start_server(path, env={"INFOCENTRE_SYNC_INTERVAL": "0.5"})
    try:
        infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
        wait_for(lambda: db_rows(hub.data_dir, "SELECT 1 FROM accounts WHERE name = ?",
                              ["Rosa Quishpe"]), what="the account reaching the hub")
    finally:
        server.stop()
    assert "syncs with the hub by itself" in (path / "server.log").read_text()


def test_a_server_with_sync_daemon_off_leaves_syncing_alone(tmp_path, hub):
    path, _ = new_node(tmp_path, hub)
    update_file(path, sync_daemon=False)
    server = start_server(path)
    server.stop()
    # A daemon plans its first try as it starts; none was planned.
    assert status_json(path)["next_attempt"] is None
    assert "by itself" not in (path / "server.log").read_text()


def test_the_daemon_needs_a_hub(tmp_path):
    infocentre(tmp_path / "solo", "init", "--role", "node", "--name", "Solo")
    result = infocentre(tmp_path / "solo", "sync", "daemon", check=False)
    assert result.returncode == 1 and "no hub yet" in result.stderr


# The kiosk's sync page.


@pytest.fixture
def joined_app(data_dir, clock):
    """A centre whose hub is away (a port where nothing listens)."""
    update_file(data_dir, hub_url=f"http://127.0.0.1:{free_port()}")
    write_token(data_dir, "node." + "A" * 43)
    return make_app(data_dir, clock, SYNC_DAEMON=False)


def test_the_sync_page_shows_the_status_to_everyone_and_the_button_to_facilitators(
        joined_app, db):
    client = joined_app.test_client()
    sign_in = SignIn(client)
    centre = joined_app.config["CENTRE_ID"]
    villager = make_account(db, centre, role="villager")
    facilitator = make_account(db, centre, role="facilitator")

    assert client.get("/sync").status_code == 302  # guests sign in first
    sign_in.pin(villager, PIN)
    page = client.get("/sync").get_data(as_text=True)
    assert "Not synced yet" in page and "Waiting to go to the hub" in page
    assert "Sync now" not in page
    assert client.post("/sync/now", data={"csrf_token": sign_in.token()}).status_code == 403
    sign_in.out()

    sign_in.pin(facilitator, PIN)
    home = client.get("/").get_data(as_text=True)
    assert 'href="/sync"' in home
    page = client.get("/sync").get_data(as_text=True)
    assert "Sync now" in page
    assert client.post("/sync/now", data={}).status_code == 400  # no CSRF token: refused
    data = Path(joined_app.config["DATA_DIR"])
    with daemons.sync_lock(data):  # the daemon, or another terminal, is syncing
        db.execute("UPDATE sync_status SET progress = ?", [json.dumps(
            {"sent": 40, "received": 0, "to_send": 90, "file_bytes": 845_000})])
        busy = client.post("/sync/now", data={"csrf_token": sign_in.token()},
                           follow_redirects=True).get_data(as_text=True)
    assert "A sync is already running" in busy and "Syncing now" in busy
    assert "Sending: 40 of 90 changes" in busy
    assert 'Photos and recordings moved so far: <bdi dir="ltr">845.0 kB</bdi>' in busy
    response = client.post("/sync/now", data={"csrf_token": sign_in.token()})
    assert response.status_code == 302 and response.location.endswith("/sync")
    wait_for(lambda: not daemons.is_running(data) and db_rows(
        data, "SELECT last_error_code FROM sync_status")[0][0], what="the sync to fail")
    page = client.get("/sync").get_data(as_text=True)
    assert "Last problem:" in page and "No connection to the hub" in page


def test_a_standalone_centre_says_it_has_no_hub_and_offers_no_button(app, db, sign_in):
    admin = make_account(db, app.config["CENTRE_ID"], role="admin")
    sign_in.pin(admin, PIN)
    page = sign_in.client.get("/sync").get_data(as_text=True)
    assert "not connected to a regional hub yet" in page and "Sync now" not in page
    response = sign_in.client.post("/sync/now", data={"csrf_token": sign_in.token()},
                                   follow_redirects=True)
    assert "not connected to a regional hub yet" in response.get_data(as_text=True)


def test_the_hub_has_no_sync_page(hub_client):
    assert hub_client.get("/sync").status_code == 404


def test_the_next_try_is_shown_by_the_hubs_clock_like_every_other_time(joined_app, db, clock):
    """The PC runs a day behind the hub; the scheduler waits on the PC's clock, but the time
    stored for people is the hub's, as "last sync" is, so "next try in 10 minutes" stays true."""
    db.execute("UPDATE _sync_state SET offset_ms = ?", [86_400_000])
    daemon = syncing.make_daemon(joined_app)  # never started: only its plan is looked at
    daemon._schedule(600)
    [(when,)] = db.execute("SELECT next_attempt_at FROM sync_status").fetchall()
    assert when == "2026-11-24T15:10:00+00:00", when  # the fake clock's now, a day on, + 600 s
    with joined_app.app_context():
        syncing.record(db, {"status": "synced"})
    assert db.execute("SELECT last_success_at FROM sync_status").fetchone()[0] == (
        "2026-11-24T15:00:00+00:00")
