"""Quizzes: one question at a time, each answer kept at once (resumable on any terminal), a
finished try scored once.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and the area's ``reading`` and
``progress``.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlite_utils import Database

from ...data import fetch, iso, new_id, writing
from ...errors import NotFound, ValidationError
from ...i18n import _
from .progress import complete_course, open_page, progress_id, progress_stamp
from .reading import questions_of


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
                       [progress_stamp(now), progress_id(learner_id, lesson["id"])])
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
               [score, progress_stamp(now), int(passed), int(passed), iso(now),
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
