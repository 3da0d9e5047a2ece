"""People pages on a busy day, against a real server: the same form from several terminals."""

from __future__ import annotations

import re
import threading

import pytest
import requests

from .factories import PIN, make_account
from .live import db_rows, start_server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TERMINALS = 5


@pytest.fixture
def server(data_dir, app, db):
    facilitator = make_account(db, app.config["CENTRE_ID"], role="facilitator",
                               name="Lucía Andrango", lang="en")
    live = start_server(data_dir)
    yield live, facilitator
    live.stop()


def token(session: requests.Session, url: str) -> str:
    return CSRF.search(session.get(url, timeout=30).text).group(1)


def terminal(url: str, account: dict) -> requests.Session:
    """A browser of its own, signed in with the PIN, on the new-person form."""
    session = requests.Session()
    response = session.post(f"{url}/auth/signin/{account['id']}", timeout=30, data={
        "pin": PIN, "csrf_token": token(session, f"{url}/language")}, allow_redirects=False)
    assert response.status_code == 302
    return session


def test_the_same_new_person_sent_from_five_terminals_at_once_is_made_once(server, data_dir):
    live, facilitator = server
    sessions = [terminal(live.url, facilitator) for _ in range(TERMINALS)]
    tokens = [token(s, f"{live.url}/auth/people/new") for s in sessions]
    before = db_rows(data_dir, "SELECT count(*) FROM accounts")[0][0]
    start, answers = threading.Barrier(TERMINALS), [None] * TERMINALS

    def send(n: int) -> None:
        start.wait()
        answers[n] = sessions[n].post(f"{live.url}/auth/people/new", timeout=60, data={
            "name": "Luz María Pilco", "role": "villager", "lang": "es", "pin": "1357",
            "confirm": "1357", "csrf_token": tokens[n]}, allow_redirects=False)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(TERMINALS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert db_rows(data_dir, "SELECT count(*) FROM accounts WHERE name = ?",
                   ["Luz María Pilco"]) == [(1,)]
    assert db_rows(data_dir, "SELECT count(*) FROM accounts")[0][0] == before + 1
    assert sorted(a.status_code for a in answers) == [302] + [400] * (TERMINALS - 1)
    for refused in (a for a in answers if a.status_code == 400):
        assert "Someone at this centre already has this name" in refused.text
