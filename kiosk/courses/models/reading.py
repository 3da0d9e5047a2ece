"""Courses, lessons and questions in a learner's language.

Imports ``kiosk.data``, ``kiosk.errors`` and ``kiosk.i18n``.
"""

from __future__ import annotations

import json

from sqlite_utils import Database

from ...data import fetch
from ...errors import NotFound
from ...i18n import _, fallback_chain

# ``wanted`` below is the reader's languages, best first (``kiosk.i18n.text_languages()``), or
# one language code, which stands for its ``fallback_chain`` (Spanish after it).
Wanted = str | tuple[str, ...] | list[str]


def chain_of(wanted: Wanted) -> tuple[str, ...]:
    return fallback_chain(wanted) if isinstance(wanted, str) else tuple(wanted)


def pick_language(available, wanted: Wanted) -> str:
    """The language to show: the first of ``wanted`` the text exists in, else the first the
    text has (so something still shows; templates mark it with its own ``lang``). Never the
    English source by default: English comes only when it is in ``wanted``."""
    chain = chain_of(wanted)
    for code in chain:
        if code in available:
            return code
    return next(iter(available), chain[0])


def course_text(db, course_id: str, wanted: Wanted) -> dict:
    """The course's title and summary, with the ``lang`` they are in."""
    rows = fetch(db, "SELECT lang, title, summary FROM course_texts WHERE course_id = ? "
                     "ORDER BY rowid", [course_id])
    by_lang = {r["lang"]: r for r in rows}
    if not by_lang:
        return {"lang": chain_of(wanted)[0], "title": "", "summary": ""}
    return by_lang[pick_language(list(by_lang), wanted)]


def course_titles(db, course_ids, wanted: Wanted) -> dict[str, dict]:
    """``{course_id: {"title", "lang"}}`` for several courses at once (class lists)."""
    ids = list(dict.fromkeys(course_ids))
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    by_course: dict[str, dict[str, dict]] = {}
    for row in fetch(db, f"SELECT course_id, lang, title FROM course_texts WHERE course_id IN "
                         f"({marks}) ORDER BY rowid", ids):
        by_course.setdefault(row["course_id"], {})[row["lang"]] = row
    return {cid: {"title": texts[code]["title"], "lang": code}
            for cid, texts in by_course.items()
            for code in [pick_language(list(texts), wanted)]}


def topics() -> dict[str, str]:
    return {"computer": _("Using a computer"), "safety": _("Safe online"),
            "selling": _("Selling"), "services": _("Public services"), "other": _("Other")}


def get_course(db: Database, course_id: str, lang: Wanted) -> dict:
    rows = fetch(db, "SELECT id, pack, version, topic, languages, image FROM courses "
                     "WHERE id = ?", [course_id])
    if not rows:
        raise NotFound(_("This course is not installed at this centre."))
    course = rows[0]
    course["languages"] = course["languages"].split()
    course.update(course_text(db, course_id, lang))
    return course


def lessons_of(db: Database, course_id: str, lang: Wanted) -> list[dict]:
    """The course's lessons in order (retired ones left out), each titled in the first of
    ``lang`` it has (``pick_language``), with that ``lang``."""
    rows = fetch(db, "SELECT l.id, l.key, l.position, l.kind, l.minutes, l.image, l.pass_mark, "
                     "t.lang, t.title FROM lessons l LEFT JOIN lesson_texts t ON t.lesson_id = "
                     "l.id WHERE l.course_id = ? AND l.retired = 0 ORDER BY l.position",
                 [course_id])
    return sorted(_best_text(rows, lang).values(), key=lambda r: r["position"])


def _best_text(rows: list[dict], wanted: Wanted) -> dict[str, dict]:
    """One row per ``id`` among rows of texts in several languages: the ``pick_language`` one."""
    by_id: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_id.setdefault(row["id"], {})[row["lang"]] = row
    return {key: texts[pick_language(list(texts), wanted)] for key, texts in by_id.items()}


def get_lesson(db: Database, course_id: str, lesson_id: str, lang: Wanted) -> dict:
    rows = fetch(db, "SELECT l.id, l.course_id, l.key, l.position, l.kind, l.minutes, l.image, "
                     "l.pass_mark, l.retired, t.lang, t.title, t.body, t.audio FROM lessons l "
                     "JOIN lesson_texts t ON t.lesson_id = l.id WHERE l.id = ? AND "
                     "l.course_id = ?", [lesson_id, course_id])
    if not rows:
        raise NotFound(_("This lesson does not exist."))
    by_lang = {r["lang"]: r for r in rows}
    return by_lang[pick_language(list(by_lang), lang)]


def questions_of(db: Database, lesson_id: str, lang: Wanted) -> list[dict]:
    rows = fetch(db, "SELECT q.id, q.key, q.position, q.choices AS ids, q.correct, q.image, "
                     "t.lang, t.prompt, t.choices, t.explanation FROM questions q JOIN "
                     "question_texts t ON t.question_id = q.id WHERE q.lesson_id = ? AND "
                     "q.retired = 0 ORDER BY q.position", [lesson_id])
    by_question = _best_text(rows, lang)
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
