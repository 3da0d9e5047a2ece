"""Language fallback that fits the person (issue 16): course text falls back along the page's
language (Kichwa pages to Spanish), else the reader's second language (Spanish unless they
named another), never to English by default; fallback text carries its own lang; each
account's second language is chosen when it is made and can be changed, bad input refused."""

from __future__ import annotations

import json
import re

import pytest

from kiosk import i18n
from kiosk.auth import models as accounts
from kiosk.classes import models as classes
from kiosk.courses import models as courses
from kiosk.courses import packs

from .conftest import SignIn
from .factories import PIN, WHEN, count, make_account
from .packs import install, write_pack

COURSE = packs.course_id("first-steps")
MOUSE = packs.lesson_id("first-steps", "mouse")
QUIZ = packs.lesson_id("first-steps", "final-quiz")
ONLY_EN = packs.course_id("english-only")


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def course(app, db, data_dir, tmp_path):
    """The test pack in Spanish and English, and another only in English."""
    install(db, write_pack(tmp_path / "pack"), centre_id=app.config["CENTRE_ID"],
            data_dir=data_dir)
    install(db, write_pack(tmp_path / "only-en", pack_id="english-only", languages=("en",),
                         questions=0),
            centre_id=app.config["CENTRE_ID"], data_dir=data_dir)


# The chain


@pytest.mark.parametrize("page, second, chain", [
    ("qu_EC", None, ("qu_EC", "es")),
    ("qu_EC", "en", ("qu_EC", "es", "en")),  # Kichwa pages fall back to Spanish for everyone
    ("ar", None, ("ar", "es")),
    ("ar", "en", ("ar", "en")),
    ("fr", "fr", ("fr",)),
    ("en", None, ("en", "es")),
    ("es", "en", ("es", "en")),
])
def test_fallback_chain(page, second, chain):
    assert i18n.fallback_chain(page, second) == chain


@pytest.mark.parametrize("available, wanted, shown", [
    (["en", "es"], "qu_EC", "es"),
    (["en", "es"], ("ar", "en"), "en"),
    (["en", "es"], "ar", "es"),  # no second language: Spanish, not the English source
    (["en", "es"], "fr", "es"),
    (["en", "fr"], ("fr",), "fr"),
    (["fr", "en"], ("ar", "es"), "fr"),  # none of them: the first the text has, still shown
    (["en"], "qu_EC", "en"),
])
def test_pick_language(available, wanted, shown):
    assert courses.pick_language(available, wanted) == shown


def test_models_read_courses_lessons_and_questions_along_the_chain(db, course):
    for wanted, lang, title in (("qu_EC", "es", "Lección mouse (1)"),
                                (("ar", "en"), "en", "Lesson mouse (1)"),
                                (i18n.fallback_chain("ar"), "es", "Lección mouse (1)"),
                                (i18n.fallback_chain("fr"), "es", "Lección mouse (1)")):
        found = courses.get_course(db, COURSE, wanted)
        assert found["lang"] == lang and found["title"] == f"Curso first-steps {lang}"
        lessons = courses.lessons_of(db, COURSE, wanted)
        assert {lesson["lang"] for lesson in lessons} == {lang}
        assert lessons[0]["title"] == title
        assert courses.get_lesson(db, COURSE, MOUSE, wanted)["lang"] == lang
        questions = courses.questions_of(db, QUIZ, wanted)
        assert questions and {q["lang"] for q in questions} == {lang}
        assert courses.course_titles(db, [COURSE], wanted)[COURSE] == {
            "title": f"Curso first-steps {lang}", "lang": lang}
    # A course with none of the reader's languages still shows, in the language it has.
    assert courses.get_course(db, ONLY_EN, "qu_EC")["lang"] == "en"
    listed = {c["id"]: c["lang"] for c in courses.catalogue(db, lang="qu_EC")}
    assert listed == {COURSE: "es"}
    listed = {c["id"]: c["lang"] for c in courses.catalogue(db, lang="qu_EC",
                                                            every_language=True)}
    assert listed == {COURSE: "es", ONLY_EN: "en"}


# Pages


def signed_in(app, db, *, lang, second=None, role="villager", name="Manuel Guamán"):
    account = make_account(db, app.config["CENTRE_ID"], name=name, lang=lang, role=role)
    if second:
        accounts.set_second_language(db, account["id"], second, WHEN)
    client = app.test_client()
    SignIn(client).pin(account, PIN)
    return client, account


def test_a_kichwa_page_shows_spanish_lessons_marked_lang_es(app, db, course):
    client, _ = signed_in(app, db, lang="qu_EC", second="en")
    page = text(client.get(f"/courses/{COURSE}"))
    assert '<html lang="qu-EC"' in page
    assert re.search(r'<h1 lang="es" dir="ltr">Curso first-steps es</h1>', page)
    assert re.search(r'<span class="lesson-title" lang="es" dir="ltr">Lección mouse', page)
    assert "Lesson mouse" not in page and "Curso first-steps en" not in page
    lesson = text(client.get(f"/courses/{COURSE}/lessons/{MOUSE}?page=1"))
    assert re.search(r'<article class="lesson" lang="es" dir="ltr">', lesson)
    assert "Curso first-steps es" in lesson and "Lesson mouse" not in lesson
    catalogue = text(client.get("/courses/"))
    assert re.search(r'href="/courses/[^"]+" lang="es" dir="ltr">', catalogue)


def test_an_arabic_reader_reads_english_lessons_when_english_is_their_second(app, db, course):
    client, _ = signed_in(app, db, lang="ar", second="en")
    page = text(client.get(f"/courses/{COURSE}"))
    assert '<html lang="ar" dir="rtl"' in page
    assert '<h1 lang="en" dir="ltr">Curso first-steps en</h1>' in page
    assert "Lección mouse" not in page
    quiz = text(client.get(f"/courses/{COURSE}/quiz/{QUIZ}"))
    assert re.search(r'class="card question" lang="en" dir="ltr"', quiz)


def test_an_arabic_reader_without_a_second_language_reads_spanish(app, db, course):
    client, _ = signed_in(app, db, lang="ar")
    page = text(client.get(f"/courses/{COURSE}"))
    assert '<h1 lang="es" dir="ltr">Curso first-steps es</h1>' in page
    assert "Lesson mouse" not in page


def test_the_class_list_titles_courses_through_the_fallback(app, db, course):
    client, facilitator = signed_in(app, db, lang="qu_EC", role="facilitator", name="Lucía")
    classes.create_class(db, centre_id=app.config["CENTRE_ID"], name="Martes",
                         course_id=COURSE, facilitator_id=facilitator["id"], now=WHEN)
    page = text(client.get("/courses/classes"))
    assert re.search(r'<bdi lang="es" dir="ltr">Curso first-steps es</bdi>', page)
    assert "Curso first-steps en" not in page.replace(
        'lang="en" dir="ltr">Curso english-only en', "")  # that course has only English
    client, _ = signed_in(app, db, lang="ar", second="en", role="facilitator", name="Amal")
    page = text(client.get("/courses/classes"))
    assert re.search(r'<bdi lang="en" dir="ltr">Curso first-steps en</bdi>', page)


# The account's second language


def test_a_new_person_gets_spanish_by_default_or_the_language_chosen(app, db):
    client, _ = signed_in(app, db, lang="es", role="facilitator", name="Lucía")
    form = text(client.get("/auth/people/new"))
    assert re.search(r'<option value="es" lang="es" selected>', form.split(
        'name="second_lang"')[1])
    helper = SignIn(client)
    for name, second in (("Ana Pilco", "en"), ("Luz Lema", "")):
        response = client.post("/auth/people/new", data={
            "name": name, "role": "villager", "lang": "ar", "second_lang": second,
            "pin": "1357", "confirm": "1357", "csrf_token": helper.token()})
        assert response.status_code == 302, text(response)
    assert accounts.find_by_name(db, "Ana Pilco")[0]["second_lang"] == "en"
    assert accounts.find_by_name(db, "Luz Lema")[0]["second_lang"] == "es"


BAD = ["xx", "e" * 100_000, "<script>alert(1)</script>", "EN", " en"]


@pytest.mark.parametrize("bad", BAD)
def test_a_new_person_with_a_bad_second_language_is_refused(app, db, bad):
    client, _ = signed_in(app, db, lang="es", role="facilitator", name="Lucía")
    before = count(db, "accounts")
    response = client.post("/auth/people/new", data={
        "name": "Ana Pilco", "role": "villager", "lang": "es", "second_lang": bad,
        "pin": "1357", "confirm": "1357", "csrf_token": SignIn(client).token()})
    assert response.status_code == 400
    assert "Elija uno de los idiomas ofrecidos." in text(response)
    assert "<script>alert" not in text(response)
    assert count(db, "accounts") == before


@pytest.mark.parametrize("bad", [*BAD, None])
def test_my_account_changes_my_second_language_and_refuses_bad_input(app, db, bad):
    client, me = signed_in(app, db, lang="qu_EC")
    page = text(client.get("/auth/me"))
    assert 'action="/auth/me/second-language"' in page
    data = {"csrf_token": SignIn(client).token()}
    if bad is not None:
        data["second_lang"] = bad
    response = client.post("/auth/me/second-language", data=data)
    assert response.status_code == 400 and 'id="second_lang"' in text(response)
    assert "<script>alert" not in text(response)
    assert accounts.get_account(db, me["id"])["second_lang"] is None
    response = client.post("/auth/me/second-language", data={
        "second_lang": "fr", "csrf_token": data["csrf_token"]})
    assert response.status_code == 302
    assert accounts.get_account(db, me["id"])["second_lang"] == "fr"
    # A replay of a bad form after a good one changes nothing.
    client.post("/auth/me/second-language", data={**data, "second_lang": "xx"})
    assert accounts.get_account(db, me["id"])["second_lang"] == "fr"


def test_a_facilitator_sets_a_persons_second_language(app, db):
    client, _ = signed_in(app, db, lang="es", role="facilitator", name="Lucía")
    person = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="ar")
    page = text(client.get(f"/auth/people/{person['id']}"))
    assert 'name="second_lang"' in page
    url = f"/auth/people/{person['id']}/second-language"
    token = SignIn(client).token()
    response = client.post(url, data={"second_lang": "<script>", "csrf_token": token})
    assert response.status_code == 400
    assert accounts.get_account(db, person["id"])["second_lang"] is None
    assert client.post(url, data={"second_lang": "en", "csrf_token": token}).status_code == 302
    assert accounts.get_account(db, person["id"])["second_lang"] == "en"


def test_the_second_language_is_synced_with_the_account(app):
    from kiosk.auth import SYNCED_TABLES

    table = next(t for t in SYNCED_TABLES if t.name == "accounts")
    assert "second_lang" not in table.local_columns


def test_user_add_takes_a_second_language(data_dir, run_cli):
    from kiosk.data import open_db

    bad = run_cli(data_dir, "user", "add", "Ana", "--role", "villager", "--pin", "1234",
                  "--second-language", "<script>")
    assert bad.exit_code == 1 and "languages offered" in bad.stderr
    db = open_db(data_dir / "infocentre.db")
    assert count(db, "accounts") == 0
    good = run_cli(data_dir, "user", "add", "Ana", "--role", "villager", "--pin", "1234",
                   "--lang", "ar", "--second-language", "en")
    assert good.exit_code == 0, good.output
    assert [a["second_lang"] for a in accounts.list_accounts(db)] == ["en"]
    assert json.loads(run_cli(data_dir, "user", "list", "--json").output)[0]["name"] == "Ana"
