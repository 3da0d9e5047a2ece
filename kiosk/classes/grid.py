"""A class's progress grid: learner by lesson, and who needs help and why.

Imports ``kiosk.data``, ``kiosk.i18n``, the area's models and the courses area's models.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlite_utils import Database

from ..courses import models as courses
from ..data import fetch, reading
from ..i18n import _
from .models import get_class, learners_of, sessions_of

STUCK_FAILED_TRIES = 2  # failed tries of one quiz, not yet passed
STUCK_IDLE_DAYS = 14  # no step forward in two weekly sessions, course not finished


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
    lessons = courses.lessons_of(db, course_id, lang)
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
        state = courses.standing(lessons, made[learner["id"]], failed[learner["id"]],
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
