"""Recording a voice in the real browser: Chromium's fake microphone (a beep) records a quiz
question's voice at 1024x600, a learner then listens at 1366x768, by mouse and by keyboard,
without choosing an answer by accident; a terminal reaching the centre by its name on the
network (not a secure context) is told to record at the main computer, and keeps the form that
sends a recording made elsewhere."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from kiosk.courses.packs import course_id, lesson_id, question_id

from .live import db_rows, sign_in_page, start_demo_server

pytestmark = pytest.mark.browser

COMPUTER = course_id("using-a-computer")
QUIZ = lesson_id("using-a-computer", "final-quiz")
PARTS = lesson_id("using-a-computer", "parts")
SECOND = question_id("using-a-computer", "open-icon")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("voices-node"))
    yield server
    server.stop()


def test_a_facilitator_records_a_question_and_a_learner_listens(mic_browser, node):
    base = node.url
    context = mic_browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    sign_in_page(page, base, "facilitator", "es")
    page.goto(f"{base}/courses/{COMPUTER}/quiz/{QUIZ}?again=1")
    page.locator("a.record-link").click()
    expect(page).to_have_url(f"{base}/courses/{COMPUTER}/lessons/{QUIZ}/voices")
    expect(page.locator("[data-insecure]")).to_be_hidden()
    card = page.locator(".voice-card").filter(
        has=page.locator(f"input[name=target][value='{SECOND}']")).filter(
        has=page.locator("input[name=kind][value=prompt]"))
    record = card.locator("[data-act=record]")
    expect(record).to_be_visible()
    assert record.bounding_box()["height"] >= 48
    record.click()
    stop = card.locator("[data-act=stop]")
    expect(stop).to_be_visible()
    expect(card.locator("[data-time]")).to_have_text("0:02", timeout=5000)
    stop.click()
    for act in ("play", "keep", "redo"):
        expect(card.locator(f"[data-act={act}]")).to_be_visible()
    card.locator("[data-act=redo]").click()  # once more, from the start
    for _ in range(2):
        card.locator("[data-act=record]").click()
        expect(card.locator("[data-time]")).to_have_text("0:02", timeout=5000)
        card.locator("[data-act=stop]").click()
        # On a loaded machine the fake microphone may give nothing yet: the page then says the
        # recording is empty and offers Record again, as it would to a person.
        expect(card.locator("[data-act=play]:visible, [data-act=record]:visible")
               ).to_have_count(1, timeout=15000)
        if card.locator("[data-act=play]").is_visible():
            break
    card.locator("[data-act=play]").click()
    with page.expect_navigation():
        card.locator("[data-act=keep]").click()
    expect(page.locator(".notice.success")).to_be_visible()
    assert db_rows(node.data_dir, "SELECT lang, length(audio) FROM voices WHERE target_id = ? "
                                  "AND target_kind = 'prompt'", [SECOND]) == [("es", 64)]
    expect(card).to_have_class("card voice-card has-voice")
    context.close()

    context = mic_browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    sign_in_page(page, base, "villager", "es")
    page.goto(f"{base}/courses/{COMPUTER}/quiz/{QUIZ}?again=1")
    expect(page.locator("a.record-link")).to_have_count(0)  # out of learners' sight
    # The first question has the demo's voices: listening to an answer does not choose it.
    answer_b = page.locator(".answer-line").nth(1)
    listen_b = answer_b.locator("[data-listen]")
    expect(listen_b).to_be_visible()
    assert listen_b.bounding_box()["height"] >= 48
    listen_b.click()
    expect(listen_b).to_have_attribute("aria-pressed", "true")
    assert page.locator("input[name=choice]:checked").count() == 0
    listen_b.focus()
    page.keyboard.press("Enter")  # a second press stops it; no form is sent
    expect(listen_b).to_have_attribute("aria-pressed", "false")
    assert "?again=1" in page.url and page.locator("input[name=choice]:checked").count() == 0
    answer_b.locator("label.answer").click()
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.locator("a.btn.primary").last.click()
    page.wait_for_load_state()
    # The second question: the voice just recorded.
    listen = page.locator("fieldset > .listen-voices [data-listen]")
    expect(listen).to_have_attribute("aria-label", re.compile(r": ¿Cómo se abre un ícono"))
    with page.expect_response(lambda r: "/media/" in r.url) as sent:
        listen.click()
    assert sent.value.status in (200, 206)
    assert sent.value.headers["content-type"] == "audio/webm"
    sound = page.locator("fieldset > .listen-voices audio")
    page.wait_for_function("a => a.currentTime > 0.3", arg=sound.element_handle(),
                           timeout=10000)
    context.close()


def test_a_terminal_on_the_network_is_told_to_record_at_the_main_computer(mic_browser, node):
    port = node.url.rsplit(":", 1)[1]
    base = f"http://centre-pc:{port}"  # not localhost: no microphone for this page
    context = mic_browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    sign_in_page(page, base, "facilitator", "es")
    page.goto(f"{base}/courses/{COMPUTER}/lessons/{PARTS}/voices")
    expect(page.locator("[data-insecure]")).to_be_visible()
    expect(page.locator("[data-recorder]").first).to_be_hidden()
    card = page.locator(".voice-card").first
    card.locator("summary").click()
    expect(card.locator("input[type=file]")).to_be_visible()
    context.close()
