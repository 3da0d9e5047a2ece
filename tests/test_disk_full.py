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
import sqlite3

from markupsafe import escape

from kiosk import create_app, i18n
from kiosk.data import get_db, iso

from .conftest import SignIn
from .factories import PIN, WHEN, count, make_account


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
