"""The classes area's demo: at a centre, a class whose learners stand at different points.

Imports ``kiosk.data``, ``kiosk.i18n``, the area's models and the models of the auth and courses
areas (the demo people and the shipped course they follow).
"""

from __future__ import annotations

import datetime as dt

from sqlite_utils import Database

from ..auth import models as accounts
from ..courses import models as courses
from ..courses.models import stable_id
from ..courses.packs import course_id as pack_course
from ..data import iso, writing
from ..i18n import _
from .models import (
    attendance_id,
    enrol,
    enrolment_id,
    open_session,
    record_attendance,
)


def demo(db: Database, *, centre_id: str, role: str, now: dt.datetime, **_ignored) -> list[dict]:
    """At a centre, the demo class, once (adds nothing twice); the hub has no classes."""
    if role == "node" and _demo_class(db, centre_id=centre_id, now=now):
        return [{"message": _("A demo class, \"%(name)s\", shows the facilitator's pages "
                              "(sign in as the facilitator).", name=DEMO_CLASS_NAME)}]
    return []


DEMO_CLASS = "demo-class"
DEMO_CLASS_NAME = "Computación básica, martes"


def _demo_class(db: Database, *, centre_id: str, now: dt.datetime) -> bool:
    """The demo class, once; True if it is there."""
    class_id = stable_id("demo", centre_id, DEMO_CLASS)
    course_id = pack_course("using-a-computer")
    if db.execute("SELECT 1 FROM classes WHERE id = ?", [class_id]).fetchone():
        return True
    lessons = courses.lessons_of(db, course_id, "es")
    if not lessons:  # the shipped course is not installed
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
    reading_lessons = [lesson for lesson in lessons if lesson["kind"] == "lesson"]
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
            for lesson in reading_lessons[:upto]:
                courses.finish_lesson(db, centre_id=centre_id, learner_id=learner,
                              lesson={**lesson, "course_id": course_id}, now=when)
                made.append(("progress", courses.progress_id(learner, lesson["id"])))

        def take_quiz(learner, right: bool, when):
            full = {**quiz, "course_id": course_id}
            for question in courses.questions_of(db, quiz["id"], "es"):
                wrong = [c for c, _w in question["choices"] if c not in question["correct"]]
                courses.answer(db, centre_id=centre_id, learner_id=learner, lesson=full,
                       question_id=question["id"], now=when,
                       chosen=question["correct"] if right else wrong[:1])
            made.append(("progress", courses.progress_id(learner, quiz["id"])))

        read(rosa, len(reading_lessons), weeks_ago[1])
        take_quiz(rosa, True, weeks_ago[2])  # finished, with a certificate
        made.append(("certificates", courses.certificate_id(rosa, course_id)))
        read(manuel, len(reading_lessons), weeks_ago[1])
        take_quiz(manuel, False, weeks_ago[1])  # stuck on the quiz
        take_quiz(manuel, False, weeks_ago[2])
        read(angel, 2, weeks_ago[2])  # half way, resumes on a page of the third lesson
        courses.open_page(db, centre_id=centre_id, learner_id=angel,
                  lesson={**reading_lessons[2], "course_id": course_id}, page=1, now=weeks_ago[2])
        made.append(("progress", courses.progress_id(angel, reading_lessons[2]["id"])))
        read(maria, 1, weeks_ago[0])  # stopped three weeks ago
        # Tránsito has not started.
        attempts = db.execute("SELECT id FROM quiz_attempts WHERE learner_id IN (?, ?)",
                              [rosa, manuel]).fetchall()
        made += [("quiz_attempts", a[0]) for a in attempts]
        for table, row_id in dict.fromkeys(made):
            db.execute("INSERT OR IGNORE INTO demo_rows (table_name, row_id) VALUES (?, ?)",
                       [table, row_id])
    return True
