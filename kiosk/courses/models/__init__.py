"""Courses, lessons and quizzes (imported from packs), learners' progress, classes, attendance
and certificates, as functions over the database.

Imports ``kiosk.data``, ``kiosk.i18n``, ``sync.engine`` and the auth area's models (names and
sorting of accounts). No Flask request globals: the CLI, the demo and tests call these directly.
Times are passed in (``now``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import uuid
from pathlib import Path

from sqlite_utils import Database

from sync.engine import OWNER, REGION, SyncedTable
from sync.engine.registry import UPLOAD_HUB
from sync.engine.state import applying, immediate
from sync.errors import MediaError

from ..auth import models as accounts
from ..data import fetch, iso, new_id, reading, writing
from ..errors import KioskError, NotFound, ValidationError
from ..i18n import _
from . import packs
from .packs import NAMESPACE, Pack

# Courses come from the hub to every centre; only the hub changes them. A centre may install a
# pack itself (no link for months): those rows stay uncaptured, and the hub's copy wins.
_COURSE_TABLES = ("courses", "course_texts", "lessons", "lesson_texts", "questions",
                  "question_texts")
SYNCED_TABLES = [
    *(SyncedTable(name, scope=REGION, upload=UPLOAD_HUB) for name in _COURSE_TABLES),
    SyncedTable("course_media", scope=REGION, upload=UPLOAD_HUB, media=("sha256",)),
    # Learning records belong to the centre and go up to the hub.
    *(SyncedTable(name, scope=OWNER) for name in (
        "classes", "enrolments", "class_sessions", "attendance", "progress", "quiz_attempts",
        "certificates")),
]

LEARNER_ROLES = ("villager", "cooperative", "facilitator", "admin")
STUCK_FAILED_TRIES = 2  # failed tries of one quiz, not yet passed
STUCK_IDLE_DAYS = 14  # no step forward in two weekly sessions, course not finished


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


# Importing packs.


def _upsert(db: Database, table: str, row: dict) -> bool:
    """Insert the row, or update the columns that differ; True if anything changed."""
    columns = list(row)
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    others = [c for c in columns if c != "id"]
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in others)
    differs = " OR ".join(f'"{c}" IS NOT excluded."{c}"' for c in others)
    cursor = db.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT (id) DO '
                        f"UPDATE SET {sets} WHERE {differs}", [row[c] for c in columns])
    return cursor.rowcount > 0


def installed_version(db: Database, pack_id: str) -> int | None:
    row = db.execute("SELECT version FROM courses WHERE id = ?",
                     [packs.course_id(pack_id)]).fetchone()
    return row[0] if row else None


def import_pack(db: Database, pack: Pack, *, centre_id: str, role: str, store,
                now: dt.datetime, on_step=None) -> str:
    """Install or update a checked pack in one transaction: "new", "updated" or "same".

    Raises KioskError for a version older than the one installed (nothing changes). Files go to
    the media store first; they are content-addressed, so a failed import leaves nothing wrong.
    """
    before = installed_version(db, pack.id)
    if before == pack.version:
        return "same"
    if before is not None and before > pack.version:
        raise KioskError(_("%(pack)s: version %(version)d is older than the installed version "
                           "%(installed)d; nothing was changed.", pack=pack.id,
                           version=pack.version, installed=before))
    step = on_step or (lambda what: None)
    for sha, relative in pack.files.items():
        if not store.has(sha):
            try:
                with packs.open_file(pack.folder, relative) as f:  # still no link followed
                    stored = store.add(f).sha
            except MediaError:  # grew past its limit since it was checked
                stored = None
            if stored != sha:
                raise KioskError(_("%(file)s changed while the pack was being imported; "
                                   "nothing was changed. Import it again.", file=relative))
    step("media")
    cid = pack.course_id
    quiet = applying(db) if role == "node" else contextlib.nullcontext()
    with immediate(db), quiet:
        _upsert(db, "courses", {"id": cid, "centre_id": centre_id, "pack": pack.id,
                                "version": pack.version, "topic": pack.topic,
                                "languages": " ".join(pack.languages), "image": pack.image,
                                "updated_at": iso(now)})
        for lang in pack.languages:
            _upsert(db, "course_texts", {"id": packs.text_id(cid, lang), "centre_id": centre_id,
                                         "course_id": cid, "lang": lang,
                                         "title": pack.title[lang],
                                         "summary": pack.summary[lang]})
        kept_lessons, kept_questions = [], []
        for position, lesson in enumerate(pack.lessons, 1):
            lid = packs.lesson_id(pack.id, lesson.key)
            kept_lessons.append(lid)
            _upsert(db, "lessons", {"id": lid, "centre_id": centre_id, "course_id": cid,
                                    "key": lesson.key, "position": position,
                                    "kind": lesson.kind, "minutes": lesson.minutes,
                                    "image": lesson.image, "pass_mark": lesson.pass_mark,
                                    "retired": 0})
            for lang in pack.languages:
                _upsert(db, "lesson_texts", {"id": packs.text_id(lid, lang),
                                             "centre_id": centre_id, "lesson_id": lid,
                                             "lang": lang, "title": lesson.titles[lang],
                                             "body": lesson.bodies.get(lang, ""),
                                             "audio": lesson.audio.get(lang)})
            for qpos, question in enumerate(lesson.questions, 1):
                qid = packs.question_id(pack.id, question.key)
                kept_questions.append(qid)
                _upsert(db, "questions", {"id": qid, "centre_id": centre_id, "lesson_id": lid,
                                          "key": question.key, "position": qpos,
                                          "choices": json.dumps(question.choices),
                                          "correct": json.dumps(question.correct),
                                          "image": question.image, "retired": 0})
                for lang in pack.languages:
                    _upsert(db, "question_texts", {
                        "id": packs.text_id(qid, lang), "centre_id": centre_id,
                        "question_id": qid, "lang": lang, "prompt": question.prompt[lang],
                        "choices": json.dumps(question.choice_texts[lang], ensure_ascii=False),
                        "explanation": question.explanation.get(lang, "")})
            step("lesson")
        # Left out of this version: retired, never deleted (progress points at them).
        marks = ",".join("?" for _ in kept_lessons)
        db.execute(f"UPDATE lessons SET retired = 1 WHERE course_id = ? AND retired = 0 "
                   f"AND id NOT IN ({marks})", [cid, *kept_lessons])
        marks = ",".join("?" for _ in kept_questions) or "''"
        db.execute(f"UPDATE questions SET retired = 1 WHERE retired = 0 AND lesson_id IN "
                   f"(SELECT id FROM lessons WHERE course_id = ?) AND id NOT IN ({marks})",
                   [cid, *kept_questions])
        for sha in pack.files:
            _upsert(db, "course_media", {"id": packs.media_id(cid, sha), "centre_id": centre_id,
                                         "course_id": cid, "sha256": sha})
    return "new" if before is None else "updated"


def installed(db: Database, lang: str) -> list[dict]:
    """The installed courses, for ``content list``."""
    found = []
    for course in fetch(db, "SELECT id, pack, version, topic, languages FROM courses "
                            "ORDER BY pack"):
        languages = course["languages"].split()
        text = _course_text(db, course["id"], pick_language(languages, lang))
        lessons = db.execute("SELECT count(*) FROM lessons WHERE course_id = ? AND retired = 0",
                             [course["id"]]).fetchone()[0]
        found.append({"id": course["pack"], "title": text["title"],
                      "version": course["version"], "languages": languages,
                      "lessons": lessons, "topic": course["topic"],
                      "course_id": course["id"]})
    return found


# Reading courses in a learner's language.


def pick_language(available: list[str], wanted: str) -> str:
    """The language to show: the learner's, else Spanish for Kichwa speakers, else the first."""
    for code in (wanted, "es" if wanted == "qu_EC" else None, "es", "en"):
        if code and code in available:
            return code
    return available[0] if available else wanted


def _course_text(db, course_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT lang, title, summary FROM course_texts WHERE course_id = ?",
                 [course_id])
    by_lang = {r["lang"]: r for r in rows}
    return by_lang.get(lang) or next(iter(by_lang.values()), {"lang": lang, "title": "",
                                                               "summary": ""})


def topics() -> dict[str, str]:
    return {"computer": _("Using a computer"), "safety": _("Safe online"),
            "selling": _("Selling"), "services": _("Public services"), "other": _("Other")}


def catalogue(db: Database, *, lang: str, learner_id: str | None = None,
              topic: str | None = None, every_language: bool = False) -> list[dict]:
    """Courses with at least one lesson, in the learner's language (or every course)."""
    found = []
    for course in fetch(db, "SELECT id, pack, version, topic, languages, image FROM courses "
                            "ORDER BY pack"):
        languages = course["languages"].split()
        if topic and course["topic"] != topic:
            continue
        shown = pick_language(languages, lang)
        if not every_language and lang not in languages and shown != pick_language(
                [shown], lang):
            continue
        lessons = fetch(db, "SELECT id, minutes FROM lessons WHERE course_id = ? AND "
                            "retired = 0", [course["id"]])
        if not lessons:
            continue
        text = _course_text(db, course["id"], shown)
        entry = {**course, "languages": languages, "lang": shown, "title": text["title"],
                 "summary": text["summary"], "lessons": len(lessons),
                 "minutes": sum(lesson["minutes"] for lesson in lessons), "done": 0,
                 "started": False, "certificate": None}
        if learner_id:
            state = course_state(db, learner_id, course["id"], shown)
            entry.update(done=state["done"], started=state["started"],
                         certificate=state["certificate"])
        found.append(entry)
    return found


def get_course(db: Database, course_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT id, pack, version, topic, languages, image FROM courses "
                     "WHERE id = ?", [course_id])
    if not rows:
        raise NotFound(_("This course is not installed at this centre."))
    course = rows[0]
    course["languages"] = course["languages"].split()
    course["lang"] = pick_language(course["languages"], lang)
    course.update(_course_text(db, course_id, course["lang"]))
    course["lang"] = course["lang"]
    return course


def lessons_of(db: Database, course_id: str, lang: str) -> list[dict]:
    """The course's lessons in order (retired ones left out), titled in ``lang``."""
    rows = fetch(db, "SELECT l.id, l.key, l.position, l.kind, l.minutes, l.image, l.pass_mark, "
                     "t.lang, t.title FROM lessons l LEFT JOIN lesson_texts t ON t.lesson_id = "
                     "l.id WHERE l.course_id = ? AND l.retired = 0 ORDER BY l.position",
                 [course_id])
    by_lesson: dict[str, dict] = {}
    for row in rows:
        kept = by_lesson.get(row["id"])
        if kept is None or row["lang"] == lang:
            by_lesson[row["id"]] = row
    return sorted(by_lesson.values(), key=lambda r: r["position"])


def get_lesson(db: Database, course_id: str, lesson_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT l.id, l.course_id, l.key, l.position, l.kind, l.minutes, l.image, "
                     "l.pass_mark, l.retired, t.lang, t.title, t.body, t.audio FROM lessons l "
                     "JOIN lesson_texts t ON t.lesson_id = l.id WHERE l.id = ? AND "
                     "l.course_id = ?", [lesson_id, course_id])
    if not rows:
        raise NotFound(_("This lesson does not exist."))
    by_lang = {r["lang"]: r for r in rows}
    return by_lang.get(lang) or by_lang.get(pick_language(list(by_lang), lang))


def questions_of(db: Database, lesson_id: str, lang: str) -> list[dict]:
    rows = fetch(db, "SELECT q.id, q.key, q.position, q.choices AS ids, q.correct, q.image, "
                     "t.lang, t.prompt, t.choices, t.explanation FROM questions q JOIN "
                     "question_texts t ON t.question_id = q.id WHERE q.lesson_id = ? AND "
                     "q.retired = 0 ORDER BY q.position", [lesson_id])
    by_question: dict[str, dict] = {}
    for row in rows:
        if row["id"] not in by_question or row["lang"] == lang:
            by_question[row["id"]] = row
    found = []
    for row in sorted(by_question.values(), key=lambda r: r["position"]):
        words = json.loads(row["choices"])
        ids = json.loads(row["ids"])
        found.append({"id": row["id"], "key": row["key"], "prompt": row["prompt"],
                      "explanation": row["explanation"], "image": row["image"],
                      "lang": row["lang"], "correct": json.loads(row["correct"]),
                      "choices": [(c, words.get(c, c)) for c in ids]})
    for row in found:
        row["multiple"] = len(row["correct"]) > 1
    return found


# Progress.


def _stamp(now: dt.datetime) -> str:
    """``progress.updated_at``, to the millisecond: "where I stopped" is the latest of them,
    and a learner opens the next lesson within the second she finishes one."""
    return now.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def progress_id(learner_id: str, lesson_id: str) -> str:
    return _uuid("progress", learner_id, lesson_id)


def certificate_id(learner_id: str, course_id: str) -> str:
    return _uuid("certificate", learner_id, course_id)


def _progress(db, learner_id: str, course_id: str) -> dict[str, dict]:
    return {r["lesson_id"]: r for r in fetch(
        db, "SELECT lesson_id, page, done, score, started_at, done_at, updated_at FROM progress "
            "WHERE learner_id = ? AND course_id = ?", [learner_id, course_id])}


def course_state(db: Database, learner_id: str, course_id: str, lang: str) -> dict:
    """Where a learner stands: each lesson's state, the lesson to resume, the certificate."""
    failed = dict(db.execute(
        "SELECT lesson_id, count(*) FROM quiz_attempts WHERE learner_id = ? AND course_id = ? "
        "AND finished_at IS NOT NULL AND passed = 0 GROUP BY lesson_id",
        [learner_id, course_id]).fetchall())
    return _standing(lessons_of(db, course_id, lang), _progress(db, learner_id, course_id),
                     failed, find_certificate(db, learner_id, course_id))


def _standing(lessons: list[dict], made: dict[str, dict], failed: dict[str, int],
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
                        iso(now), _stamp(now)])
        elif existing[0] != page:
            db.execute("UPDATE progress SET page = ?, updated_at = ? WHERE id = ?",
                       [page, _stamp(now), pid])


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
                   [iso(now), _stamp(now), progress_id(learner_id, lesson["id"])])
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


# Quizzes: one question at a time, each answer kept at once (resumable on any terminal).


def open_attempt(db: Database, learner_id: str, lesson_id: str) -> dict | None:
    rows = fetch(db, "SELECT id, answers, started_at FROM quiz_attempts WHERE learner_id = ? "
                     "AND lesson_id = ? AND finished_at IS NULL ORDER BY started_at DESC "
                     "LIMIT 1", [learner_id, lesson_id])
    if not rows:
        return None
    rows[0]["answers"] = json.loads(rows[0]["answers"])
    return rows[0]


def last_attempt(db: Database, learner_id: str, lesson_id: str) -> dict | None:
    rows = fetch(db, "SELECT id, answers, score, passed, finished_at FROM quiz_attempts "
                     "WHERE learner_id = ? AND lesson_id = ? AND finished_at IS NOT NULL "
                     "ORDER BY finished_at DESC, id DESC LIMIT 1", [learner_id, lesson_id])
    if not rows:
        return None
    rows[0]["answers"] = json.loads(rows[0]["answers"])
    return rows[0]


def answer(db: Database, *, centre_id: str, learner_id: str, lesson: dict, question_id: str,
           chosen: list[str], now: dt.datetime) -> dict:
    """Record one answer of the learner's open try of a quiz (opening one if needed).

    Returns ``{"right", "question", "attempt", "finished", "score", "passed", "certificate"}``.
    Answering a question already answered in this try changes nothing (a form sent twice).
    """
    if lesson["kind"] != "quiz":
        raise NotFound(_("This lesson has no quiz."))
    questions = {q["id"]: q for q in questions_of(db, lesson["id"], "en")}
    question = questions.get(question_id)
    if question is None:
        raise NotFound(_("This question is not part of the quiz."))
    ids = [c for c, _words in question["choices"]]
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise ValidationError({"choice": [_("Choose an answer, then press Check.")]})
    if any(c not in ids for c in chosen) or (not question["multiple"] and len(chosen) > 1):
        raise ValidationError({"choice": [_("That answer is not one of the choices.")]})
    with writing(db):
        attempt = open_attempt(db, learner_id, lesson["id"])
        if attempt is None:
            attempt = {"id": new_id(), "answers": {}}
            db.execute("INSERT INTO quiz_attempts (id, centre_id, learner_id, course_id, "
                       "lesson_id, started_at) VALUES (?, ?, ?, ?, ?, ?)",
                       [attempt["id"], centre_id, learner_id, lesson["course_id"],
                        lesson["id"], iso(now)])
            open_page(db, centre_id=centre_id, learner_id=learner_id, lesson=lesson, page=0,
                      now=now)
        answers = attempt["answers"]
        if question_id not in answers:
            answers[question_id] = sorted(chosen, key=ids.index)
            db.execute("UPDATE quiz_attempts SET answers = ? WHERE id = ?",
                       [json.dumps(answers), attempt["id"]])
            db.execute("UPDATE progress SET updated_at = ? WHERE id = ?",
                       [_stamp(now), progress_id(learner_id, lesson["id"])])
        result = {"question": question, "attempt": attempt["id"], "finished": False,
                  "right": sorted(answers[question_id]) == sorted(question["correct"]),
                  "chosen": answers[question_id], "score": None, "passed": False,
                  "certificate": None}
        if all(q in answers for q in questions):
            result.update(finished=True, **_score(db, centre_id=centre_id, learner_id=learner_id,
                                                  lesson=lesson, attempt=attempt,
                                                  questions=questions, now=now))
    return result


def _score(db: Database, *, centre_id: str, learner_id: str, lesson: dict, attempt: dict,
           questions: dict, now: dt.datetime) -> dict:
    """Finish a try whose every question (of those the quiz has now) is answered: its score,
    the learner's best score and the lesson done if passed, the certificate if that completed
    the course. Inside the caller's write transaction."""
    answers = attempt["answers"]
    right = sum(sorted(answers[q]) == sorted(questions[q]["correct"]) for q in questions)
    score = round(100 * right / len(questions))
    passed = score >= lesson["pass_mark"]
    db.execute("UPDATE quiz_attempts SET score = ?, passed = ?, finished_at = ? WHERE id = ?",
               [score, int(passed), iso(now), attempt["id"]])
    db.execute("UPDATE progress SET score = max(coalesce(score, 0), ?), updated_at = ?, "
               "done = max(done, ?), done_at = CASE WHEN ? AND done_at IS NULL THEN ? "
               "ELSE done_at END WHERE id = ?",
               [score, _stamp(now), int(passed), int(passed), iso(now),
                progress_id(learner_id, lesson["id"])])
    certificate = complete_course(db, centre_id=centre_id, learner_id=learner_id,
                                  course_id=lesson["course_id"], now=now) if passed else None
    return {"score": score, "passed": passed, "right_count": right, "total": len(questions),
            "certificate": certificate}


def finish_answered_attempt(db: Database, *, centre_id: str, learner_id: str, lesson: dict,
                            now: dt.datetime) -> bool:
    """Score the learner's open try if no question of the quiz waits for an answer any more.

    A pack update can retire the questions a try had not reached (issue 14): the try is then
    complete, scored over the questions that remain. Returns whether a try was finished.
    """
    questions = {q["id"]: q for q in questions_of(db, lesson["id"], "en")}
    with writing(db):
        attempt = open_attempt(db, learner_id, lesson["id"])
        if not questions or attempt is None or not questions.keys() <= attempt["answers"].keys():
            return False
        _score(db, centre_id=centre_id, learner_id=learner_id, lesson=lesson, attempt=attempt,
               questions=questions, now=now)
    return True


# Classes, enrolment and attendance (a facilitator's tools).


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 80 or not name.isprintable() or "\ufffd" in name:
        raise ValidationError({"name": [_("Give the class a name of 1 to 80 characters.")]})
    return name


def create_class(db: Database, *, centre_id: str, name: str, course_id: str,
                 facilitator_id: str, now: dt.datetime) -> str:
    name = _clean_name(name)
    if not db.execute("SELECT 1 FROM courses WHERE id = ?", [course_id]).fetchone():
        raise ValidationError({"course": [_("Choose one of the courses of the list.")]})
    class_id = new_id()
    db.execute("INSERT INTO classes (id, centre_id, name, course_id, facilitator_id, "
               "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [class_id, centre_id, name, course_id, facilitator_id, iso(now), iso(now)])
    return class_id


def rename_class(db: Database, class_id: str, name: str, now: dt.datetime) -> None:
    db.execute("UPDATE classes SET name = ?, updated_at = ? WHERE id = ?",
               [_clean_name(name), iso(now), class_id])


def archive_class(db: Database, class_id: str, archived: bool, now: dt.datetime) -> None:
    db.execute("UPDATE classes SET archived = ?, updated_at = ? WHERE id = ?",
               [int(archived), iso(now), class_id])


def get_class(db: Database, class_id: str, centre_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT id, centre_id, name, course_id, facilitator_id, archived, "
                     "created_at FROM classes WHERE id = ? AND centre_id = ?",
                 [class_id, centre_id])
    if not rows:
        raise NotFound(_("This class does not exist at this centre."))
    found = rows[0]
    found["course"] = get_course(db, found["course_id"], lang)
    return found


def list_classes(db: Database, centre_id: str, lang: str, archived: bool = False) -> list[dict]:
    rows = fetch(db, "SELECT c.id, c.name, c.course_id, c.archived, c.created_at, "
                     "(SELECT count(*) FROM enrolments e WHERE e.class_id = c.id AND e.active) "
                     "AS learners, (SELECT max(held_on) FROM class_sessions s WHERE s.class_id = "
                     "c.id) AS last_session FROM classes c WHERE c.centre_id = ? AND "
                     "c.archived = ? ORDER BY c.created_at DESC", [centre_id, int(archived)])
    for row in rows:
        row["course_title"] = _course_text(db, row["course_id"], lang)["title"]
    return rows


def enrolment_id(class_id: str, learner_id: str) -> str:
    return _uuid("enrolment", class_id, learner_id)


def enrol(db: Database, *, class_id: str, learner_id: str, centre_id: str,
          now: dt.datetime) -> None:
    account = accounts.find_account(db, learner_id)
    if account is None or account["centre_id"] != centre_id or \
            account["role"] not in LEARNER_ROLES:
        raise ValidationError({"learner": [_("This person cannot join a class here.")]})
    eid = enrolment_id(class_id, learner_id)
    db.execute("INSERT INTO enrolments (id, centre_id, class_id, learner_id, active, "
               "enrolled_at) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO UPDATE SET "
               "active = 1 WHERE active = 0", [eid, centre_id, class_id, learner_id, iso(now)])


def unenrol(db: Database, *, class_id: str, learner_id: str) -> None:
    db.execute("UPDATE enrolments SET active = 0 WHERE id = ? AND active = 1",
               [enrolment_id(class_id, learner_id)])


def learners_of(db: Database, class_id: str) -> list[dict]:
    rows = fetch(db, "SELECT a.id, a.name, a.photo, a.role, e.enrolled_at FROM enrolments e "
                     "JOIN accounts a ON a.id = e.learner_id WHERE e.class_id = ? AND e.active "
                     "= 1 ORDER BY folded(a.name), a.name, a.rowid", [class_id])
    for row in rows:
        row["initials"], row["colour"] = accounts.initials(row["name"]), accounts.colour(
            row["id"])
    return rows


def _candidates_sql(columns: str, query: str) -> tuple[str, list]:
    """People of the centre who could join the class, as SQL: the sort key is the name
    ``folded()`` once per row, and a name matches if it, or one of its words, starts with the
    folded query (``accounts.matches``)."""
    # NOT IN: the class's learners are listed once, not searched again for every account.
    sql = (f"SELECT {columns} FROM accounts a WHERE a.centre_id = :centre AND a.role IN "
           f"({', '.join(repr(r) for r in LEARNER_ROLES)}) AND a.id NOT IN (SELECT "
           "e.learner_id FROM enrolments e WHERE e.class_id = :class AND e.active = 1)")
    typed = accounts.sort_key(query.strip())
    if typed:
        sql += (" AND (substr(folded(a.name), 1, length(:typed)) = :typed OR (:one_word AND "
                "instr(' ' || folded(a.name), ' ' || :typed) > 0))")
    return sql, {"typed": typed, "one_word": not any(c.isspace() for c in typed)}


def candidates(db: Database, *, class_id: str, centre_id: str, query: str = "",
               limit: int = -1) -> list[dict]:
    """People of the centre who could join the class, matching the name typed, sorted by name
    (accents and case ignored); the first ``limit`` of them (all with -1)."""
    sql, params = _candidates_sql("a.id, a.centre_id, a.name, a.role, a.lang, a.photo, "
                                  "a.created_at, a.updated_at", query)
    rows = fetch(db, f"{sql} ORDER BY folded(a.name), a.name, a.rowid LIMIT :limit",
                 {**params, "centre": centre_id, "class": class_id, "limit": limit})
    for r in rows:
        r["initials"], r["colour"] = accounts.initials(r["name"]), accounts.colour(r["id"])
    return rows


def count_candidates(db: Database, *, class_id: str, centre_id: str, query: str = "") -> int:
    sql, params = _candidates_sql("count(*)", query)
    return db.execute(sql, {**params, "centre": centre_id, "class": class_id}).fetchone()[0]


def session_id(class_id: str, day: str) -> str:
    """One session per class and day, whichever terminal opens it."""
    return _uuid("session", class_id, day)


def open_session(db: Database, *, class_id: str, centre_id: str, day: dt.date,
                 now: dt.datetime) -> str:
    sid = session_id(class_id, day.isoformat())
    db.execute("INSERT INTO class_sessions (id, centre_id, class_id, held_on, created_at) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
               [sid, centre_id, class_id, day.isoformat(), iso(now)])
    return sid


def get_session(db: Database, class_id: str, sid: str) -> dict:
    rows = fetch(db, "SELECT id, class_id, held_on FROM class_sessions WHERE id = ? AND "
                     "class_id = ?", [sid, class_id])
    if not rows:
        raise NotFound(_("This session does not exist."))
    return rows[0]


def sessions_of(db: Database, class_id: str) -> list[dict]:
    return fetch(db, "SELECT s.id, s.held_on, (SELECT count(*) FROM attendance a WHERE "
                     "a.session_id = s.id AND a.present = 1) AS present FROM class_sessions s "
                     "WHERE s.class_id = ? ORDER BY s.held_on DESC", [class_id])


def attendance_of(db: Database, sid: str) -> dict[str, bool]:
    return {r[0]: bool(r[1]) for r in db.execute(
        "SELECT learner_id, present FROM attendance WHERE session_id = ?", [sid]).fetchall()}


def attendance_id(sid: str, learner_id: str) -> str:
    return _uuid("attendance", sid, learner_id)


def mark_attendance(db: Database, *, session_id: str, learner_id: str, present: bool,
                    centre_id: str, now: dt.datetime) -> None:
    db.execute("INSERT INTO attendance (id, centre_id, session_id, learner_id, present, "
               "marked_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
               "present = excluded.present, marked_at = excluded.marked_at WHERE present IS NOT "
               "excluded.present", [attendance_id(session_id, learner_id), centre_id,
                                    session_id, learner_id, int(present), iso(now)])


def record_attendance(db: Database, *, class_id: str, session_id: str, present: set[str],
                      centre_id: str, now: dt.datetime) -> int:
    """Everyone enrolled is marked present or absent in one transaction; returns how many
    are present. Ids that are not learners of the class are refused (nothing saved)."""
    with writing(db):
        learners = {r["id"] for r in learners_of(db, class_id)}
        if present - learners:
            raise ValidationError({"present": [_("Someone on the list is not in this class. "
                                                 "Reload the page and try again.")]})
        for learner_id in learners:
            mark_attendance(db, session_id=session_id, learner_id=learner_id,
                            present=learner_id in present, centre_id=centre_id, now=now)
    return len(present)


def class_grid(db: Database, class_id: str, centre_id: str, lang: str,
               now: dt.datetime) -> dict:
    """Learner × lesson: each cell's state and quiz score, who is stuck and why.

    A fixed handful of queries for the whole class, however many learners it has (issue 14: five
    per learner made a class of 40 take half a second under a busy centre's load), all reading
    one moment of the database."""
    with reading(db):
        return _class_grid(db, class_id, centre_id, lang, now)


def _class_grid(db: Database, class_id: str, centre_id: str, lang: str,
                now: dt.datetime) -> dict:
    klass = get_class(db, class_id, centre_id, lang)
    course_id = klass["course_id"]
    lang = klass["course"]["lang"]  # the course's words in the language it is shown in
    lessons = lessons_of(db, course_id, lang)
    sessions = sessions_of(db, class_id)
    attended = dict(db.execute(
        "SELECT a.learner_id, sum(a.present) FROM attendance a JOIN class_sessions s ON s.id = "
        "a.session_id WHERE s.class_id = ? GROUP BY a.learner_id", [class_id]).fetchall())
    learners = learners_of(db, class_id)
    made: dict[str, dict[str, dict]] = {learner["id"]: {} for learner in learners}
    # Only what the grid shows (state, score, last activity), as one JSON row. SQLite lets go
    # of the interpreter for each row it steps through, and under a busy server another thread
    # takes it each time: the 280 rows of a class of forty, read one by one, made four server
    # threads answer the grid at 50 requests a second where one thread answered 75; read as
    # one row, 65 (issue 14).
    (found,) = db.execute(
        "SELECT json_group_array(json_array(p.learner_id, p.lesson_id, p.page, p.done, "
        "p.score, p.updated_at)) FROM enrolments e JOIN progress p ON p.learner_id = "
        "e.learner_id WHERE e.class_id = ? AND e.active = 1 AND p.course_id = ?",
        [class_id, course_id]).fetchone()
    for learner_id, lesson_id, page, done, score, updated_at in json.loads(found):
        made[learner_id][lesson_id] = {"lesson_id": lesson_id, "page": page, "done": done,
                                       "score": score, "updated_at": updated_at}
    failed: dict[str, dict[str, int]] = {learner["id"]: {} for learner in learners}
    for learner_id, lesson_id, tries in db.execute(
            "SELECT q.learner_id, q.lesson_id, count(*) FROM enrolments e JOIN quiz_attempts q "
            "ON q.learner_id = e.learner_id WHERE e.class_id = ? AND e.active = 1 AND "
            "q.course_id = ? AND q.finished_at IS NOT NULL AND q.passed = 0 "
            "GROUP BY q.learner_id, q.lesson_id", [class_id, course_id]).fetchall():
        failed[learner_id][lesson_id] = tries
    # A certificate's id is made of its learner and course: the learners' certificates of this
    # course are the class's, found by the learner index without making forty ids.
    certificates = {r["learner_id"]: r for r in fetch(
        db, "SELECT c.id, c.centre_id, c.learner_id, c.course_id, c.version, c.code, "
            "c.issued_at FROM enrolments e JOIN certificates c ON c.learner_id = e.learner_id "
            "WHERE e.class_id = ? AND e.active = 1 AND c.course_id = ?", [class_id, course_id])}
    rows = []
    for learner in learners:
        state = _standing(lessons, made[learner["id"]], failed[learner["id"]],
                          certificates.get(learner["id"]))
        reasons = []
        for lesson in state["lessons"]:
            if lesson["kind"] == "quiz" and lesson["status"] != "done" and \
                    lesson["failed"] >= STUCK_FAILED_TRIES:
                reasons.append(_("Did not pass “%(quiz)s” after %(tries)d tries",
                                 quiz=lesson["title"], tries=lesson["failed"]))
        if not state["certificate"]:
            since = state["last_active"] or learner["enrolled_at"]
            idle = (now - dt.datetime.fromisoformat(since)).days if since else 0
            if idle >= STUCK_IDLE_DAYS:
                reasons.append(_("Not started for %(days)d days", days=idle)
                               if not state["started"] else
                               _("No progress for %(days)d days", days=idle))
        rows.append({"learner": learner, "cells": state["lessons"], "done": state["done"],
                     "total": state["total"], "certificate": state["certificate"],
                     "last_active": state["last_active"], "stuck": reasons,
                     "started": state["started"], "attended": attended.get(learner["id"], 0)})
    return {"class": klass, "lessons": lessons, "rows": rows, "sessions": sessions}


# Demo: the shipped courses, and a class whose learners stand at different points.


def demo(db: Database, *, centre_id: str, role: str, content_dir: str | Path,
         now: dt.datetime, store=None) -> list[dict]:
    """Import the shipped courses; at a centre, add the demo class. Adds nothing twice."""
    folder = Path(content_dir) / "courses"
    if store is None or not folder.is_dir():
        return []
    titles = []
    for path in packs.find_packs(folder):
        pack = packs.read_pack(path)
        if (installed_version(db, pack.id) or 0) < pack.version:
            import_pack(db, pack, centre_id=centre_id, role=role, store=store, now=now)
        titles.append(pack.title.get("es") or next(iter(pack.title.values())))
    said = [{"message": _("Courses: %(titles)s.", titles="; ".join(titles))}]
    if role == "node" and _demo_class(db, centre_id=centre_id, now=now):
        said.append({"message": _("A demo class, \"%(name)s\", shows the facilitator's pages "
                                  "(sign in as the facilitator).", name=DEMO_CLASS_NAME)})
    return said


DEMO_CLASS = "demo-class"
DEMO_CLASS_NAME = "Computación básica, martes"


def _demo_class(db: Database, *, centre_id: str, now: dt.datetime) -> bool:
    """The demo class, once; True if it is there."""
    class_id = _uuid("demo", centre_id, DEMO_CLASS)
    course_id = packs.course_id("using-a-computer")
    if db.execute("SELECT 1 FROM classes WHERE id = ?", [class_id]).fetchone():
        return True
    if not db.execute("SELECT 1 FROM courses WHERE id = ?", [course_id]).fetchone():
        return False

    def person(name: str) -> str | None:
        found = accounts.find_by_name(db, name, centre_id=centre_id)
        return found[0]["id"] if found else None

    facilitator = person("Lucía Andrango")
    learners = [person(n) for n in ("Rosa Quishpe", "Manuel Guamán", "Tránsito Lema",
                                    "Ángel Yupanqui", "María Chimbo")]
    if not facilitator or not all(learners):
        return False
    rosa, manuel, transito, angel, maria = learners
    lessons = [lesson for lesson in lessons_of(db, course_id, "es")]
    reading = [lesson for lesson in lessons if lesson["kind"] == "lesson"]
    quiz = next(lesson for lesson in lessons if lesson["kind"] == "quiz")
    made: list[tuple[str, str]] = []
    weeks_ago = [now - dt.timedelta(days=d) for d in (21, 14, 7)]
    with writing(db):
        db.execute("INSERT INTO classes (id, centre_id, name, course_id, facilitator_id, "
                   "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [class_id, centre_id, DEMO_CLASS_NAME, course_id, facilitator,
                    iso(weeks_ago[0]), iso(weeks_ago[0])])
        made.append(("classes", class_id))
        for learner in learners:
            enrol(db, class_id=class_id, learner_id=learner, centre_id=centre_id,
                  now=weeks_ago[0])
            made.append(("enrolments", enrolment_id(class_id, learner)))
        for index, day in enumerate(weeks_ago):
            sid = open_session(db, class_id=class_id, centre_id=centre_id, day=day.date(),
                               now=day)
            made.append(("class_sessions", sid))
            here = {rosa, manuel, angel} | ({maria} if index != 1 else set())
            record_attendance(db, class_id=class_id, session_id=sid, present=here,
                              centre_id=centre_id, now=day)
            made += [("attendance", attendance_id(sid, learner)) for learner in learners]

        def read(learner, upto, when):
            for lesson in reading[:upto]:
                finish_lesson(db, centre_id=centre_id, learner_id=learner,
                              lesson={**lesson, "course_id": course_id}, now=when)
                made.append(("progress", progress_id(learner, lesson["id"])))

        def take_quiz(learner, right: bool, when):
            full = {**quiz, "course_id": course_id}
            for question in questions_of(db, quiz["id"], "es"):
                wrong = [c for c, _w in question["choices"] if c not in question["correct"]]
                answer(db, centre_id=centre_id, learner_id=learner, lesson=full,
                       question_id=question["id"], now=when,
                       chosen=question["correct"] if right else wrong[:1])
            made.append(("progress", progress_id(learner, quiz["id"])))

        read(rosa, len(reading), weeks_ago[1])
        take_quiz(rosa, True, weeks_ago[2])  # finished, with a certificate
        made.append(("certificates", certificate_id(rosa, course_id)))
        read(manuel, len(reading), weeks_ago[1])
        take_quiz(manuel, False, weeks_ago[1])  # stuck on the quiz
        take_quiz(manuel, False, weeks_ago[2])
        read(angel, 2, weeks_ago[2])  # half way, resumes on a page of the third lesson
        open_page(db, centre_id=centre_id, learner_id=angel,
                  lesson={**reading[2], "course_id": course_id}, page=1, now=weeks_ago[2])
        made.append(("progress", progress_id(angel, reading[2]["id"])))
        read(maria, 1, weeks_ago[0])  # stopped three weeks ago
        # Tránsito has not started.
        attempts = db.execute("SELECT id FROM quiz_attempts WHERE learner_id IN (?, ?)",
                              [rosa, manuel]).fetchall()
        made += [("quiz_attempts", a[0]) for a in attempts]
        for table, row_id in dict.fromkeys(made):
            db.execute("INSERT OR IGNORE INTO demo_rows (table_name, row_id) VALUES (?, ?)",
                       [table, row_id])
    return True
