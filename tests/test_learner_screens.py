"""A learner's screens on a kiosk's small screen (issue 16), in Chromium at 1366 x 768 and
1024 x 600, in Spanish, Kichwa and Arabic: the quiz's feedback and next step in sight after any
answer (with and without JavaScript), right / wrong / not chosen answers told apart, the PIN
keypad whole on the screen, the lesson's pager always reachable, the top bar one row."""

from __future__ import annotations

import tomllib

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from kiosk.config import LOCALES_DIR
from kiosk.courses.packs import course_id, lesson_id, question_id
from kiosk.i18n import load_translations

from .live import DEMO_PIN, ROOT, start_demo_server
from .test_browser import WCAG, choose_language

pytestmark = pytest.mark.browser

SIZES = [(1366, 768), (1024, 600)]
LANGS = ["es", "qu_EC", "ar"]
COMPUTER = course_id("using-a-computer")
QUIZ = lesson_id("using-a-computer", "final-quiz")
SIGN_IN = lesson_id("using-a-computer", "sign-in")  # its third page is the longest shipped
# One learner per screen and language: each one's quiz goes on from where their last test left.
LEARNERS = dict(zip([(size, code) for size in SIZES for code in LANGS],
                    ["Rosa Quishpe", "Manuel Guamán", "Tránsito Lema", "Ángel Yupanqui",
                     "María Chimbo", "José Cuji"]))
PIN = DEMO_PIN["villager"]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A demo centre of this module's own (its learners' quizzes move on) with a long name,
    the hardest case for a one-row top bar."""
    server = start_demo_server(tmp_path_factory.mktemp("screens-node"),
                               env={"INFOCENTRE_CENTRE_NAME":
                                    "Centro Comunitario San Pablo de Imbabura"})
    yield server
    server.stop()


def words(code: str, msgid: str) -> str:
    """What the pages say for ``msgid`` in ``code``, from the same catalogues as the server."""
    return load_translations(LOCALES_DIR, code).gettext(msgid)


def right_choices() -> dict[str, list[str]]:
    pack = "using-a-computer"
    quiz = tomllib.loads((ROOT / "content" / "courses" / pack / "quiz.toml").read_text("utf-8"))
    return {question_id(pack, q["id"]): q["correct"] for q in quiz["questions"]}


RIGHT = right_choices()


def outside(page, locator) -> str | None:
    """None if ``locator`` is wholly inside the viewport, else where it is."""
    box = locator.bounding_box()
    view = page.viewport_size
    if box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= view["width"] \
            and box["y"] + box["height"] <= view["height"]:
        return None
    return f"{locator} at {box} in {view}"


def assert_in_sight(page, *locators) -> None:
    problems = [p for p in (outside(page, loc) for loc in locators) if p]
    assert not problems, "\n".join(problems)


def open_keypad(page, base, name):
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name=name).click()
    page.wait_for_url("**/auth/signin/*")


def type_pin(page, pin):
    for digit in pin:
        page.click(f"[data-keypad] button[data-key='{digit}']")
    with page.expect_navigation():
        page.click("[data-keypad] button.ok")


def sign_in(page, base, name, code):
    open_keypad(page, base, name)
    type_pin(page, PIN)
    assert page.url == f"{base}/"
    choose_language(page, base, code)  # after signing in: the account remembers its own


def send_answer(page, *, rightly: bool | None):
    """Choose the right answers, or one wrong one, or nothing (None), and press Check."""
    if rightly is not None:
        correct = RIGHT[page.locator("input[name=question]").get_attribute("value")]
        for choice in page.locator("input[name=choice]").all():
            if (choice.get_attribute("value") in correct) == rightly:
                choice.check()
                if not rightly:
                    break
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


def look(locator) -> tuple[str, str]:
    return tuple(locator.evaluate(
        "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).borderTopColor]"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("code", LANGS)
def test_keypad_and_top_bar_fit_the_screen(browser, node, size, code):
    base = node.url
    context = browser.new_context(viewport=dict(zip(("width", "height"), size)))
    page = context.new_page()
    choose_language(page, base, code)
    name = LEARNERS[size, code]
    open_keypad(page, base, name)
    assert_in_sight(page, page.locator("#pin"), page.locator("[data-keypad]"))
    type_pin(page, "9090")
    expect(page.locator("#pin-error")).to_be_visible()
    assert_in_sight(page, page.locator("#pin-error"), page.locator("#pin"),
                    page.locator("[data-keypad]"), page.locator("[data-keypad] button.ok"))
    type_pin(page, PIN)  # and it still signs in (which clears the wrong try)
    assert page.url == f"{base}/"
    choose_language(page, base, code)
    bar = page.locator("header.bar").bounding_box()
    brand = page.locator(".brand").bounding_box()
    signout = page.locator(".bar .signout").bounding_box()
    assert bar["height"] < 80, f"the top bar takes {bar['height']} px: more than one row"
    assert abs(brand["y"] - signout["y"]) < 10 + abs(brand["height"] - signout["height"])
    assert brand["width"] > 150  # the centre's name, cut if it must, still shows
    context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("code", LANGS)
def test_quiz_feedback_and_next_step_are_in_sight_after_any_answer(browser, node, size, code):
    base = node.url
    context = browser.new_context(viewport=dict(zip(("width", "height"), size)))
    page = context.new_page()
    sign_in(page, base, LEARNERS[size, code], code)
    quiz = f"{base}/courses/{COMPUTER}/quiz/{QUIZ}?again=1"
    page.goto(quiz)
    assert_in_sight(page, page.get_by_role("button", name=words(code, "Check my answer")))

    send_answer(page, rightly=None)
    error = page.locator(".field-error")
    expect(error).to_have_text(words(code, "Choose an answer, then press Check."))
    assert_in_sight(page, error, page.get_by_role("button", name=words(code, "Check my answer")))

    send_answer(page, rightly=False)
    feedback = page.locator(".feedback")
    next_step = page.locator(".next-step .btn")
    expect(feedback.locator("strong")).to_have_text(words(code, "That is not right."))
    assert_in_sight(page, feedback, next_step)
    expect(next_step).to_be_focused()  # Enter goes on
    # The three looks: the right answer, the learner's wrong pick, the others.
    right, wrong, other = (page.locator(f"label.answer.{state}") for state in
                           ("right", "wrong", "other"))
    expect(right).to_have_count(1)  # the computer course's first questions have one answer
    expect(wrong).to_have_count(1)
    assert other.count() >= 1
    looks = {look(right), look(wrong), look(other.first)}
    assert len(looks) == 3, looks
    assert right.locator("use").get_attribute("href").endswith("#check")
    assert wrong.locator("use").get_attribute("href").endswith("#cross")
    expect(other.first.locator(".mark")).to_have_count(0)
    expect(right.locator(".visually-hidden")).to_have_text(words(code, "Right answer"))
    expect(wrong.locator(".visually-hidden")).to_have_text(words(code, "Your answer: not right"))
    expect(wrong.locator("input")).to_be_checked()
    violations = Axe().run(page, options=WCAG).response["violations"]
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]]) for v in violations]

    page.goto(quiz)
    send_answer(page, rightly=True)
    expect(feedback.locator("strong")).to_have_text(words(code, "Very good, that is right!"))
    assert_in_sight(page, feedback, next_step)
    chosen = page.locator("label.answer.right.picked .visually-hidden")
    expect(chosen).to_have_text(
        f'{words(code, "Right answer")}. {words(code, "You chose this.")}')
    expect(page.locator("label.answer.wrong")).to_have_count(0)
    context.close()


def test_quiz_feedback_is_in_sight_without_javascript(browser, node):
    base = node.url
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1024,
                                                                       "height": 600})
    page = context.new_page()
    page.goto(f"{base}/auth/signin?q=segundo")
    page.get_by_role("link", name="Segundo Tenemaza").click()
    page.fill("#pin", DEMO_PIN["cooperative"])
    page.locator("button.no-js-only").click()
    page.wait_for_url(f"{base}/")
    choose_language(page, base, "ar")
    page.goto(f"{base}/courses/{COMPUTER}/quiz/{QUIZ}?again=1")
    send_answer(page, rightly=None)
    assert_in_sight(page, page.locator(".field-error"),
                    page.locator("main form button[type=submit]"))
    send_answer(page, rightly=False)
    assert page.url.endswith("#feedback")  # the browser scrolled there: no script did
    assert_in_sight(page, page.locator(".feedback"), page.locator(".next-step .btn"))
    context.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("code", LANGS)
def test_the_lessons_next_button_is_always_in_sight(browser, node, size, code):
    base = node.url
    context = browser.new_context(viewport=dict(zip(("width", "height"), size)))
    page = context.new_page()
    sign_in(page, base, LEARNERS[size, code], code)
    page.goto(f"{base}/courses/{COMPUTER}/lessons/{SIGN_IN}?page=3")
    body = page.locator(".lesson-body")
    pager = page.locator(".pager")
    assert page.evaluate("document.documentElement.scrollHeight") > size[1] + 100  # long
    next_page = page.locator(".pager a[rel=next]")
    assert_in_sight(page, next_page)
    page.evaluate("window.scrollBy(0, 150)")  # on the way down, it stays
    assert_in_sight(page, next_page)
    # At the end, the bar covers none of the text.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    text_end = body.bounding_box()
    assert text_end["y"] + text_end["height"] <= pager.bounding_box()["y"]
    assert_in_sight(page, next_page)
    next_page.click()
    page.wait_for_url("**page=4")
    context.close()

