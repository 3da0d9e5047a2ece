#!/usr/bin/env python3
"""A class day at a centre: a full class writing at once while the centre syncs (issue 14).

    .venv/bin/python scripts/bench_classday.py [--learners N] [--seconds S] [--json]

Sets up a demo hub and a demo centre joined to it in a temporary directory, adds N learners
(default 30) to the centre's demo class, and serves both as `infocentre serve` does; the centre's
own sync daemon syncs with the hub every few seconds throughout, as at a centre with a link.
Then, for S seconds (default 60):
- each learner, signed in on a terminal of their own, reads a lesson page, answers the next
  question of a quiz, and so on, with 0-2 s of thinking before each step;
- the facilitator saves the class's attendance (a different set of learners present each time)
  every 3-5 s, and looks at the progress grid in between.
Afterwards every acknowledged answer (the page came back with its feedback) and the last saved
attendance are looked for in the centre's database. Prints a table, or with --json one object:
{"learners", "requests", "errors", "acknowledged", "missing", "p50_ms", "p95_ms",
"peak_rss_mb", "syncs", "sync_failures"}: errors are requests that failed or answered an error
(5xx, or a refusal nobody asked for); peak_rss_mb is the centre server's VmHWM.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from local_server import command, environment, log, peak_rss_mb, serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"errors": ("<=", 0), "missing": ("<=", 0), "p95_ms": ("<=", 150),
         "peak_rss_mb": ("<=", 100)}
FACILITATOR, FACILITATOR_PIN = "Lucía Andrango", "2222"
LEARNER_PIN = "2468"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
QUESTION = re.compile(r'name="question" value="([^"]+)"')
CHOICE = re.compile(r'name="choice" value="([^"]+)"')
PRESENT = re.compile(r'name="present" value="([^"]+)"')
DAY = re.compile(r'name="day" value="([^"]+)"')


@dataclass
class Tally:
    """What every simulated person did, shared by the threads (under ``lock``)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)  # learner id → answers acknowledged
    marks: int = 0  # attendance marks acknowledged
    present: set[str] | None = None  # the last attendance saved

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


class Terminal:
    """One browser at the centre: its own cookies, every request timed into the tally."""

    def __init__(self, base: str, tally: Tally):
        self.base, self.tally = base, tally
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path: str, form: dict | list | None = None,
                timed: bool = True) -> tuple[int, str, str]:
        """(status, final URL, body); an error status is returned, not raised (0 when the
        request failed), for the caller to count."""
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        started = time.perf_counter()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                status, url, body = response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as e:
            status, url, body = e.code, self.base + path, e.read().decode(errors="replace")
        except OSError:
            return 0, "", ""
        if timed:
            with self.tally.lock:
                self.tally.timings.append(time.perf_counter() - started)
        return status, url, body

    def sign_in(self, account_id: str, pin: str) -> None:
        _status, _url, page = self.request("/language", timed=False)
        status, url, _body = self.request(f"/auth/signin/{account_id}",
                                          {"pin": pin, "csrf_token": CSRF.search(page)[1]},
                                          timed=False)
        if "/auth/signin" in url:
            raise SystemExit(f"could not sign in {account_id}: HTTP {status}")


def think(deadline: float, longest: float = 2.0) -> bool:
    """Wait 0 to ``longest`` seconds; False once the run is over."""
    time.sleep(random.uniform(0, longest))
    return time.monotonic() < deadline


def learner(terminal: Terminal, learner_id: str, course: dict, deadline: float) -> None:
    """Read a page, answer a question, again, until the deadline."""
    while think(deadline):
        lesson = random.choice(course["lessons"])
        page = random.randint(1, lesson["pages"])
        status, _url, _body = terminal.request(
            f"/courses/{course['id']}/lessons/{lesson['id']}?page={page}")
        if status != 200:
            terminal.tally.error(f"lesson page: HTTP {status}")
        if not think(deadline):
            return
        quiz = f"/courses/{course['id']}/quiz/{random.choice(course['quizzes'])}"
        status, _url, body = terminal.request(quiz)
        if status == 200 and not QUESTION.search(body):  # the result of a finished try
            status, _url, body = terminal.request(quiz + "?again=1")
        question, choices, token = QUESTION.search(body), CHOICE.findall(body), CSRF.search(body)
        if status != 200 or not (question and choices and token):
            terminal.tally.error(f"quiz page: HTTP {status}")
            continue
        if not think(deadline):
            return
        status, _url, body = terminal.request(quiz, {
            "question": question[1], "choice": random.choice(choices), "csrf_token": token[1]})
        if status == 200 and "feedback" in body:
            with terminal.tally.lock:
                terminal.tally.answers[learner_id] = terminal.tally.answers.get(learner_id, 0) + 1
        else:
            terminal.tally.error(f"answer: HTTP {status}")


def facilitator(terminal: Terminal, class_id: str, deadline: float) -> None:
    """Open today's list, then save attendance every 3-5 s, looking at the grid between (the
    list is sent back with its day: the first save makes the session, the next correct it)."""
    _status, _url, page = terminal.request(f"/courses/classes/{class_id}", timed=False)
    status, session_url, page = terminal.request(
        f"/courses/classes/{class_id}/sessions", {"csrf_token": CSRF.search(page)[1]})
    learners = PRESENT.findall(page)
    day = DAY.search(page)
    if status != 200 or not learners or not day:
        raise SystemExit(f"could not open today's session: HTTP {status}")
    path = urllib.parse.urlsplit(session_url).path
    while think(deadline, 5.0):
        status, _url, _body = terminal.request(f"/courses/classes/{class_id}")
        if status != 200:
            terminal.tally.error(f"class grid: HTTP {status}")
        here = set(random.sample(learners, random.randint(0, len(learners))))
        status, _url, body = terminal.request(path, {
            "present": sorted(here), "day": day[1], "csrf_token": CSRF.search(page)[1]})
        if status == 200:
            with terminal.tally.lock:
                terminal.tally.marks += len(learners)
                terminal.tally.present = here
            page = body
        else:
            terminal.tally.error(f"attendance: HTTP {status}")


def infocentre(data_dir: Path, *args: str) -> str:
    return subprocess.run([*command(), "--data-dir", str(data_dir), *args], check=True,
                          capture_output=True, text=True, env=environment()).stdout


def set_up(work: Path) -> tuple[Path, Path, dict]:
    """A demo hub, and a centre registered there (its token)."""
    hub, centre = work / "hub", work / "centre"
    infocentre(hub, "init", "--role", "hub", "--name", "Hub Regional")
    infocentre(hub, "demo")
    made = json.loads(infocentre(hub, "hub", "add-node", "Centro San Pablo", "--json"))
    return hub, centre, made


def seed_centre(centre: Path, learners: int) -> dict:
    """Learners in the demo class, their PIN hashed once; what the learners will open."""
    from kiosk.auth import models as accounts
    from kiosk.classes import models as classes
    from kiosk.classes.demo import DEMO_CLASS_NAME
    from kiosk.courses import models as courses
    from kiosk.courses import render
    from kiosk.data import open_db, utcnow

    db = open_db(centre / "infocentre.db")
    now = utcnow()
    centre_id = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    class_id = db.execute("SELECT id FROM classes WHERE name = ?",
                          [DEMO_CLASS_NAME]).fetchone()[0]
    course_id = db.execute("SELECT course_id FROM classes WHERE id = ?", [class_id]).fetchone()[0]
    pin_hash = accounts.hash_secret(LEARNER_PIN)
    ids = []
    for number in range(1, learners + 1):
        account_id = accounts.add_account(db, centre_id=centre_id, name=f"Estudiante {number:03d}",
                                          role="villager", lang="es", now=now)["id"]
        db.execute("UPDATE accounts SET pin_hash = ? WHERE id = ?", [pin_hash, account_id])
        classes.enrol(db, class_id=class_id, learner_id=account_id, centre_id=centre_id, now=now)
        ids.append(account_id)
    lessons, quizzes = [], []
    for lesson in courses.lessons_of(db, course_id, "es"):
        if lesson["kind"] == "quiz":
            quizzes.append(lesson["id"])
        else:
            body = courses.get_lesson(db, course_id, lesson["id"], "es")["body"]
            lessons.append({"id": lesson["id"], "pages": len(render.pages(body))})
    facilitator_id = accounts.find_by_name(db, FACILITATOR, centre_id=centre_id)[0]["id"]
    db.close()
    return {"learners": ids, "class_id": class_id, "facilitator": facilitator_id,
            "course": {"id": course_id, "lessons": lessons, "quizzes": quizzes}}


def check(centre: Path, plan: dict, tally: Tally) -> int:
    """How many acknowledged answers and attendance marks the database does not hold."""
    db = sqlite3.connect(centre / "infocentre.db")
    missing = 0
    for learner_id, acknowledged in tally.answers.items():
        stored = sum(len(json.loads(row[0])) for row in db.execute(
            "SELECT answers FROM quiz_attempts WHERE learner_id = ?", [learner_id]))
        missing += max(0, acknowledged - stored)
    if tally.present is not None:
        rows = dict(db.execute(
            "SELECT a.learner_id, a.present FROM attendance a JOIN class_sessions s ON "
            "s.id = a.session_id WHERE s.class_id = ? AND s.held_on = (SELECT max(held_on) "
            "FROM class_sessions WHERE class_id = ?)", [plan["class_id"], plan["class_id"]]))
        enrolled = [r[0] for r in db.execute(
            "SELECT learner_id FROM enrolments WHERE class_id = ? AND active = 1",
            [plan["class_id"]])]
        missing += sum(rows.get(learner_id) != int(learner_id in tally.present)
                       for learner_id in enrolled)
    db.close()
    return missing


def watch_syncs(centre: Path, stop: threading.Event, seen: dict) -> None:
    """Count the syncs the centre's daemon finished, and those that failed, from its record."""
    last, failures = None, None
    while not stop.wait(0.25):
        try:
            db = sqlite3.connect(f"file:{centre / 'infocentre.db'}?mode=ro", uri=True)
            row = db.execute("SELECT last_success_at, failures, last_error_detail "
                             "FROM sync_status WHERE id = 1").fetchone()
            db.close()
        except sqlite3.Error:
            continue
        if row[0] and row[0] != last:
            last = row[0]
            seen["syncs"] += 1
        if failures is not None and row[1] > failures:
            seen["sync_failures"] += row[1] - failures
            log(f"a sync failed: {row[2]}")
        failures = row[1]


def run(learners: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-classday-") as tmp:
        work = Path(tmp)
        hub, centre, made = set_up(work)
        hub_server, hub_url = serve(hub, environment())
        servers = [hub_server]
        try:
            infocentre(centre, "init", "--role", "node", "--name", "Centro San Pablo",
                       "--hub", hub_url, "--token", made["token"])
            infocentre(centre, "demo")
            plan = seed_centre(centre, learners)
            log(f"{learners} learners added; serving the centre, which syncs every 2 s")
            server, url = serve(centre, environment(SYNC_INTERVAL=2, SYNC_RETRY_MIN=2))
            servers.append(server)
            tally = Tally()
            terminals = []
            for learner_id in plan["learners"]:
                terminal = Terminal(url, tally)
                terminal.sign_in(learner_id, LEARNER_PIN)
                terminals.append((terminal, learner_id))
            desk = Terminal(url, tally)
            desk.sign_in(plan["facilitator"], FACILITATOR_PIN)
            log(f"everyone signed in; the class works for {seconds:g} s")
            stop, syncs = threading.Event(), {"syncs": 0, "sync_failures": 0}
            watcher = threading.Thread(target=watch_syncs, args=(centre, stop, syncs))
            watcher.start()
            deadline = time.monotonic() + seconds
            threads = [threading.Thread(target=learner, args=(t, i, plan["course"], deadline))
                       for t, i in terminals]
            threads.append(threading.Thread(target=facilitator,
                                            args=(desk, plan["class_id"], deadline)))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stop.set()
            watcher.join()
            rss = peak_rss_mb(server.pid)
            rss = round(rss, 1) if rss else None
        finally:
            for process in servers:
                process.terminate()
                process.wait(timeout=30)
        missing = check(centre, plan, tally)
        timings = sorted(tally.timings)
        if tally.errors:
            kinds = {kind: tally.errors.count(kind) for kind in sorted(set(tally.errors))}
            log("errors: " + "; ".join(f"{n} × {kind}" for kind, n in kinds.items()))
        return {
            "learners": learners,
            "requests": len(timings) + len(tally.errors),
            "errors": len(tally.errors),
            "acknowledged": sum(tally.answers.values()) + tally.marks,
            "missing": missing,
            "p50_ms": round(statistics.median(timings) * 1000, 1) if timings else None,
            "p95_ms": round(timings[int(len(timings) * 0.95)] * 1000, 1) if timings else None,
            "peak_rss_mb": rss,
            **syncs,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not 1 <= args.learners <= 500 or args.seconds <= 0:
        parser.error("--learners must be 1 to 500 and --seconds positive")
    figures = run(args.learners, args.seconds)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'figure':<16}{'measured':>12}  goal")
    for name, value in figures.items():
        goal = GOALS.get(name)
        verdict = ""
        if goal and value is not None:
            met = value <= goal[1]
            verdict = f"{goal[0]} {goal[1]}  {'met' if met else 'NOT met'}"
        print(f"{name:<16}{'-' if value is None else value:>12}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
