"""Sessions on shared terminals: idle sign-out decided by the server, sign-out that leaves
nothing behind, and cookies and caching that keep one villager's pages from the next."""

import pytest

from .conftest import csrf_from, make_app
from .factories import PIN, count, make_account


@pytest.fixture
def rosa(app, db):
    return make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="es")


def test_idle_session_is_ended_by_the_server_without_any_javascript(rosa, client, sign_in,
                                                                    clock, db):
    sign_in.pin(rosa, PIN)
    clock.advance(minutes=4, seconds=50)
    assert client.get("/auth/me").status_code == 200  # activity: the countdown starts again
    clock.advance(minutes=4, seconds=50)
    assert client.get("/auth/me").status_code == 200
    clock.advance(minutes=5)
    response = client.get("/auth/me")
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/auth/signin")
    page = client.get("/").get_data(as_text=True)
    assert "signed out because nobody used this screen for 5 minutes" in page
    assert count(db, "sessions") == 0


def test_a_session_still_idles_out_after_a_sync_puts_a_fast_clock_back(rosa, client, sign_in,
                                                                       clock, db):
    """The PC ran a day ahead; the first sync learns the hub's time, so "now" goes back a day
    and the session looks seen in the future. It must not stay open until the clock catches
    up: idleness counts again from the corrected now."""
    sign_in.pin(rosa, PIN)
    db.execute("UPDATE _sync_state SET offset_ms = ?", [-86_400_000])  # as a sync sets it
    assert client.get("/auth/me").status_code == 200
    clock.advance(minutes=5, seconds=1)
    response = client.get("/auth/me")
    assert response.status_code == 302 and count(db, "sessions") == 0


def test_idle_time_is_a_setting(data_dir, clock, db):
    app = make_app(data_dir, clock, IDLE_MINUTES=2)
    client = app.test_client()
    rosa = make_account(db, app.config["CENTRE_ID"])
    from .conftest import SignIn

    SignIn(client).pin(rosa, PIN)
    clock.advance(minutes=1, seconds=59)
    assert client.get("/auth/me").status_code == 200
    clock.advance(minutes=2)
    assert client.get("/auth/me").status_code == 302


def test_keepalive_restarts_the_countdown_and_reports_the_time_left(rosa, client, sign_in,
                                                                   clock):
    sign_in.pin(rosa, PIN)
    token = csrf_from(client.get("/auth/me"))
    clock.advance(minutes=4, seconds=30)
    reply = client.post("/auth/keepalive", headers={"X-CSRFToken": token})
    assert reply.status_code == 200 and reply.json == {"ok": True, "seconds_left": 300}
    clock.advance(minutes=4, seconds=30)
    assert client.get("/auth/me").status_code == 200


def test_keepalive_without_a_session_answers_json_401(client, sign_in):
    token = sign_in.token()
    reply = client.post("/auth/keepalive", headers={"X-CSRFToken": token})
    assert reply.status_code == 401
    assert reply.json["ok"] is False and reply.json["errors"][0]["code"] == "signed_out"


def test_keepalive_needs_the_csrf_token(rosa, client, sign_in):
    sign_in.pin(rosa, PIN)
    assert client.post("/auth/keepalive").status_code == 400


def test_page_tells_the_countdown_how_long_is_left(rosa, client, sign_in, clock):
    sign_in.pin(rosa, PIN)
    clock.advance(seconds=5)  # within the write throttle: the stored time is not renewed
    html = client.get("/auth/me").get_data(as_text=True)
    assert 'data-seconds-left="295"' in html and 'data-idle-seconds="300"' in html


def test_sign_out_ends_the_session_for_good(rosa, app, client, sign_in, db):
    sign_in.pin(rosa, PIN)
    stolen = client.get_cookie("infocentre").value
    response = sign_in.out()
    assert response.status_code == 302
    assert "You are signed out" in client.get("/").get_data(as_text=True)
    assert count(db, "sessions") == 0

    replay = app.test_client()  # someone kept a copy of the old cookie
    replay.set_cookie("infocentre", stolen)
    assert replay.get("/auth/me").status_code == 302


def test_sign_in_starts_a_new_session_and_forgets_the_guest_one(rosa, client, sign_in):
    client.get("/language")  # a page with forms gives the guest a session
    guest_cookie = client.get_cookie("infocentre").value
    sign_in.pin(rosa, PIN)
    assert client.get_cookie("infocentre").value != guest_cookie


def test_language_chosen_by_the_last_person_does_not_survive_sign_out(rosa, client, sign_in):
    sign_in.pin(rosa, PIN)
    client.post("/language", data={"lang": "ar", "csrf_token": sign_in.token()})
    assert 'dir="rtl"' in client.get("/").get_data(as_text=True)
    sign_in.out()
    assert 'lang="en" dir="ltr"' in client.get("/").get_data(as_text=True)


def test_session_cookie_is_http_only_and_same_site(rosa, client, sign_in):
    response = sign_in.pin(rosa, PIN)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_are_never_stored_so_back_shows_nothing_after_sign_out(rosa, client, sign_in):
    sign_in.pin(rosa, PIN)
    for path in ("/", "/auth/me", "/auth/signin"):
        assert client.get(path).headers["Cache-Control"] == "no-store"


def test_static_files_with_a_version_are_cached_for_long(client):
    html = client.get("/").get_data(as_text=True)
    css = html.split('href="/static/css/app.css?v=')[1].split('"')[0]
    response = client.get(f"/static/css/app.css?v={css}")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]


def test_sign_out_works_even_when_the_page_was_left_from_an_ended_session(rosa, client,
                                                                          sign_in, clock):
    sign_in.pin(rosa, PIN)
    clock.advance(minutes=6)
    response = client.post("/auth/signout", data={"csrf_token": "from-an-old-page"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_new_pin_ends_the_persons_other_sessions(app, db, rosa, client, sign_in):
    sign_in.pin(rosa, PIN)
    facilitator = make_account(db, app.config["CENTRE_ID"], role="facilitator")
    other = app.test_client()
    from .conftest import SignIn

    helper = SignIn(other)
    helper.pin(facilitator, PIN)
    other.post(f"/auth/people/{rosa['id']}", data={
        "pin": "9753", "confirm": "9753", "csrf_token": helper.token()})
    assert client.get("/auth/me").status_code == 302


# Daily housekeeping (issue 15): the sessions table no longer grows for ever.


def _wait_for(check, timeout: float = 20.0):
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the daily job did not run"
        time.sleep(0.05)


def test_the_daily_job_forgets_sessions_idle_past_the_limit_and_keeps_live_ones(app, db, clock):
    from kiosk import housekeeping
    from kiosk.auth import models

    centre = app.config["CENTRE_ID"]
    rosa, manuel = make_account(db, centre), make_account(db, centre)
    models.start_session(db, rosa["id"], clock())
    clock.advance(minutes=5, seconds=1)  # Rosa left the terminal: past IDLE_MINUTES
    live = models.start_session(db, manuel["id"], clock())
    assert count(db, "sessions") == 2
    assert "kiosk.auth.purge_idle_sessions" in dict(housekeeping.daily_jobs(app))
    jobs = housekeeping.start(app, first=0)  # the scheduler `infocentre serve` runs
    try:
        _wait_for(lambda: count(db, "sessions") == 1)
        assert "daily:kiosk.auth.purge_idle_sessions" in jobs.jobs()  # and again tomorrow
    finally:
        jobs.stop()
    assert models.resume_session(db, live, clock(), 300).account["id"] == manuel["id"]


@pytest.mark.live
def test_a_running_server_purges_idle_sessions_and_takes_a_backup_by_itself(tmp_path):
    import datetime as dt
    import sqlite3

    from kiosk.backups import list_backups

    from .live import db_rows, infocentre, start_server

    path = tmp_path / "centre"
    infocentre(path, "init", "--role", "node", "--name", "Centro")
    infocentre(path, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    now = dt.datetime.now(dt.timezone.utc)
    with sqlite3.connect(path / "infocentre.db") as conn:
        [(account,)] = conn.execute("SELECT id FROM accounts").fetchall()
        for sid, seen in (("stale", now - dt.timedelta(hours=3)), ("live", now)):
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                         [sid, account, seen.isoformat(timespec="seconds"),
                          seen.isoformat(timespec="seconds")])
    conn.close()
    server = start_server(path, env={"INFOCENTRE_BACKUP_DAILY": "1"})
    try:
        _wait_for(lambda: db_rows(path, "SELECT id FROM sessions") == [("live",)])
        # The day's backup, the other daily job, into the data directory's backups folder.
        _wait_for(lambda: len(list_backups(path / "backups")) == 1)
    finally:
        server.stop()
