"""The real thing: Debian's Chromium driven by Playwright against servers started as
``infocentre serve`` starts them. Sign-in with and without JavaScript, Back after sign-out, the
idle countdown, keyboard use, touch targets, and axe-core on every page in Spanish and Arabic."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from kiosk.courses.packs import course_id, lesson_id

from .live import DEMO, DEMO_PASSWORD, DEMO_PIN, start_demo_server

pytestmark = pytest.mark.browser

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa",
                                             "wcag22aa"]}}


# The shipped course the demo class takes; Rosa (the demo villager) has finished it.
COMPUTER = course_id("using-a-computer")
MOUSE = lesson_id("using-a-computer", "mouse")
QUIZ = lesson_id("using-a-computer", "final-quiz")
PARTS = lesson_id("using-a-computer", "parts")  # the demo has voices for its first page


def choose_language(page, base, code):
    page.goto(f"{base}/language")
    page.click(f"button[value='{code}']")


def sign_in_with_keypad(page, base, role="villager"):
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name=DEMO[role]).click()
    for digit in DEMO_PIN[role]:
        page.click(f"[data-keypad] button[data-key='{digit}']")
    page.click("[data-keypad] button.ok")
    page.wait_for_url(f"{base}/")


def test_villager_finds_her_name_and_signs_in_with_the_keypad(page, live_node):
    base = live_node.url
    choose_language(page, base, "es")
    page.goto(f"{base}/auth/signin")
    page.fill("#name-filter", "qui")
    expect(page.get_by_role("link", name="Rosa Quishpe")).to_be_visible()
    expect(page.get_by_role("link", name="Manuel Guamán")).to_be_hidden()
    page.fill("#name-filter", "zzz")
    expect(page.locator("#no-names")).to_be_visible()
    page.fill("#name-filter", "")
    sign_in_with_keypad(page, base)
    choose_language(page, base, "es")
    expect(page.locator("h1")).to_contain_text("¡Hola, Rosa Quishpe!")
    expect(page.get_by_role("button", name="Salir")).to_be_visible()


def test_a_learner_takes_a_lesson_answers_the_quiz_and_sees_progress(page, live_node):
    base = live_node.url
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name="Tránsito Lema").click()  # the demo learner not started
    for digit in DEMO_PIN["villager"]:
        page.click(f"[data-keypad] button[data-key='{digit}']")
    page.click("[data-keypad] button.ok")
    page.wait_for_url(f"{base}/")
    choose_language(page, base, "es")
    page.get_by_role("link", name=re.compile("^Cursos")).click()
    card = page.locator(".course-card", has_text="Usar una computadora")
    card.get_by_role("link", name="Empezar").click()
    expect(page.locator(".lesson-where")).to_contain_text("Lección 1 de 6")
    while page.get_by_role("link", name="Siguiente").count():
        page.get_by_role("link", name="Siguiente").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Terminé esta lección").click()
    expect(page.locator(".notice.success")).to_contain_text("Muy bien")
    expect(page.locator(".lesson-where")).to_contain_text("Lección 2 de 6 · página 1")

    page.goto(f"{base}/courses/{COMPUTER}/quiz/{QUIZ}")
    expect(page.locator("label.lesson-where")).to_contain_text("Pregunta 1 de 8")
    page.locator("label.answer").first.click()
    with page.expect_navigation():
        page.get_by_role("button", name="Comprobar mi respuesta").click()
    expect(page.locator(".feedback")).to_be_visible()
    expect(page.locator("label.answer.right")).to_have_count(1)
    page.get_by_role("link", name="Siguiente pregunta").click()
    expect(page.locator("label.lesson-where")).to_contain_text("Pregunta 2 de 8")

    page.goto(f"{base}/courses/{COMPUTER}")
    expect(page.locator("label[for=course-progress]")).to_contain_text("1 de 6 lecciones")
    expect(page.locator(".lesson-item.done")).to_have_count(1)
    page.get_by_role("link", name="Seguir donde me quedé").click()
    expect(page.locator("label.lesson-where")).to_contain_text("Pregunta 2 de 8")


def test_keypad_delete_key_removes_the_last_number(page, live_node):
    page.goto(f"{live_node.url}/auth/signin")
    page.get_by_role("link", name=DEMO["villager"]).click()
    for key in ("1", "2", "back"):
        page.click(f"[data-keypad] button[data-key='{key}']")
    expect(page.locator("#pin")).to_have_value("1")


def test_sign_in_works_without_javascript(browser, live_node):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_node.url}/auth/signin?q=rosa")
    expect(page.get_by_role("link", name="Manuel Guamán")).to_have_count(0)
    page.get_by_role("link", name=DEMO["villager"]).click()
    expect(page.locator("[data-keypad]")).to_be_hidden()
    page.fill("#pin", DEMO_PIN["villager"])
    page.locator("button.no-js-only").click()
    page.wait_for_url(f"{live_node.url}/")
    expect(page.locator("h1")).to_contain_text(DEMO["villager"])
    context.close()


def test_keyboard_alone_signs_a_person_in(page, live_node):
    base = live_node.url
    page.goto(f"{base}/auth/signin")
    page.locator("#name-filter").focus()
    page.keyboard.type("rosa")
    # The letters come before the name field: the name is right after its Search button.
    for _ in range(2):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip().endswith("Rosa Quishpe")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/auth/signin/"))
    # The PIN field has the focus (keys typed before the page has loaded would go nowhere).
    expect(page.locator("#pin")).to_be_focused()
    page.keyboard.type(DEMO_PIN["villager"])
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    expect(page.locator("h1")).to_contain_text(DEMO["villager"])


def test_back_after_sign_out_shows_nothing_of_the_last_person(page, live_node):
    base = live_node.url
    sign_in_with_keypad(page, base)
    page.goto(f"{base}/auth/me")
    expect(page.locator("main")).to_contain_text(DEMO["villager"])
    page.locator("#signout-form button").click()
    page.wait_for_url(f"{base}/")
    page.go_back()
    page.wait_for_load_state()
    assert "/auth/signin" in page.url  # asked again, and the server sent sign-in instead
    expect(page.locator("#signout-form")).to_have_count(0)
    expect(page.locator(".bar")).not_to_contain_text(DEMO["villager"])


def test_the_photo_picker_speaks_the_pages_language_and_names_the_chosen_file(
        page, live_node, tmp_path):
    from PIL import Image
    photo = tmp_path / "retrato de Ángel.png"
    Image.new("RGB", (320, 240), (200, 120, 60)).save(photo)
    base = live_node.url
    sign_in_with_keypad(page, base, "facilitator")
    choose_language(page, base, "es")
    page.goto(f"{base}/auth/people")
    page.locator("table.people a.btn").first.click()
    name = page.locator("main h1").inner_text()
    picker = page.locator("[data-file-pick]")
    expect(picker.locator(".file-button")).to_have_text("Elegir una foto")
    expect(picker.locator("[data-file-name]")).to_have_text("Todavía no ha elegido una foto")
    # The real input lies over the button: a click on the page's button opens the chooser.
    with page.expect_file_chooser() as chooser:
        picker.locator(".file-button").click(force=True)
    chooser.value.set_files(str(photo))
    expect(picker.locator("[data-file-name]")).to_have_text(photo.name)
    page.get_by_role("button", name="Guardar la foto").click()
    page.wait_for_load_state()
    expect(page.locator(".notice.success")).to_contain_text(f"{name} tiene una foto nueva.")
    expect(page.locator("[data-file-name]")).to_have_text("Todavía no ha elegido una foto")


def test_without_javascript_the_photo_field_is_the_browsers_own(browser, live_node):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    base = live_node.url
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name=DEMO["facilitator"]).click()
    page.fill("#pin", DEMO_PIN["facilitator"])
    page.locator("button.no-js-only").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/auth/people")
    page.locator("table.people a.btn").first.click()
    picker = page.locator("[data-file-pick]")
    expect(picker.locator("#photo")).to_be_visible()
    expect(picker.locator("#photo")).to_have_css("opacity", "1")  # visible counts opacity 0
    box = picker.locator("#photo").bounding_box()
    assert box["height"] >= 44 and box["width"] > 200  # shown whole, not an unseen cover
    expect(picker.locator(".file-button")).to_be_hidden()
    expect(picker.locator("[data-file-name]")).to_be_hidden()
    context.close()


@pytest.fixture(scope="module")
def quick_idle_node(tmp_path_factory):
    """A demo centre that signs people out after 12 idle seconds (warning in the last 6)."""
    server = start_demo_server(tmp_path_factory.mktemp("idle-node"),
                               env={"INFOCENTRE_IDLE_MINUTES": "0.2"})
    yield server
    server.stop()


def test_idle_countdown_can_be_cancelled_then_signs_out_by_itself(page, quick_idle_node):
    base = quick_idle_node.url
    sign_in_with_keypad(page, base)
    choose_language(page, base, "es")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_visible(timeout=15_000)
    expect(dialog).to_contain_text("¿Sigue ahí?")
    expect(page.get_by_role("button", name="Sigo aquí")).to_be_focused()
    page.get_by_role("button", name="Sigo aquí").click()
    expect(dialog).to_be_hidden()
    # Untouched again, the page signs itself out when the time is up.
    page.wait_for_url(f"{base}/", timeout=20_000)
    expect(page.locator("main")).to_contain_text("Se cerró su sesión", timeout=20_000)
    expect(page.get_by_role("link", name="Entrar").first).to_be_visible()


def test_activity_on_the_page_keeps_the_session_without_interrupting(page, quick_idle_node):
    base = quick_idle_node.url
    sign_in_with_keypad(page, base)
    for _ in range(8):  # 16 s of someone scrolling and typing: longer than the idle time
        page.mouse.wheel(0, 50)
        page.keyboard.press("Shift")
        page.wait_for_timeout(2_000)
        expect(page.get_by_role("alertdialog")).to_be_hidden()
    page.goto(f"{base}/auth/me")
    assert "/auth/me" in page.url


def test_idle_session_ends_on_the_server_without_javascript(browser, quick_idle_node):
    base = quick_idle_node.url
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name=DEMO["villager"]).click()
    page.fill("#pin", DEMO_PIN["villager"])
    page.locator("button.no-js-only").click()
    page.wait_for_url(f"{base}/")
    page.wait_for_timeout(13_000)
    page.goto(f"{base}/auth/me")
    assert "/auth/signin" in page.url
    context.close()


# Accessibility and touch targets on every page, in Spanish and in Arabic.


def pages_to_check(node, hub):
    """(name, role to sign in as or None, server url, path or action)."""
    return [
        ("home", None, node, "/"),
        ("language", None, node, "/language"),
        ("names", None, node, "/auth/signin"),
        ("names-empty", None, node, "/auth/signin?q=zzz"),
        ("pin", None, node, "pin"),
        ("pin-wrong", None, node, "pin-wrong"),
        ("staff-sign-in", None, node, "/auth/password"),
        ("not-found", None, node, "/nowhere"),
        ("home-villager", "villager", node, "/"),
        ("my-account", "villager", node, "/auth/me"),
        ("idle-warning", "villager", node, "idle"),
        ("forbidden", "villager", node, "/auth/people"),
        ("people", "facilitator", node, "/auth/people"),
        ("new-person", "facilitator", node, "/auth/people/new"),
        ("new-person-errors", "facilitator", node, "new-person-errors"),
        ("give-pin", "facilitator", node, "give-pin"),
        ("sync", "facilitator", node, "/sync"),
        ("courses", "villager", node, "/courses/"),
        ("course", "villager", node, f"/courses/{COMPUTER}"),
        ("lesson", "villager", node, f"/courses/{COMPUTER}/lessons/{MOUSE}?page=2"),
        ("quiz", "villager", node, f"/courses/{COMPUTER}/quiz/{QUIZ}?again=1"),
        ("lesson-listen", "villager", node, f"/courses/{COMPUTER}/lessons/{PARTS}?page=1"),
        ("voices", "facilitator", node, f"/courses/{COMPUTER}/lessons/{PARTS}/voices"),
        ("voices-quiz", "facilitator", node, f"/courses/{COMPUTER}/lessons/{QUIZ}/voices"),
        ("quiz-result", "villager", node, f"/courses/{COMPUTER}/quiz/{QUIZ}"),
        ("certificate", "villager", node, f"/courses/{COMPUTER}/certificate"),
        ("classes", "facilitator", node, "/courses/classes"),
        ("class", "facilitator", node, "class"),
        ("class-learners", "facilitator", node, "class-learners"),
        ("attendance", "facilitator", node, "attendance"),
        ("class-certificates", "facilitator", node, "class-certificates"),
        ("hub-home", None, hub, "/"),
        ("hub-sign-in", None, hub, "/auth/signin"),
        ("hub-staff-home", "regional", hub, "/"),
    ]


def sign_in_as(page, base, role, code):
    """Sign in as ``role`` (if any), then choose the language."""
    if role == "regional":
        page.goto(f"{base}/auth/signin")
        page.fill("#name", DEMO["regional"])
        page.fill("#password", DEMO_PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"{base}/")
    elif role:
        sign_in_with_keypad(page, base, role)
    choose_language(page, base, code)  # after signing in: the account remembers its own


def open_page(page, base, what):
    """Open the page to check: a path, or the steps that lead to it."""
    if what in ("pin", "pin-wrong"):
        page.goto(f"{base}/auth/signin")
        page.get_by_role("link", name=DEMO["cooperative"]).click()
        if what == "pin-wrong":
            page.fill("#pin", "9999")
            page.locator("[data-keypad] button.ok").click()
            page.wait_for_load_state()
    elif what == "idle":
        page.goto(f"{base}/auth/me")
        page.evaluate("document.getElementById('idle').hidden = false")
    elif what == "new-person-errors":
        page.goto(f"{base}/auth/people/new")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
    elif what in ("class", "attendance", "class-certificates", "class-learners"):
        page.goto(f"{base}/courses/classes")
        page.locator("a.class-link").first.click()
        page.wait_for_load_state()
        if what == "attendance":
            page.locator("#sessions a.btn").first.click()
        elif what == "class-certificates":
            page.locator("a[href$='/certificates']").click()
        elif what == "class-learners":
            page.locator("a[href$='/learners']").first.click()
        page.wait_for_load_state()
    elif what == "give-pin":
        page.goto(f"{base}/auth/people")
        page.locator("table.people a.btn").first.click()
    else:
        page.goto(base + what)


def small_targets(page) -> list[str]:
    """Visible controls smaller than 44 x 44 px (radio buttons count with their label)."""
    return page.evaluate("""() => [...document.querySelectorAll(
        'a[href], button, input:not([type=hidden]), select, summary')]
      .filter(el => el.offsetParent !== null && !el.closest('.skip'))
      .filter(el => !(el.type === 'radio' && el.closest('label')))
      .map(el => [el, (el.closest('label.option') || el).getBoundingClientRect()])
      .filter(([el, r]) => r.height < 44 || (el.tagName !== 'INPUT' && r.width < 44))
      .map(([el, r]) => el.outerHTML.slice(0, 80) + ' ' + Math.round(r.width) + 'x'
                        + Math.round(r.height))""")


@pytest.mark.parametrize("code", ["es", "ar"])
def test_every_page_passes_axe_and_has_large_touch_targets(browser, live_node, live_hub, code):
    axe = Axe()
    failures = []
    # One browser session per person and server, signed in once: the pages are what is
    # checked, not signing in thirty times.
    people: dict = {}
    for name, role, server, what in pages_to_check(live_node, live_hub):
        people.setdefault((role, server.url), []).append((name, what))
    for (role, base), pages in people.items():
        context = browser.new_context(viewport={"width": 1024, "height": 720})
        page = context.new_page()
        sign_in_as(page, base, role, code)
        for name, what in pages:
            open_page(page, base, what)
            assert not role or "/auth/signin" not in page.url, f"{name}: signed out"
            assert page.locator("html").get_attribute("dir") == ("rtl" if code == "ar" else
                                                                 "ltr")
            result = axe.run(page, options=WCAG)
            for violation in result.response["violations"]:
                targets = [n["target"] for n in violation["nodes"]][:3]
                failures.append(f"{code} {name}: {violation['id']} {targets}")
            failures += [f"{code} {name}: small target {t}" for t in small_targets(page)]
        context.close()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("code", ["es", "ar"])
def test_the_class_grid_scrolls_in_its_box_not_the_whole_page(browser, live_node, code):
    # Right to left, the grid's hidden "Done"/"Started" words sat outside its scrolling box
    # and made the whole page scroll sideways on a 1024-pixel screen.
    context = browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    sign_in_as(page, live_node.url, "facilitator", code)
    open_page(page, live_node.url, "class")
    assert page.locator("table.grid").is_visible()
    page_width, screen_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    context.close()
    assert page_width <= screen_width
