"""Facilitators' class pages: who reaches them, creating and editing classes, enrolment,
attendance in one save, the progress grid and who needs help, CSV downloads and certificates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid

import pytest

from kiosk.classes import models as classes
from kiosk.courses import models
from kiosk.errors import ValidationError

from .conftest import SignIn
from .factories import (
    PASSWORD,
    PIN,
    WHEN,
    count,
    finish_lessons,
    make_account,
    make_course,
    received,
    take_quiz,
)


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def course(db, tmp_path):
    return make_course(db, tmp_path, lessons=2)


@pytest.fixture
def staff(db, centre) -> dict:
    return {role: make_account(db, centre, role=role, name=f"Una {role}")
            for role in ("villager", "cooperative", "facilitator", "admin")}


def signed_in(app, account):
    client = app.test_client()
    helper = SignIn(client)
    assert helper.pin(account, PIN).status_code == 302
    return client, helper


@pytest.fixture
def teacher(app, staff):
    return signed_in(app, staff["facilitator"])


@pytest.fixture
def klass(db, centre, course, staff) -> str:
    return classes.create_class(db, centre_id=centre, name="Computación básica, martes",
                               course_id=course["id"], facilitator_id=staff["facilitator"]["id"],
                               now=WHEN)


def learner(db, centre, name, klass=None, now=WHEN) -> dict:
    """A villager (no PIN: nobody signs in as them here), in the class if one is given."""
    person = make_account(db, centre, name=name, pin=None, now=now)
    if klass:
        classes.enrol(db, class_id=klass, learner_id=person["id"], centre_id=centre, now=now)
    return person


def text(response) -> str:
    return response.get_data(as_text=True)


def section(page: str, heading_id: str) -> str:
    """The HTML of the <section> whose heading has this id."""
    start = page.index(f'id="{heading_id}"')
    return page[start:page.index("</section>", start)]


def class_pages(klass: str, sid: str) -> list[str]:
    base = f"/courses/classes/{klass}"
    return ["/courses/classes", base, f"{base}/learners", f"{base}/sessions/{sid}",
            f"{base}/progress.csv",
            f"{base}/attendance.csv", f"{base}/certificates"]


@pytest.fixture
def session_id(db, centre, klass) -> str:
    return classes.open_session(db, class_id=klass, centre_id=centre, day=WHEN.date(), now=WHEN)


# Who reaches the pages.


@pytest.mark.parametrize("role, status", [
    ("villager", 403), ("cooperative", 403), ("facilitator", 200), ("admin", 200)])
def test_only_facilitators_and_admins_reach_the_class_pages(app, staff, klass, session_id,
                                                            role, status):
    client, _ = signed_in(app, staff[role])
    for path in class_pages(klass, session_id):
        assert client.get(path).status_code == status, path


def test_guests_are_sent_to_sign_in(client, klass, session_id):
    for path in class_pages(klass, session_id):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/auth/signin?next=")


def test_villagers_cannot_act_by_posting_directly(app, db, staff, klass, centre):
    client, helper = signed_in(app, staff["villager"])
    person = learner(db, centre, "Rosa Quishpe")
    before = (count(db, "classes"), count(db, "enrolments"), count(db, "class_sessions"))
    token = helper.token()
    for path, data in [("/courses/classes", {"name": "Mía", "course": "x"}),
                       (f"/courses/classes/{klass}/enrol", {"learner_id": person["id"]}),
                       (f"/courses/classes/{klass}/sessions", {}),
                       (f"/courses/classes/{klass}/edit", {"archive": "1"})]:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert (count(db, "classes"), count(db, "enrolments"), count(db, "class_sessions")) == before


def test_the_hub_has_no_class_pages(hub_app, hub_db, hub_client):
    assert hub_client.get("/courses/classes").status_code == 404
    staff = make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional",
                         name="Ana Regional")
    SignIn(hub_client).password(staff["name"], PASSWORD)
    assert hub_client.get("/courses/classes").status_code == 404


def test_another_centres_class_is_not_found_and_stays_unchanged(app, db, teacher, course, staff):
    client, helper = teacher
    other = str(uuid.uuid4())
    with received(db, other):
        theirs = classes.create_class(db, centre_id=other, name="Clase ajena",
                                     course_id=course["id"], facilitator_id="someone", now=WHEN)
    response = client.get(f"/courses/classes/{theirs}")
    assert response.status_code == 404
    assert "This class does not exist at this centre." in text(response)
    assert "Clase ajena" not in text(client.get("/courses/classes"))
    person = learner(db, app.config["CENTRE_ID"], "Rosa Quishpe")
    token = helper.token()
    for path, data in [(f"/courses/classes/{theirs}/enrol", {"learner_id": person["id"]}),
                       (f"/courses/classes/{theirs}/edit", {"name": "Mía"}),
                       (f"/courses/classes/{theirs}/sessions", {}),
                       (f"/courses/classes/{theirs}/progress.csv", None)]:
        response = (client.get(path) if data is None
                    else client.post(path, data={**data, "csrf_token": token}))
        assert response.status_code == 404, path
    assert count(db, "enrolments") == 0 and count(db, "class_sessions") == 0
    assert db.execute("SELECT name FROM classes WHERE id = ?", [theirs]).fetchone()[0] == \
        "Clase ajena"


# Creating, renaming and archiving classes.


def test_facilitator_creates_a_class_and_finds_it_in_the_list(db, teacher, course):
    client, helper = teacher
    page = text(client.get("/courses/classes"))
    assert "Create a class" in page and "Curso basics en" in page
    response = client.post("/courses/classes", data={
        "name": "  Martes   tarde ", "course": course["id"], "csrf_token": helper.token()})
    assert response.status_code == 302
    [made] = classes.list_classes(db, client.application.config["CENTRE_ID"], "en")
    # Straight to adding its learners, which is what a new class needs next.
    assert made["name"] == "Martes tarde"
    assert response.location == f"/courses/classes/{made['id']}/learners"
    page = text(client.get(response.location))
    assert "The class is ready" in page and 'id="add-title"' in page
    row = re.search(r"<tr>\s*<td><a class=\"class-link\".*?</tr>",
                    text(client.get("/courses/classes")), re.S).group(0)
    assert "Martes tarde" in row and "Curso basics en" in row and "<td>0</td>" in row
    assert "None yet" in row


@pytest.mark.parametrize("name, course_id, field, message", [
    ("", None, "name", "Give the class a name of 1 to 80 characters."),
    ("   ", None, "name", "Give the class a name of 1 to 80 characters."),
    ("x" * 81, None, "name", "Give the class a name of 1 to 80 characters."),
    ("Bell\x07 class", None, "name", "Give the class a name of 1 to 80 characters."),
    ("Martes", "no-such-course", "course", "Choose one of the courses of the list."),
    ("Martes", "", "course", "Choose one of the courses of the list."),
])
def test_a_bad_class_is_refused_with_a_message_and_nothing_saved(db, teacher, course, name,
                                                                 course_id, field, message):
    client, helper = teacher
    response = client.post("/courses/classes", data={
        "name": name, "course": course["id"] if course_id is None else course_id,
        "csrf_token": helper.token()})
    assert response.status_code == 400
    page = text(response)
    assert f'id="{field}-error"' in page and message in page
    assert 'aria-invalid="true"' in page
    assert count(db, "classes") == 0


def test_a_class_is_checked_whole_before_anything_is_written(db, centre, course):
    """Issue 15: the name and the course are both checked, and both named, before the class is
    inserted; no insert is left for a later error to roll back."""
    retired = make_course(db, course["folder"].parent / "old", pack_id="retired", lessons=1,
                          questions=0)
    db.execute("UPDATE lessons SET retired = 1 WHERE course_id = ?", [retired["id"]])
    for name, course_id, fields in [(" ", "no-such-course", {"name", "course"}),
                                    ("Martes", retired["id"], {"course"})]:
        with pytest.raises(ValidationError) as refused:
            classes.create_class(db, centre_id=centre, name=name, course_id=course_id,
                                 facilitator_id="someone", now=WHEN)
        assert set(refused.value.errors) == fields
    assert count(db, "classes") == 0


def test_script_tags_in_a_class_name_are_shown_as_text(db, teacher, course):
    client, helper = teacher
    client.post("/courses/classes", data={"name": "<script>alert(1)</script> Lunes",
                                          "course": course["id"], "csrf_token": helper.token()})
    [made] = classes.list_classes(db, client.application.config["CENTRE_ID"], "en")
    for path in ("/courses/classes", f"/courses/classes/{made['id']}",
                 f"/courses/classes/{made['id']}/learners"):
        page = text(client.get(path))
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Lunes" in page


def test_forms_without_the_csrf_token_change_nothing(db, teacher, course, klass, centre):
    client, _ = teacher
    person = learner(db, centre, "Rosa Quishpe")
    for path, data in [("/courses/classes", {"name": "Otra", "course": course["id"]}),
                       (f"/courses/classes/{klass}/enrol", {"learner_id": person["id"]}),
                       (f"/courses/classes/{klass}/sessions", {}),
                       (f"/courses/classes/{klass}/edit", {"name": "Otro nombre"})]:
        response = client.post(path, data=data)
        assert response.status_code == 400 and "This page has expired" in text(response)
    assert count(db, "classes") == 1 and count(db, "enrolments") == 0
    assert count(db, "class_sessions") == 0
    assert classes.get_class(db, klass, centre, "en")["name"] == "Computación básica, martes"


def test_a_class_is_renamed_archived_and_restored(db, teacher, klass, centre):
    client, helper = teacher
    base = f"/courses/classes/{klass}"
    response = client.post(f"{base}/edit", data={"name": "", "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "Give the class a name of 1 to 80 characters." in text(response)
    assert classes.get_class(db, klass, centre, "en")["name"] == "Computación básica, martes"
    response = client.post(f"{base}/edit", data={"name": "Jueves", "csrf_token": helper.token()})
    assert response.status_code == 302
    assert "The class has a new name." in text(client.get(base))
    client.post(f"{base}/edit", data={"archive": "1", "csrf_token": helper.token()})
    assert "Jueves" not in text(client.get("/courses/classes"))
    assert "Jueves" in text(client.get("/courses/classes?archived=1"))
    assert "This class is archived" in text(client.get(base))
    client.post(f"{base}/edit", data={"archive": "0", "csrf_token": helper.token()})
    assert "Jueves" in text(client.get("/courses/classes"))


# Enrolment.


def test_people_are_found_by_name_without_accents_added_and_removed(db, teacher, klass, centre):
    client, helper = teacher
    angel = learner(db, centre, "Ángel Yupanqui")
    learner(db, centre, "Rosa Quishpe")
    base = f"/courses/classes/{klass}"
    assert 'id="add-title"' not in text(client.get(base))  # the class page is the grid
    page = section(text(client.get(f"{base}/learners?q=angel")), "add-title")
    assert "Ángel Yupanqui" in page and "Rosa Quishpe" not in page
    assert '<input type="hidden" name="q" value="angel">' in page  # the search stays
    response = client.post(f"{base}/enrol", data={"learner_id": angel["id"], "q": "angel",
                                                  "csrf_token": helper.token()})
    assert response.status_code == 302
    assert response.location == f"{base}/learners?q=angel#add"
    page = text(client.get(response.location))
    assert "Ángel Yupanqui is now in the class." in page
    assert [p["id"] for p in classes.learners_of(db, klass)] == [angel["id"]]
    assert "Add</span><span class=\"visually-hidden\"> Ángel" not in page
    assert "Ángel Yupanqui" in section(page, "learners-title")
    assert "Ángel Yupanqui" in text(client.get(base))  # and in the grid
    response = client.post(f"{base}/unenrol", data={"learner_id": angel["id"],
                                                    "csrf_token": helper.token()})
    assert response.status_code == 302 and response.location == f"{base}/learners#learners"
    assert "Ángel Yupanqui left the class." in text(client.get(response.location))
    assert classes.learners_of(db, klass) == []
    # Leaving keeps the row (a delete is final in sync): active = 0, and joining again restores.
    assert db.execute("SELECT active FROM enrolments").fetchall() == [(0,)]
    client.post(f"{base}/enrol", data={"learner_id": angel["id"], "csrf_token": helper.token()})
    assert db.execute("SELECT active FROM enrolments").fetchall() == [(1,)]


@pytest.mark.parametrize("who", ["nobody", "other-centre", "regional", "facilitator", "admin"])
def test_someone_who_cannot_join_is_refused_with_a_message(db, teacher, klass, who):
    """Only villagers (and the cooperative's, villagers who sell) learn in a class: staff are
    neither offered nor accepted (issue 16: the facilitator was offered in her own class)."""
    client, helper = teacher
    if who == "nobody":
        learner_id = "no-such-person"
    elif who == "other-centre":
        learner_id = make_account(db, str(uuid.uuid4()), pin=None)["id"]
    else:
        learner_id = make_account(db, client.application.config["CENTRE_ID"], role=who,
                                  name=f"Staff {who}")["id"]
    response = client.post(f"/courses/classes/{klass}/enrol", data={
        "learner_id": learner_id, "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "This person cannot join a class here." in text(response)
    assert count(db, "enrolments") == 0


def test_removing_someone_not_in_the_class_is_refused(db, teacher, klass, centre):
    client, helper = teacher
    person = learner(db, centre, "Rosa Quishpe")
    response = client.post(f"/courses/classes/{klass}/unenrol", data={
        "learner_id": person["id"], "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "This person is not in the class." in text(response)


# Attendance.


def test_attendance_for_thirty_learners_is_one_tap_each_and_one_save(db, teacher, klass, centre):
    client, helper = teacher
    people = [learner(db, centre, f"Persona {n:02d}", klass) for n in range(30)]
    response = client.post(f"/courses/classes/{klass}/sessions",
                           data={"csrf_token": helper.token()})
    assert response.status_code == 200  # the list, nothing written yet
    assert count(db, "class_sessions") == 0
    page = text(response)
    assert page.count('type="checkbox" ') == 30 and " checked" not in page
    assert "Save attendance" in page and "Monday, November 23, 2026" in page
    assert '<input type="hidden" name="day" value="2026-11-23">' in page
    here = [p["id"] for p in people[:20]]
    response = client.post(f"/courses/classes/{klass}/sessions", data={
        "day": "2026-11-23", "present": here, "csrf_token": helper.token()})
    assert response.status_code == 302
    assert "Attendance saved: 20 of 30 present." in text(client.get(response.location))
    sid = classes.session_id(klass, "2026-11-23")
    assert count(db, "attendance") == 30 and count(db, "class_sessions") == 1
    assert sorted(k for k, v in classes.attendance_of(db, sid).items() if v) == sorted(here)
    page = text(client.get(f"/courses/classes/{klass}/sessions/{sid}"))
    assert page.count(" checked>") == 20 and "already saved" in page
    # A correction: one more arrived late.
    client.post(f"/courses/classes/{klass}/sessions/{sid}", data={
        "present": here + [people[20]["id"]], "csrf_token": helper.token()})
    assert sum(classes.attendance_of(db, sid).values()) == 21
    assert "21 present" in section(text(client.get(f"/courses/classes/{klass}")),
                                   "sessions-title")


def test_attendance_is_taken_on_the_hubs_date_when_the_pc_has_a_wrong_one(app, db, staff,
                                                                         klass, centre):
    """The centre's PC says Monday 23 at 15:00 UTC, but the last sync found it three days
    behind the hub: the class meets on Thursday 26, and that is the day recorded and shown."""
    rosa = learner(db, centre, "Rosa Quishpe", klass)
    db.execute("UPDATE _sync_state SET offset_ms = ?", [3 * 86_400_000])  # as a sync sets it
    client, helper = signed_in(app, staff["facilitator"])
    response = client.post(f"/courses/classes/{klass}/sessions",
                           data={"csrf_token": helper.token()})
    assert "Thursday, November 26, 2026" in text(response)
    assert 'name="day" value="2026-11-26"' in text(response)
    client.post(f"/courses/classes/{klass}/sessions", data={
        "day": "2026-11-26", "present": rosa["id"], "csrf_token": helper.token()})
    assert db.execute("SELECT held_on FROM class_sessions").fetchall() == [("2026-11-26",)]


def test_a_strangers_id_in_the_attendance_saves_nothing(db, teacher, klass, centre):
    client, helper = teacher
    people = [learner(db, centre, f"Persona {n}", klass) for n in range(3)]
    stranger = learner(db, centre, "No Inscrita")
    sid = classes.open_session(db, class_id=klass, centre_id=centre, day=WHEN.date(), now=WHEN)
    response = client.post(f"/courses/classes/{klass}/sessions/{sid}", data={
        "present": [p["id"] for p in people] + [stranger["id"]], "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "Someone on the list is not in this class." in text(response)
    assert count(db, "attendance") == 0


def test_one_session_per_day_dated_where_the_centre_is(db, teacher, klass, clock, staff,
                                                       centre):
    client, helper = teacher
    rosa = learner(db, centre, "Rosa Quishpe", klass)
    path = f"/courses/classes/{klass}/sessions"
    client.post(path, data={"day": "2026-11-23", "present": rosa["id"],
                            "csrf_token": helper.token()})
    first = f"{path}/{classes.session_id(klass, '2026-11-23')}"
    # Taking attendance again the same day opens the saved list, to correct it.
    assert client.post(path, data={"csrf_token": helper.token()}).location == first
    # 03:00 UTC on the 24th is still the evening of the 23rd in Ecuador.
    clock.now = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.timezone.utc)
    helper.pin(staff["facilitator"], PIN)  # hours later: signed out while idle
    assert client.post(path, data={"csrf_token": helper.token()}).location == first
    clock.advance(days=1)
    helper.pin(staff["facilitator"], PIN)
    response = client.post(path, data={"csrf_token": helper.token()})
    assert response.status_code == 200 and 'value="2026-11-24"' in text(response)
    assert count(db, "class_sessions") == 1


def test_a_session_of_another_class_is_not_found(db, teacher, klass, centre, course, staff):
    client, _ = teacher
    other = classes.create_class(db, centre_id=centre, name="Otra", course_id=course["id"],
                                facilitator_id=staff["facilitator"]["id"], now=WHEN)
    sid = classes.open_session(db, class_id=other, centre_id=centre, day=WHEN.date(), now=WHEN)
    assert client.get(f"/courses/classes/{klass}/sessions/{sid}").status_code == 404


# The progress grid and who needs help.


@pytest.fixture
def progress(db, centre, course, klass, clock):
    """Four learners at different points: finished, stuck on the quiz, half way, not begun."""
    names = ("Ana Finished", "Beto Stuck", "Carla Halfway", "Dario Waiting")
    people = {name.split()[1].lower(): learner(db, centre, name, klass) for name in names}
    finish_lessons(db, course, people["finished"]["id"], centre_id=centre)
    take_quiz(db, course, people["finished"]["id"], right=True, centre_id=centre)
    finish_lessons(db, course, people["stuck"]["id"], centre_id=centre)
    for _ in range(2):
        take_quiz(db, course, people["stuck"]["id"], right=False, centre_id=centre)
    finish_lessons(db, course, people["halfway"]["id"], upto=1, centre_id=centre)
    lesson = models.get_lesson(db, course["id"], course["lessons"][1], "en")
    models.open_page(db, centre_id=centre, learner_id=people["halfway"]["id"], lesson=lesson,
                     page=1, now=WHEN)
    return people


def grid_row(page: str, name: str) -> str:
    """The progress grid's row of this learner."""
    grid = page[page.index('<table class="grid">'):]
    return next(row for row in grid.split("<tr>") if '<th scope="row">' in row and name in row)


def cells(row: str) -> list[str]:
    return re.findall(r'<td class="cell (\w+)">', row)


def test_the_grid_shows_each_lesson_state_and_quiz_scores(db, teacher, klass, progress):
    client, _ = teacher
    page = text(client.get(f"/courses/classes/{klass}"))
    assert cells(grid_row(page, "Ana Finished")) == ["done", "done", "done"]
    assert "100%" in grid_row(page, "Ana Finished")
    assert cells(grid_row(page, "Beto Stuck")) == ["done", "done", "started"]
    assert "0%" in grid_row(page, "Beto Stuck")
    assert cells(grid_row(page, "Carla Halfway")) == ["done", "started", "todo"]
    assert cells(grid_row(page, "Dario Waiting")) == ["todo", "todo", "todo"]
    row = grid_row(page, "Carla Halfway")
    for words in ('<span class="visually-hidden">Done</span>',
                  '<span class="visually-hidden">Started</span>',
                  '<span class="visually-hidden">Not started</span>', "1 of 3"):
        assert words in row
    assert "Lesson lesson-1 (1)" in page and "Final quiz" in page


def test_who_needs_help_and_why_is_shown_first(teacher, klass, progress, clock, staff):
    client, helper = teacher
    page = text(client.get(f"/courses/classes/{klass}"))
    assert page.index("Needs help") < page.index('id="progress-title"')
    help_box = section(page, "help-title")
    assert "Beto Stuck" in help_box
    assert "Did not pass “Final quiz” after 2 tries" in help_box
    for name in ("Ana Finished", "Carla Halfway", "Dario Waiting"):
        assert name not in help_box
    clock.advance(days=7)  # a class meets weekly: a week without progress is no alarm yet
    helper.pin(staff["facilitator"], PIN)
    help_box = section(text(client.get(f"/courses/classes/{klass}")), "help-title")
    assert "Dario Waiting" not in help_box and "Carla Halfway" not in help_box
    clock.advance(days=7)
    helper.pin(staff["facilitator"], PIN)  # two weeks later: signed in again
    help_box = section(text(client.get(f"/courses/classes/{klass}")), "help-title")
    assert "Not started for 14 days" in help_box and "Dario Waiting" in help_box
    assert "No progress for 14 days" in help_box and "Carla Halfway" in help_box
    assert "Ana Finished" not in help_box  # finished: nothing to catch up


def test_the_grid_shows_sessions_attended_and_certificates(db, teacher, klass, progress,
                                                           centre):
    client, _ = teacher
    sid = classes.open_session(db, class_id=klass, centre_id=centre, day=WHEN.date(), now=WHEN)
    classes.record_attendance(db, class_id=klass, session_id=sid, centre_id=centre, now=WHEN,
                             present={progress["finished"]["id"]})
    page = text(client.get(f"/courses/classes/{klass}"))
    certified = '#award"></use></svg><span class="visually-hidden">Certificate</span>'
    ana = grid_row(page, "Ana Finished")
    assert re.findall(r'<td class="total">([^<]*)', ana) == ["3 of 3 ", "1 of 1"]
    assert certified in ana
    beto = grid_row(page, "Beto Stuck")
    assert re.findall(r'<td class="total">([^<]*)', beto) == ["2 of 3", "0 of 1"]
    assert certified not in beto


# Downloads.


def read_csv(response) -> list[list[str]]:
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: accents survive a Windows spreadsheet
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_the_progress_csv_has_a_row_per_learner(db, teacher, klass, progress):
    client, _ = teacher
    response = client.get(f"/courses/classes/{klass}/progress.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="computacion-basica-martes-progress.csv"'
    rows = read_csv(response)
    assert rows[0] == ["Name", "Lessons done", "Lessons", "1. Lesson lesson-1 (1)",
                       "2. Lesson lesson-2 (1)", "3. Final quiz", "3. Final quiz: best score (%)",
                       "Certificate", "Last activity"]
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == ["Ana Finished", "Beto Stuck", "Carla Halfway", "Dario Waiting"]
    code = models.find_certificate(db, progress["finished"]["id"], classes.get_class(
        db, klass, client.application.config["CENTRE_ID"], "en")["course_id"])["code"]
    assert by_name["Ana Finished"] == ["Ana Finished", "3", "3", "done", "done", "done", "100",
                                       code, "2026-11-23"]
    assert by_name["Beto Stuck"][1:8] == ["2", "3", "done", "done", "started", "0", ""]
    assert by_name["Carla Halfway"][1:7] == ["1", "3", "done", "started", "", ""]
    assert by_name["Dario Waiting"] == ["Dario Waiting", "0", "3", "", "", "", "", "", ""]


def test_the_attendance_csv_has_learner_by_date_and_totals(db, teacher, klass, centre):
    client, _ = teacher
    ana, beto = (learner(db, centre, name, klass) for name in ("Ana Uno", "Beto Dos"))
    for day, here in ((dt.date(2026, 11, 17), {ana["id"], beto["id"]}),
                      (dt.date(2026, 11, 10), {ana["id"]})):
        sid = classes.open_session(db, class_id=klass, centre_id=centre, day=day, now=WHEN)
        classes.record_attendance(db, class_id=klass, session_id=sid, present=here,
                                 centre_id=centre, now=WHEN)
    response = client.get(f"/courses/classes/{klass}/attendance.csv")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="computacion-basica-martes-attendance.csv"'
    assert read_csv(response) == [
        ["Name", "2026-11-10", "2026-11-17", "Sessions attended"],
        ["Ana Uno", "1", "1", "2"],
        ["Beto Dos", "0", "1", "1"],
        ["Present", "1", "2", "3"],
    ]


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+Suma", "-Resta", "@Arroba"])
def test_csv_cells_never_become_formulas(db, teacher, klass, centre, name):
    client, _ = teacher
    learner(db, centre, name, klass)
    for what in ("progress", "attendance"):
        rows = read_csv(client.get(f"/courses/classes/{klass}/{what}.csv"))
        assert rows[1][0] == "'" + name


def test_a_class_name_without_ascii_letters_still_gives_a_filename(db, teacher, course, staff,
                                                                   centre):
    client, _ = teacher
    arabic = classes.create_class(db, centre_id=centre, name="صف الثلاثاء",
                                 course_id=course["id"],
                                 facilitator_id=staff["facilitator"]["id"], now=WHEN)
    response = client.get(f"/courses/classes/{arabic}/attendance.csv")
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="class-attendance.csv"'


# Certificates.


def test_the_certificates_page_shows_only_those_who_finished(teacher, klass, progress):
    client, _ = teacher
    page = text(client.get(f"/courses/classes/{klass}/certificates"))
    assert page.count('<article class="certificate">') == 1
    assert "Ana Finished" in page and "Curso basics en" in page
    for name in ("Beto Stuck", "Carla Halfway", "Dario Waiting"):
        assert name not in page
    assert f'href="/courses/classes/{klass}"' in page  # back to the class


def test_the_certificates_page_of_a_new_class_says_nobody_finished(teacher, klass):
    client, _ = teacher
    page = text(client.get(f"/courses/classes/{klass}/certificates"))
    assert "Nobody in this class has finished the course yet." in page
