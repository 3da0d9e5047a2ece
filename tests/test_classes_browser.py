"""A facilitator's class pages in Chromium with a class of twenty-five (issue 16), at 1024 x 600
and 1366 x 768, in Spanish, Kichwa and Arabic: ticking many people and adding them at once; the
progress grid scrolling in its box with its header row and name column in place and the page
never scrolling sideways; today's attendance opened and left (no session) and saved with
"everyone is here"."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from .live import db_rows, start_demo_server
from .test_browser import sign_in_as

pytestmark = pytest.mark.browser

SIZES = [(1024, 600), (1366, 768)]
LANGS = ["es", "qu_EC", "ar"]
NAMES = ["Alba Chicaiza", "Blanca Lligalo", "Carmen Pilataxi", "Delia Guamán Yupanqui",
         "Elvia Cuzco", "Fausto Tigsilema", "Gladys Caisaluisa", "Humberto Tipantuña",
         "Inés Sisa Quilumbaquín", "Jaime Ushiña", "Killa Farinango", "Luis Amaguaña",
         "Marcelo Quinchiguango", "Nina Cabascango", "Olga Tuquerres", "Pacha Anrango",
         "Rumi Lanchimba", "Sumak Cachimuel", "Tamia Perugachi", "Wayra Cotacachi"]


def class_of(data_dir, tag: str, size: int = 25) -> str:
    """A class of the demo facilitator with ``size`` villagers at different points of the
    shipped course (the demo's own five and twenty more), and two people who could join it,
    named after ``tag``; its id."""
    from kiosk.auth import models as accounts
    from kiosk.classes import models as classes
    from kiosk.courses import models as courses
    from kiosk.courses.packs import course_id
    from kiosk.data import open_db

    db = open_db(data_dir / "infocentre.db")
    try:
        now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3)
        centre = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
        lucia = accounts.find_by_name(db, "Lucía Andrango", centre_id=centre)[0]["id"]
        course = course_id("using-a-computer")
        class_id = classes.create_class(db, centre_id=centre, name=f"Clase {tag}",
                                        course_id=course, facilitator_id=lucia, now=now)
        people = [r[0] for r in db.execute(
            "SELECT id FROM accounts WHERE centre_id = ? AND role = 'villager' ORDER BY name",
            [centre]).fetchall()]
        for name in NAMES[:max(0, size - len(people))]:
            found = accounts.find_by_name(db, name, centre_id=centre)
            people.append(found[0]["id"] if found else accounts.add_account(
                db, centre_id=centre, name=name, role="villager", now=now)["id"])
        people = people[:size]
        classes.enrol_many(db, class_id=class_id, learner_ids=people, centre_id=centre,
                           now=now)
        lessons = [x for x in courses.lessons_of(db, course, "es") if x["kind"] == "lesson"]
        for number, person in enumerate(people):
            for lesson in lessons[:number % (len(lessons) + 1)]:
                courses.finish_lesson(db, centre_id=centre, learner_id=person,
                                      lesson={**lesson, "course_id": course}, now=now)
        for word in ("Uno", "Dos"):
            accounts.add_account(db, centre_id=centre, name=f"Vecina {tag} {word}",
                                 role="villager", now=now)
        return class_id
    finally:
        db.close()


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("classes-25"), role="node")
    yield server
    server.stop()


def no_sideways_scroll(page) -> None:
    width, screen = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width <= screen, f"the page scrolls sideways: {width} > {screen}"


def edges(page) -> dict:
    """Where the grid's box, its first header cell and its first learner's name cell are."""
    return page.evaluate("""() => {
      const box = document.querySelector('.grid-wrap').getBoundingClientRect();
      const head = document.querySelector('.grid thead th').getBoundingClientRect();
      const name = document.querySelector('.grid tbody th').getBoundingClientRect();
      const rtl = document.documentElement.dir === 'rtl';
      return {boxTop: box.top, headTop: head.top,
              boxStart: rtl ? box.right : box.left, nameStart: rtl ? name.right : name.left};
    }""")


@pytest.mark.parametrize("width, height", SIZES)
@pytest.mark.parametrize("code", LANGS)
def test_a_class_of_twenty_five_on_a_small_and_a_common_screen(browser, centre, code, width,
                                                               height):
    tag = f"{code.replace('_', '')}{width}"
    class_id = class_of(centre.data_dir, tag)
    base, path = centre.url, f"{centre.url}/courses/classes/{class_id}"
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in_as(page, base, "facilitator", code)

    # The grid: the page does not scroll sideways; the box does, and its header row and name
    # column stay where they are.
    page.goto(path)
    expect(page.locator(".grid tbody tr")).to_have_count(25)
    no_sideways_scroll(page)
    assert page.locator(".class-actions button[type=submit]").bounding_box()["y"] < height
    before = edges(page)
    page.evaluate("""() => { const box = document.querySelector('.grid-wrap');
      box.scrollTop = 400; box.scrollLeft = document.documentElement.dir === 'rtl'
        ? -box.scrollWidth : box.scrollWidth; }""")
    scrolled = page.evaluate("() => document.querySelector('.grid-wrap').scrollTop")
    assert scrolled > 0, "twenty-five learners fit without scrolling the box?"
    after = edges(page)
    assert abs(after["headTop"] - after["boxTop"]) <= 2  # the header row stays at the top
    assert abs(after["nameStart"] - before["nameStart"]) <= 2  # the names stay at the start
    no_sideways_scroll(page)

    # Learners: tick two, add both at once.
    page.goto(f"{path}/learners")
    expect(page.locator("#learners .candidates li")).to_have_count(25)
    page.fill("#q", f"vecina {tag}")
    page.locator("#q").press("Enter")
    page.wait_for_load_state()
    boxes = page.locator("#add input[type=checkbox][form=add-many]")
    expect(boxes).to_have_count(2)
    page.focus("#q")  # from the name filter, a name is two Tabs away (the Search button)
    for _ in range(2):
        page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('form')") == "add-many"
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.locator("#add-many [data-picked]")).to_have_text("(2)")
    no_sideways_scroll(page)
    with page.expect_navigation():
        page.locator("#add-many button[type=submit]").click()
    expect(page.locator(".notice.success")).to_contain_text(f"Vecina {tag} Uno")
    expect(page.locator("#learners .candidates li")).to_have_count(27)
    assert len(db_rows(centre.data_dir, "SELECT 1 FROM enrolments WHERE class_id = ? AND "
                       "active = 1", [class_id])) == 27

    # Attendance: opened and left, nothing is saved; everyone is here, then saved.
    def sessions() -> int:
        return db_rows(centre.data_dir, "SELECT count(*) FROM class_sessions WHERE "
                       "class_id = ?", [class_id])[0][0]

    page.goto(path)
    with page.expect_navigation():
        page.locator(".class-actions button[type=submit]").click()
    expect(page.locator("input[name=present]")).to_have_count(27)
    no_sideways_scroll(page)
    page.go_back()
    page.reload()
    assert sessions() == 0
    expect(page.locator("#sessions .sessions li")).to_have_count(0)
    with page.expect_navigation():
        page.locator(".class-actions button[type=submit]").click()
    page.locator("[data-everyone]").click()  # ticks, does not save
    expect(page.locator("input[name=present]:checked")).to_have_count(27)
    assert sessions() == 0
    page.locator("input[name=present]").first.uncheck()
    with page.expect_navigation():
        page.locator("button[name=save]").click()
    assert sessions() == 1
    assert db_rows(centre.data_dir, "SELECT count(*), sum(a.present) FROM attendance a JOIN "
                   "class_sessions s ON s.id = a.session_id WHERE s.class_id = ?",
                   [class_id]) == [(27, 26)]
    expect(page.locator("#sessions .sessions li")).to_have_count(1)
    context.close()
