"""A class at work (issue 14): learners answering and reading while the facilitator takes
attendance and another connection writes as a sync does, against a real server; not one
acknowledged answer lost, no "database is locked". And a burst of wrong PINs from several
terminals at once compares no more than five."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from kiosk.auth import models as accounts
from kiosk.classes import models as classes
from kiosk.classes.demo import DEMO_CLASS_NAME
from kiosk.courses import models as courses
from kiosk.data import open_db, utcnow

from .live import DEMO, DEMO_PIN, db_rows, start_demo_server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
QUESTION = re.compile(r'name="question" value="([^"]+)"')
CHOICE = re.compile(r'name="choice" value="([^"]+)"')
PRESENT = re.compile(r'name="present" value="([^"]+)"')
DAY = re.compile(r'name="day" value="([^"]+)"')
LEARNERS = 10
PIN = "2468"


class Terminal:
    def __init__(self, url):
        self.url, self.http = url, requests.Session()

    def get(self, path):
        return self.http.get(self.url + path, timeout=30)

    def post(self, path, data):
        return self.http.post(self.url + path, data=data, timeout=30)

    def token(self):
        return CSRF.search(self.get("/language").text)[1]

    def sign_in(self, account_id, pin):
        return self.post(f"/auth/signin/{account_id}", {"pin": pin, "csrf_token": self.token()})


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    """A demo centre with ten more learners in its demo class (one PIN hash for all)."""
    path = tmp_path_factory.mktemp("busy") / "centre"
    server = start_demo_server(path)
    db = open_db(path / "infocentre.db")
    centre_id = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    class_id = db.execute("SELECT id FROM classes WHERE name = ?",
                          [DEMO_CLASS_NAME]).fetchone()[0]
    course_id = db.execute("SELECT course_id FROM classes WHERE id = ?", [class_id]).fetchone()[0]
    pin_hash = accounts.hash_secret(PIN)
    learners = []
    for number in range(LEARNERS):
        made = accounts.add_account(db, centre_id=centre_id, name=f"Estudiante {number}",
                                    role="villager", lang="es", now=utcnow())
        db.execute("UPDATE accounts SET pin_hash = ? WHERE id = ?", [pin_hash, made["id"]])
        classes.enrol(db, class_id=class_id, learner_id=made["id"], centre_id=centre_id,
                      now=utcnow())
        learners.append(made["id"])
    lessons = courses.lessons_of(db, course_id, "es")
    db.close()
    yield {"server": server, "path": path, "learners": learners, "class_id": class_id,
           "course_id": course_id,
           "quizzes": [lesson["id"] for lesson in lessons if lesson["kind"] == "quiz"],
           "reading": [lesson["id"] for lesson in lessons if lesson["kind"] == "lesson"]}
    server.stop()


def a_sync_writing(path, stop: threading.Event) -> None:
    """Another connection writing as the sync daemon does: short write transactions, one after
    another, on the tables the learners write."""
    db = sqlite3.connect(path / "infocentre.db", timeout=10)
    while not stop.is_set():
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE sync_status SET progress = ? WHERE id = 1", [str(time.time())])
        db.execute("UPDATE progress SET updated_at = updated_at WHERE rowid IN "
                   "(SELECT rowid FROM progress LIMIT 20)")
        time.sleep(0.005)
        db.execute("COMMIT")
        time.sleep(0.002)
    db.close()


def test_a_class_answering_at_once_loses_nothing(centre):
    url, errors, acknowledged = centre["server"].url, [], {}
    course = centre["course_id"]

    def learner(account_id):
        terminal = Terminal(url)
        assert terminal.sign_in(account_id, PIN).history, "not signed in"
        for _round in range(12):
            lesson = random.choice(centre["reading"])
            page = terminal.get(f"/courses/{course}/lessons/{lesson}?page=1")
            if page.status_code != 200:
                errors.append(("lesson", page.status_code))
            quiz = f"/courses/{course}/quiz/{random.choice(centre['quizzes'])}"
            body = terminal.get(quiz).text
            if not QUESTION.search(body):
                body = terminal.get(quiz + "?again=1").text
            sent = terminal.post(quiz, {"question": QUESTION.search(body)[1],
                                        "choice": random.choice(CHOICE.findall(body)),
                                        "csrf_token": CSRF.search(body)[1]})
            if sent.status_code == 200 and "feedback" in sent.text:
                acknowledged[account_id] = acknowledged.get(account_id, 0) + 1
            else:
                errors.append(("answer", sent.status_code))

    def facilitator():
        terminal = Terminal(url)
        facilitator_id = db_rows(centre["path"], "SELECT id FROM accounts WHERE name = ?",
                                 [DEMO["facilitator"]])[0][0]
        terminal.sign_in(facilitator_id, DEMO_PIN["facilitator"])
        page = terminal.post(f"/courses/classes/{centre['class_id']}/sessions",
                             {"csrf_token": terminal.token()})
        everyone = PRESENT.findall(page.text)
        day = DAY.search(page.text)[1]  # today's list: saving it with its day makes the session
        here = set()
        for _round in range(15):
            here = set(random.sample(everyone, len(everyone) // 2))
            saved = terminal.post(page.url.removeprefix(url), {
                "present": sorted(here), "day": day, "csrf_token": terminal.token()})
            if saved.status_code != 200:
                errors.append(("attendance", saved.status_code))
                here = None
        return classes.session_id(centre["class_id"], day), here

    stop = threading.Event()
    writer = threading.Thread(target=a_sync_writing, args=(centre["path"], stop))
    writer.start()
    try:
        with ThreadPoolExecutor(LEARNERS + 1) as pool:
            desk = pool.submit(facilitator)
            for done in [pool.submit(learner, i) for i in centre["learners"]]:
                done.result()
            session_id, present = desk.result()
    finally:
        stop.set()
        writer.join()

    assert errors == []
    for account_id, count in acknowledged.items():
        stored = sum(len(json.loads(row[0])) for row in db_rows(
            centre["path"], "SELECT answers FROM quiz_attempts WHERE learner_id = ?",
            [account_id]))
        assert stored >= count, account_id
    marks = db_rows(centre["path"], "SELECT learner_id FROM attendance WHERE session_id = ? "
                    "AND present = 1", [session_id])
    assert {row[0] for row in marks} == present  # the last attendance saved


def test_reading_a_page_already_remembered_writes_nothing(centre):
    terminal = Terminal(centre["server"].url)
    terminal.sign_in(centre["learners"][0], PIN)
    lesson = f"/courses/{centre['course_id']}/lessons/{centre['reading'][0]}?page=1"
    assert terminal.get(lesson).status_code == 200  # remembers page 1 of this lesson
    db = sqlite3.connect(centre["path"] / "infocentre.db")
    # Changes whenever another connection commits (the server's, here).
    version = db.execute("PRAGMA data_version").fetchone()
    for _ in range(3):
        assert terminal.get(lesson).status_code == 200
    assert db.execute("PRAGMA data_version").fetchone() == version, "a page view wrote"
    db.close()


def test_wrong_pins_from_many_terminals_at_once_lock_after_five(centre):
    """Four terminals, each with its own session and CSRF token, send fifty wrong PINs at once:
    at most five are compared, the account ends locked, and even the right PIN is refused."""
    url = centre["server"].url
    target = centre["learners"][-1]
    terminals = [Terminal(url) for _ in range(4)]
    tokens = [t.token() for t in terminals]

    def wrong(n):
        terminal, token = terminals[n % 4], tokens[n % 4]
        return terminal.post(f"/auth/signin/{target}", {"pin": f"{9000 + n}",
                                                         "csrf_token": token}).status_code

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(wrong, range(50)))
    assert set(answers) <= {400, 403}
    assert answers.count(400) <= 4  # "not right, N more tries": the fifth locks (403)
    right = Terminal(url).sign_in(target, PIN)
    assert right.status_code == 403 and "se abre de nuevo a las" in right.text  # in Spanish
