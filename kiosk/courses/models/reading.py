"""Courses, lessons and questions in a learner's language.

Imports ``kiosk.data``, ``kiosk.errors`` and ``kiosk.i18n``.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from ...data import fetch
from ...errors import NotFound
from ...i18n import _


def pick_language(available: list[str], wanted: str) -> str:
    """The language to show: the learner's, else Spanish for Kichwa speakers, else the first."""
    for code in (wanted, "es" if wanted == "qu_EC" else None, "es", "en"):
        if code and code in available:
            return code
    return available[0] if available else wanted


def course_text(db, course_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT lang, title, summary FROM course_texts WHERE course_id = ?",
                 [course_id])
    by_lang = {r["lang"]: r for r in rows}
    return by_lang.get(lang) or next(iter(by_lang.values()), {"lang": lang, "title": "",
                                                               "summary": ""})


def topics() -> dict[str, str]:
    return {"computer": _("Using a computer"), "safety": _("Safe online"),
            "selling": _("Selling"), "services": _("Public services"), "other": _("Other")}


def get_course(db: Database, course_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT id, pack, version, topic, languages, image FROM courses "
                     "WHERE id = ?", [course_id])
    if not rows:
        raise NotFound(_("This course is not installed at this centre."))
    course = rows[0]
    course["languages"] = course["languages"].split()
    course["lang"] = pick_language(course["languages"], lang)
    course.update(course_text(db, course_id, course["lang"]))
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
