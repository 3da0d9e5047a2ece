"""Learners' progress: the catalogue with each course's standing, the page each learner is on,
finished lessons and certificates.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and the area's ``reading``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid

from sqlite_utils import Database

from ...data import fetch, iso, writing
from ...errors import KioskError
from ...i18n import _
from ..packs import NAMESPACE
from .reading import Wanted, chain_of, course_text, lessons_of, pick_language


def stable_id(*parts: str) -> str:
    """The id of a row with a natural key (DESIGN, Data): made the same on every replica."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def catalogue(db: Database, *, lang: Wanted, learner_id: str | None = None,
              topic: str | None = None, every_language: bool = False) -> list[dict]:
    """Courses with at least one lesson in one of the reader's languages (``lang``, best
    first, or one code: see ``reading.pick_language``), or every course; each titled in the
    best of them it has, with that ``lang``."""
    chain = chain_of(lang)
    found = []
    for course in fetch(db, "SELECT id, pack, version, topic, languages, image FROM courses "
                            "ORDER BY pack"):
        languages = course["languages"].split()
        if topic and course["topic"] != topic:
            continue
        shown = pick_language(languages, chain)
        if not every_language and shown not in chain:
            continue
        lessons = fetch(db, "SELECT id, minutes FROM lessons WHERE course_id = ? AND "
                            "retired = 0", [course["id"]])
        if not lessons:
            continue
        text = course_text(db, course["id"], chain)
        entry = {**course, "languages": languages, "lang": text["lang"], "title": text["title"],
                 "summary": text["summary"], "lessons": len(lessons),
                 "minutes": sum(lesson["minutes"] for lesson in lessons), "done": 0,
                 "started": False, "certificate": None}
        if learner_id:
            state = course_state(db, learner_id, course["id"], chain)
            entry.update(done=state["done"], started=state["started"],
                         certificate=state["certificate"])
        found.append(entry)
    return found



def progress_stamp(now: dt.datetime) -> str:
    """``progress.updated_at``, to the millisecond: "where I stopped" is the latest of them,
    and a learner opens the next lesson within the second she finishes one."""
    return now.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def progress_id(learner_id: str, lesson_id: str) -> str:
    return stable_id("progress", learner_id, lesson_id)


def certificate_id(learner_id: str, course_id: str) -> str:
    return stable_id("certificate", learner_id, course_id)


def _progress(db, learner_id: str, course_id: str) -> dict[str, dict]:
    return {r["lesson_id"]: r for r in fetch(
        db, "SELECT lesson_id, page, done, score, started_at, done_at, updated_at FROM progress "
            "WHERE learner_id = ? AND course_id = ?", [learner_id, course_id])}


def course_state(db: Database, learner_id: str, course_id: str, lang: Wanted) -> dict:
    """Where a learner stands: each lesson's state, the lesson to resume, the certificate."""
    failed = dict(db.execute(
        "SELECT lesson_id, count(*) FROM quiz_attempts WHERE learner_id = ? AND course_id = ? "
        "AND finished_at IS NOT NULL AND passed = 0 GROUP BY lesson_id",
        [learner_id, course_id]).fetchall())
    return standing(lessons_of(db, course_id, lang), _progress(db, learner_id, course_id),
                     failed, find_certificate(db, learner_id, course_id))


def standing(lessons: list[dict], made: dict[str, dict], failed: dict[str, int],
              certificate: dict | None) -> dict:
    """``course_state`` from what was read: the course's lessons (copied, not changed), the
    learner's progress rows and failed tries by lesson, and the certificate."""
    lessons = [dict(lesson) for lesson in lessons]
    for lesson in lessons:
        row = made.get(lesson["id"])
        lesson["progress"] = row
        lesson["status"] = ("done" if row and row["done"] else "started" if row else "todo")
        lesson["page"] = row["page"] if row else 0
        lesson["score"] = row["score"] if row else None
        lesson["failed"] = failed.get(lesson["id"], 0)
    touched = [lesson for lesson in lessons if lesson["progress"]]
    # Resume: the lesson last worked on if unfinished, else the first not done.
    resume = None
    if touched:
        last = max(touched, key=lambda lesson: lesson["progress"]["updated_at"])
        if last["status"] != "done":
            resume = last
    if resume is None:
        resume = next((lesson for lesson in lessons if lesson["status"] != "done"), None)
    return {"lessons": lessons, "done": sum(lesson["status"] == "done" for lesson in lessons),
            "total": len(lessons), "started": bool(made), "resume": resume,
            "certificate": certificate,
            "last_active": max((r["updated_at"] for r in made.values()), default=None)}


def open_page(db: Database, *, centre_id: str, learner_id: str, lesson: dict, page: int,
              now: dt.datetime) -> None:
    """Remember the page a learner is on, so any terminal of the centre resumes there.

    Reading a page already remembered writes nothing: the check is a plain read, and the write
    lock is taken only when there is something to change (then checked again under it).
    """
    pid = progress_id(learner_id, lesson["id"])
    existing = db.execute("SELECT page FROM progress WHERE id = ?", [pid]).fetchone()
    if existing is not None and existing[0] == page:
        return
    with writing(db):
        existing = db.execute("SELECT page FROM progress WHERE id = ?", [pid]).fetchone()
        if existing is None:
            db.execute("INSERT INTO progress (id, centre_id, learner_id, course_id, lesson_id, "
                       "page, started_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       [pid, centre_id, learner_id, lesson["course_id"], lesson["id"], page,
                        iso(now), progress_stamp(now)])
        elif existing[0] != page:
            db.execute("UPDATE progress SET page = ?, updated_at = ? WHERE id = ?",
                       [page, progress_stamp(now), pid])


def finish_lesson(db: Database, *, centre_id: str, learner_id: str, lesson: dict,
                  now: dt.datetime) -> dict | None:
    """Mark a reading lesson done; returns the course's certificate if this completed it."""
    if lesson["kind"] != "lesson":
        raise KioskError(_("A quiz is finished by answering its questions."))
    with writing(db):
        open_page(db, centre_id=centre_id, learner_id=learner_id, lesson=lesson,
                  page=0, now=now)
        db.execute("UPDATE progress SET done = 1, done_at = coalesce(done_at, ?), "
                   "updated_at = ? WHERE id = ? AND done = 0",
                   [iso(now), progress_stamp(now), progress_id(learner_id, lesson["id"])])
        return complete_course(db, centre_id=centre_id, learner_id=learner_id,
                               course_id=lesson["course_id"], now=now)


def find_certificate(db: Database, learner_id: str, course_id: str) -> dict | None:
    rows = fetch(db, "SELECT id, centre_id, learner_id, course_id, version, code, issued_at "
                     "FROM certificates WHERE id = ?", [certificate_id(learner_id, course_id)])
    return rows[0] if rows else None


def complete_course(db: Database, *, centre_id: str, learner_id: str, course_id: str,
                    now: dt.datetime) -> dict | None:
    """Issue the certificate once every lesson (quizzes passed) is done; None if not yet."""
    lessons = fetch(db, "SELECT id FROM lessons WHERE course_id = ? AND retired = 0",
                    [course_id])
    made = _progress(db, learner_id, course_id)
    if not lessons or not all(made.get(lesson["id"], {}).get("done") for lesson in lessons):
        return None
    existing = find_certificate(db, learner_id, course_id)
    if existing:
        return existing
    cid = certificate_id(learner_id, course_id)
    code = base64.b32encode(hashlib.sha256(cid.encode()).digest()[:5]).decode()
    version = db.execute("SELECT version FROM courses WHERE id = ?", [course_id]).fetchone()
    db.execute("INSERT INTO certificates (id, centre_id, learner_id, course_id, version, code, "
               "issued_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
               [cid, centre_id, learner_id, course_id, version[0] if version else 0,
                f"{code[:4]}-{code[4:]}", iso(now)])
    return find_certificate(db, learner_id, course_id)
