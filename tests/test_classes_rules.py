"""Issue 16's rules for a facilitator's class pages, at the server: many learners added or
removed in one form, and only villagers; attendance written only when saved; "everyone is
here"; renaming and archiving by the class's own facilitator or an admin; the class page's
actions offered only when they have something to act on."""

from __future__ import annotations

import re
import sqlite3

import pytest

from kiosk.classes import models as classes

from .conftest import SignIn
from .factories import PIN, WHEN, count, finish_lessons, make_account, make_course, take_quiz


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def course(db, tmp_path):
    return make_course(db, tmp_path, lessons=2)


@pytest.fixture
def lucia(db, centre) -> dict:
    return make_account(db, centre, role="facilitator", name="Lucía Andrango")


@pytest.fixture
def klass(db, centre, course, lucia) -> str:
    return classes.create_class(db, centre_id=centre, name="Martes", course_id=course["id"],
                               facilitator_id=lucia["id"], now=WHEN)


def signed_in(app, account):
    client = app.test_client()
    helper = SignIn(client)
    assert helper.pin(account, PIN).status_code == 302
    return client, helper


@pytest.fixture
def teacher(app, lucia):
    return signed_in(app, lucia)


def villagers(db, centre, *names, role="villager") -> list[dict]:
    return [make_account(db, centre, name=name, role=role, pin=None) for name in names]


def text(response) -> str:
    return response.get_data(as_text=True)


def enrolled(db, klass) -> list[str]:
    return [p["name"] for p in classes.learners_of(db, klass)]


# Many at once.


def test_ticked_learners_join_in_one_form_and_a_replay_adds_nobody_twice(db, teacher, klass,
                                                                        centre):
    client, helper = teacher
    people = villagers(db, centre, "Rosa Quishpe", "Manuel Guamán")
    people += villagers(db, centre, "Segundo Tenemaza", role="cooperative")  # sells; learns too
    form = {"learner_id": [p["id"] for p in people], "csrf_token": helper.token()}
    response = client.post(f"/courses/classes/{klass}/enrol", data=form)
    assert response.status_code == 302
    page = text(client.get(response.location))
    assert "3 people are now in the class: Rosa Quishpe, Manuel Guamán, and Segundo " \
           "Tenemaza." in page
    assert enrolled(db, klass) == ["Manuel Guamán", "Rosa Quishpe", "Segundo Tenemaza"]
    rows = db.execute("SELECT * FROM enrolments ORDER BY id").fetchall()
    response = client.post(f"/courses/classes/{klass}/enrol", data=form)  # sent again
    assert response.status_code == 302
    assert "They were already in the class: nothing changed." in text(
        client.get(response.location))
    assert db.execute("SELECT * FROM enrolments ORDER BY id").fetchall() == rows


@pytest.mark.parametrize("intruder", ["facilitator", "admin", "regional", "unknown", "other",
                                      "script"])
def test_one_person_who_cannot_join_stops_the_whole_form(db, teacher, klass, centre,
                                                         intruder):
    client, helper = teacher
    people = villagers(db, centre, "Rosa Quishpe", "Manuel Guamán")
    if intruder in ("facilitator", "admin", "regional"):
        bad = make_account(db, centre, role=intruder, name=f"Staff {intruder}")["id"]
    elif intruder == "other":
        bad = make_account(db, "another-centre", name="Ana Otra", pin=None)["id"]
    else:
        bad = "no-such-id" if intruder == "unknown" else "<script>alert(1)</script>"
    response = client.post(f"/courses/classes/{klass}/enrol", data={
        "learner_id": [people[0]["id"], bad, people[1]["id"]], "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "Someone on the list cannot join a class here: only the centre&#39;s villagers " \
           "can be learners. Nobody was added." in text(response)
    assert "<script>alert" not in text(response)
    assert count(db, "enrolments") == 0


@pytest.mark.parametrize("ids, message", [
    ([], "Tick at least one person."), ([""], "Tick at least one person."),
    ([f"id-{n}" for n in range(501)], "Too many people at once.")])
def test_an_empty_or_huge_form_is_refused_with_a_message(db, teacher, klass, ids, message):
    client, helper = teacher
    for action in ("enrol", "unenrol"):
        response = client.post(f"/courses/classes/{klass}/{action}",
                               data={"learner_id": ids, "csrf_token": helper.token()})
        assert response.status_code == 400 and message in text(response)
    assert count(db, "enrolments") == 0


def test_ticked_learners_leave_in_one_form_and_a_stranger_stops_it(db, teacher, klass, centre):
    client, helper = teacher
    people = villagers(db, centre, "Ana", "Beto", "Carla")
    classes.enrol_many(db, class_id=klass, learner_ids=[p["id"] for p in people],
                       centre_id=centre, now=WHEN)
    stranger = villagers(db, centre, "Dora")[0]
    response = client.post(f"/courses/classes/{klass}/unenrol", data={
        "learner_id": [people[0]["id"], stranger["id"]], "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "Someone on the list is not in this class. Nobody was removed." in text(response)
    assert enrolled(db, klass) == ["Ana", "Beto", "Carla"]
    form = {"learner_id": [people[0]["id"], people[1]["id"]], "csrf_token": helper.token()}
    response = client.post(f"/courses/classes/{klass}/unenrol", data=form)
    assert "2 people left the class: Ana and Beto." in text(client.get(response.location))
    assert enrolled(db, klass) == ["Carla"]
    response = client.post(f"/courses/classes/{klass}/unenrol", data=form)  # sent again
    assert response.status_code == 302 and enrolled(db, klass) == ["Carla"]


def test_the_learners_page_offers_only_villagers_each_with_a_box_and_its_own_add(
        db, teacher, klass, centre, lucia):
    client, _ = teacher
    rosa, = villagers(db, centre, "Rosa Quishpe")
    make_account(db, centre, role="admin", name="Carmen Paucar", pin=None)
    page = text(client.get(f"/courses/classes/{klass}/learners"))
    offered = page[page.index('id="add-title"'):page.index('id="learners-title"')]
    assert "Rosa Quishpe" in offered
    assert "Lucía Andrango" not in offered and "Carmen Paucar" not in offered
    assert f'<input type="checkbox" name="learner_id" value="{rosa["id"]}" form="add-many">' \
        in offered
    assert f'<input type="hidden" name="learner_id" value="{rosa["id"]}">' in offered
    assert '<form id="add-many"' in offered and "Add the ticked learners" in offered
    # Forms never nest: every <form> closes before the next opens.
    opened = 0
    for tag in re.findall(r"</?form\b", page):
        opened += 1 if tag == "<form" else -1
        assert opened in (0, 1)


# Attendance: nothing written until saved.


@pytest.fixture
def watcher(app):
    """Another connection to the database: its PRAGMA data_version changes when any other
    connection commits a write."""
    other = sqlite3.connect(app.config["DATABASE"])
    yield lambda: other.execute("PRAGMA data_version").fetchone()[0]
    other.close()


def test_opening_todays_list_writes_nothing_and_leaving_it_leaves_no_session(db, teacher, klass,
                                                                            centre, watcher):
    client, helper = teacher
    villagers_in = villagers(db, centre, "Rosa", "Beto")
    classes.enrol_many(db, class_id=klass, learner_ids=[p["id"] for p in villagers_in],
                       centre_id=centre, now=WHEN)
    token = helper.token()
    before = watcher()
    for _ in range(3):  # pressed, left, pressed again
        response = client.post(f"/courses/classes/{klass}/sessions", data={"csrf_token": token})
        assert response.status_code == 200 and "not saved yet" in text(response)
    assert watcher() == before
    assert count(db, "class_sessions") == 0 and count(db, "attendance") == 0
    page = text(client.get(f"/courses/classes/{klass}"))
    assert "No session yet." in page and "0 of 0" in page
    csv = client.get(f"/courses/classes/{klass}/attendance.csv").get_data(as_text=True)
    assert csv.splitlines()[0].count("2026") == 0


def test_a_session_left_unsaved_by_older_versions_is_not_counted(db, teacher, klass, centre):
    """Before issue 16 opening the list wrote its session: such a session, with no marks, was
    not held, and is neither listed nor counted in "attended", nor a column of the CSV."""
    client, _ = teacher
    rosa, = villagers(db, centre, "Rosa")
    classes.enrol(db, class_id=klass, learner_id=rosa["id"], centre_id=centre, now=WHEN)
    classes.open_session(db, class_id=klass, centre_id=centre, day=WHEN.date(), now=WHEN)
    assert classes.sessions_of(db, klass) == []
    page = text(client.get(f"/courses/classes/{klass}"))
    assert "0 of 1" not in page and "No session yet." in page
    assert "2026-11-23" not in client.get(f"/courses/classes/{klass}/attendance.csv").get_data(
        as_text=True)
    assert "None yet" in text(client.get("/courses/classes"))


def test_everyone_is_here_without_javascript_ticks_all_then_save_saves(db, teacher, klass,
                                                                     centre):
    client, helper = teacher
    people = villagers(db, centre, *(f"Persona {n}" for n in range(5)))
    classes.enrol_many(db, class_id=klass, learner_ids=[p["id"] for p in people],
                       centre_id=centre, now=WHEN)
    base = f"/courses/classes/{klass}/sessions"
    response = client.post(base, data={"day": "2026-11-23", "everyone": "1",
                                       "csrf_token": helper.token()})
    assert response.status_code == 200 and text(response).count(" checked>") == 5
    assert count(db, "class_sessions") == 0
    response = client.post(base, data={"day": "2026-11-23", "csrf_token": helper.token(),
                                       "present": [p["id"] for p in people], "save": "1"})
    assert response.status_code == 302
    assert "Attendance saved: 5 of 5 present." in text(client.get(response.location))
    assert count(db, "class_sessions") == 1 and count(db, "attendance") == 5
    # The same form again (a reload) corrects the same session: nothing doubles.
    client.post(base, data={"day": "2026-11-23", "csrf_token": helper.token(),
                            "present": [p["id"] for p in people[:4]]})
    assert count(db, "class_sessions") == 1 and count(db, "attendance") == 5
    sid = classes.session_id(klass, "2026-11-23")
    assert sum(classes.attendance_of(db, sid).values()) == 4


@pytest.mark.parametrize("day", ["2026-11-21", "2026-11-24", "", "mañana", "2026-13-40",
                                 "<script>", "9" * 5000])
def test_a_list_of_another_day_is_refused_and_nothing_saved(db, teacher, klass, centre, day):
    client, helper = teacher
    rosa, = villagers(db, centre, "Rosa")
    classes.enrol(db, class_id=klass, learner_id=rosa["id"], centre_id=centre, now=WHEN)
    response = client.post(f"/courses/classes/{klass}/sessions", data={
        "day": day, "present": rosa["id"], "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "This list is from another day." in text(response)
    assert count(db, "class_sessions") == 0 and count(db, "attendance") == 0


def test_a_list_opened_before_midnight_is_saved_on_its_day(db, teacher, klass, centre, clock,
                                                          lucia):
    import datetime as dt

    client, helper = teacher
    rosa, = villagers(db, centre, "Rosa")
    classes.enrol(db, class_id=klass, learner_id=rosa["id"], centre_id=centre, now=WHEN)
    clock.now = dt.datetime(2026, 11, 24, 5, 1, tzinfo=dt.timezone.utc)  # 00:01 in Ecuador
    helper.pin(lucia, PIN)  # hours later: signed out while idle
    response = client.post(f"/courses/classes/{klass}/sessions", data={
        "day": "2026-11-23", "present": rosa["id"], "csrf_token": helper.token()})
    assert response.status_code == 302
    assert db.execute("SELECT held_on FROM class_sessions").fetchall() == [("2026-11-23",)]


def test_a_stranger_in_the_first_save_writes_no_session(db, teacher, klass, centre):
    client, helper = teacher
    rosa, stranger = villagers(db, centre, "Rosa", "No Inscrita")
    classes.enrol(db, class_id=klass, learner_id=rosa["id"], centre_id=centre, now=WHEN)
    response = client.post(f"/courses/classes/{klass}/sessions", data={
        "day": "2026-11-23", "present": [rosa["id"], stranger["id"]],
        "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "Someone on the list is not in this class." in text(response)
    assert count(db, "class_sessions") == 0 and count(db, "attendance") == 0


# Who may change a class.


def test_another_facilitator_reads_and_takes_attendance_but_cannot_rename_or_archive(
        app, db, klass, centre):
    other = make_account(db, centre, role="facilitator", name="Otro Profesor")
    client, helper = signed_in(app, other)
    page = text(client.get(f"/courses/classes/{klass}"))
    assert "Martes" in page and 'id="settings-title"' not in page
    assert "Take attendance today" in page
    for form in ({"name": "Robada"}, {"archive": "1"}):
        response = client.post(f"/courses/classes/{klass}/edit",
                               data={**form, "csrf_token": helper.token()})
        assert response.status_code == 403
        assert "Only the class&#39;s facilitator or an admin can rename or archive it." in \
            text(response)
    found = classes.get_class(db, klass, centre, "en")
    assert (found["name"], found["archived"]) == ("Martes", 0)


@pytest.mark.parametrize("role", ["admin", "own"])
def test_the_classs_own_facilitator_and_an_admin_rename_and_archive(app, db, klass, centre,
                                                                    lucia, role):
    who = lucia if role == "own" else make_account(db, centre, role="admin", name="Carmen")
    client, helper = signed_in(app, who)
    assert 'id="settings-title"' in text(client.get(f"/courses/classes/{klass}"))
    assert client.post(f"/courses/classes/{klass}/edit", data={
        "name": "Jueves", "csrf_token": helper.token()}).status_code == 302
    assert client.post(f"/courses/classes/{klass}/edit", data={
        "archive": "1", "csrf_token": helper.token()}).status_code == 302
    found = classes.get_class(db, klass, centre, "en")
    assert (found["name"], found["archived"]) == ("Jueves", 1)


# The class page: actions first, and only those with something to act on.


def test_actions_come_first_and_print_shows_only_with_a_certificate(db, teacher, klass,
                                                                    centre, course):
    client, _ = teacher
    page = text(client.get(f"/courses/classes/{klass}"))
    assert "/certificates" not in page and "attendance.csv" not in page
    assert "progress.csv" not in page  # nobody yet: nothing to download
    rosa, = villagers(db, centre, "Rosa")
    classes.enrol(db, class_id=klass, learner_id=rosa["id"], centre_id=centre, now=WHEN)
    finish_lessons(db, course, rosa["id"], centre_id=centre)
    take_quiz(db, course, rosa["id"], right=True, centre_id=centre)
    classes.save_attendance(db, class_id=klass, day=WHEN.date(), present={rosa["id"]},
                            centre_id=centre, now=WHEN)
    page = text(client.get(f"/courses/classes/{klass}"))
    actions = page.index("Take attendance today")
    for link in ("/learners", "progress.csv", "attendance.csv", "/certificates"):
        assert actions < page.index(link) < page.index('id="progress-title"'), link
