"""Telling a story in the real browser (issue 18): Chromium's fake microphone (a beep) at
1024x600, in Spanish, Kichwa and Arabic. The recording step fits the screen without scrolling,
the level meter moves while the microphone hears, the recording is listened to again, kept and
saved with the form, and then plays from the teller's own list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .live import db_rows, sign_in_page, start_demo_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("stories-node"), courses=False)
    yield server
    server.stop()


def record(page, box) -> None:
    """Record a few seconds, watching the level meter move; again if the loaded machine's fake
    microphone gave nothing yet (the page then says so and offers Record, as to a person)."""
    for _ in range(3):
        box.locator("[data-act=record]").click()
        meter = box.locator("[data-meter]")
        expect(meter).to_be_visible()
        # A bar drawn, not only a number: both read at one moment (between the fake
        # microphone's beeps the level falls back, and a loaded machine reads late).
        page.wait_for_function("m => Number(m.getAttribute('data-value')) > 5 && "
                               "m.querySelector('[data-level]').getBoundingClientRect().width"
                               " > 4", arg=meter.element_handle(), timeout=10000)
        expect(box.locator("[data-time]")).to_have_text("0:03", timeout=8000)
        box.locator("[data-act=stop]").click()
        expect(meter).to_be_hidden()
        expect(box.locator("[data-act=play]:visible, [data-act=record]:visible")
               ).to_have_count(1, timeout=15000)
        if box.locator("[data-act=play]").is_visible():
            return
    raise AssertionError("the fake microphone recorded nothing three times")


@pytest.mark.parametrize("lang, title", [
    ("es", "La minga del canal"), ("qu_EC", "Yaku ñanmanta"), ("ar", "حكاية الماء")])
def test_a_villager_records_a_story_alone_and_hears_it_in_her_list(mic_browser, node, lang,
                                                                   title):
    base = node.url
    context = mic_browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    sign_in_page(page, base, "villager", lang)
    page.goto(f"{base}/stories/tell")
    expect(page.locator("html")).to_have_attribute("lang", lang.replace("_", "-"))
    box = page.locator("[data-recorder]")
    expect(page.locator("[data-insecure]")).to_be_hidden()
    # The recording step is on the screen without scrolling, with big targets.
    button = box.locator("[data-act=record]").bounding_box()
    assert button["y"] + button["height"] <= 600 and button["height"] >= 64
    assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    record(page, box)
    for act in ("play", "keep", "redo"):
        target = box.locator(f"[data-act={act}]")
        expect(target).to_be_visible()
        box_of = target.bounding_box()
        assert box_of["height"] >= 64 and box_of["y"] + box_of["height"] <= 600, act
        expect(target.locator("svg.icon")).to_have_count(1)  # an icon on every button
    box.locator("[data-act=play]").click()
    page.wait_for_function("a => a.currentTime > 0.2 || a.ended",
                           arg=box.locator("[data-preview]").element_handle(), timeout=10000)
    box.locator("[data-act=keep]").click()
    expect(box.locator("[data-kept]")).to_be_visible()
    expect(box.locator("[data-act=keep]")).to_be_hidden()
    assert page.evaluate("document.querySelector('input[name=recording]').files.length") == 1
    seconds = int(page.input_value("input[name=recording_seconds]"))
    assert seconds >= 3
    page.fill("#title", title)
    page.locator("label.consent-choice").nth(1).click()  # every centre of the region
    with page.expect_navigation():
        page.locator(".tell-save button[type=submit]").click()
    expect(page).to_have_url(f"{base}/stories/mine#story-" + page.url.rsplit("#story-")[1])
    expect(page.locator(".notice.success")).to_be_visible()
    story_id = page.url.rsplit("#story-", 1)[1]
    [(kind, size, stored_seconds, consent, status)] = db_rows(
        node.data_dir, "SELECT audio_kind, audio_bytes, audio_seconds, consent, status FROM "
                       "stories WHERE id = ?", [story_id])
    assert (kind, consent, status) == ("audio/webm", "region", "pending")
    assert size > 1000 and stored_seconds == seconds
    # The kept recording plays from the teller's own list.
    player = page.locator(f"#story-{story_id} audio")
    expect(player).to_be_visible()
    handle = player.element_handle()
    page.evaluate("a => { a.preload = 'auto'; a.load(); a.play(); }", handle)
    page.wait_for_function("a => a.currentTime > 0.5", arg=handle, timeout=15000)
    assert page.evaluate("a => a.error === null && a.readyState >= 2", handle)
    context.close()


def test_without_a_microphone_the_form_still_takes_a_sound_file(mic_browser, node):
    port = node.url.rsplit(":", 1)[1]
    base = f"http://centre-pc:{port}"  # not localhost: the browser gives no microphone
    context = mic_browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    sign_in_page(page, base, "villager", "es")
    page.goto(f"{base}/stories/tell")
    expect(page.locator("[data-insecure]")).to_be_visible()
    expect(page.locator("[data-recorder]")).to_be_hidden()
    page.locator(".voice-upload summary").click()
    expect(page.locator("#audio")).to_be_attached()
    # A file too big is refused beside its field before anything is sent.
    page.evaluate("""() => {
        const input = document.getElementById('audio');
        const files = new DataTransfer();
        const big = new File([new Uint8Array(1)], 'big.ogg', {type: 'audio/ogg'});
        Object.defineProperty(big, 'size', {value: 41 * 1024 * 1024});
        files.items.add(big);
        input.files = files.files;
        input.dispatchEvent(new Event('change', {bubbles: true}));
    }""")
    expect(page.locator("[data-error-for=audio]")).to_be_visible()
    assert page.evaluate("document.getElementById('audio').files.length") == 0
    # Save without a title: asked for in the page's language, nothing sent.
    page.locator(".tell-save button[type=submit]").click()
    expect(page.locator("[data-error-for=title]")).to_be_visible()
    expect(page).to_have_url(f"{base}/stories/tell")
    context.close()
