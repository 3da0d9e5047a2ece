"""Voices of a course's texts: recordings recognised by their content, the recording page's
rules (who may record, what is refused and why, in the person's language), and the Listen
buttons learners see beside the texts that have a voice."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from markupsafe import escape

from kiosk import audio
from kiosk.courses import packs
from kiosk.errors import KioskError

from .conftest import SignIn, csrf_from
from .factories import PIN, make_account
from .live import ROOT, db_rows
from .packs import install, write_pack

WEBM = (Path(__file__).parent / "fixtures" / "voice.webm").read_bytes()  # Chromium's recorder
OGG = (ROOT / "content" / "demo" / "voices" / "turn-off-a.es.ogg").read_bytes()  # opusenc
COURSE = packs.course_id("first-steps")
MOUSE = packs.lesson_id("first-steps", "mouse")
QUIZ = packs.lesson_id("first-steps", "final-quiz")
Q1 = packs.question_id("first-steps", "q1")


def mp3() -> bytes:
    """The start of an MP3 file: an ID3 tag, then an MPEG-1 layer III frame header."""
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)


def wav() -> bytes:
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


# Recognising sounds by what they hold.


def test_real_recordings_are_recognised_with_their_codec():
    assert audio.recognise(WEBM) == audio.Sound("audio/webm", "opus", "webm")
    assert audio.recognise(OGG) == audio.Sound("audio/ogg", "opus", "ogg")
    assert audio.recognise(mp3()).name == "mp3"
    assert audio.recognise(wav()).name == "wav/pcm"


@pytest.mark.parametrize("data", [
    b"", b"hello, this is text named voice.webm", b"<script>alert(1)</script>",
    b"\x1a\x45\xdf\xa3" + bytes(60),  # EBML, but neither WebM nor Matroska
    b"\x89PNG\r\n\x1a\n" + bytes(100), b"\xff\xd8\xff\xe0" + bytes(100),
])
def test_what_is_not_a_sound_is_not_recognised(data):
    assert audio.recognise(data) is None


def test_an_ogg_without_opus_and_a_webm_video_codec_are_not_voices(app):
    vorbis = OGG.replace(b"OpusHead", b"\x01vorbis\x00", 1)
    assert audio.recognise(vorbis).name == "ogg/vorbis"
    no_opus = WEBM.replace(b"A_OPUS", b"V_VP8\x00", 1)
    assert audio.recognise(no_opus) == audio.Sound("audio/webm", None, "webm")
    with app.test_request_context():
        for data in (vorbis, no_opus):
            with pytest.raises(KioskError, match="cannot be kept here"):
                audio.check(data)
        assert audio.check(vorbis, kinds=audio.STORY_KINDS).name == "ogg/vorbis"


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (None, "No recording arrived"),
    ("text, not bytes", "No recording arrived"),
    (b"just text, named voice.webm", "not a sound recording"),
    (mp3(), "MP3"),
    (wav(), "WAV/PCM"),
    (WEBM + bytes(audio.VOICE_LIMIT), "too long"),
])
def test_a_voice_must_be_opus_and_small(app, data, words):
    with app.test_request_context():
        with pytest.raises(KioskError, match=words):
            audio.check(data)
        assert audio.check(WEBM).codec == audio.check(OGG).codec == "opus"


def test_the_refusals_speak_the_persons_language(app):
    with app.test_request_context(headers={"Cookie": ""}):
        from kiosk.i18n import set_request_language

        set_request_language("es")
        with pytest.raises(KioskError) as refused:
            audio.check(WEBM + bytes(audio.VOICE_LIMIT))
        assert "5,1" in str(refused.value) and "MB" in str(refused.value)
        assert str(refused.value) != audio.check.__doc__


# The recording page and its rules.


@pytest.fixture
def course(app, db, data_dir, tmp_path):
    install(db, write_pack(tmp_path / "pack"), centre_id=app.config["CENTRE_ID"],
            data_dir=data_dir)


def person(app, db, client, role: str, lang: str = "en") -> SignIn:
    account = make_account(db, app.config["CENTRE_ID"], role=role, lang=lang)
    signing = SignIn(client)
    signing.pin(account, PIN)
    return signing


@pytest.fixture
def facilitator(app, db, client, course):
    return person(app, db, client, "facilitator")


def send(client, *, data=WEBM, lesson=MOUSE, kind="page", target=MOUSE, part="1", lang="es",
         json_reply=True, filename="voice.webm", **extra):
    page = client.get(f"/courses/{COURSE}/lessons/{lesson}/voices")
    form = {"csrf_token": csrf_from(page), "kind": kind, "target": target, "part": part,
            "lang": lang, **extra}
    if data is not None:
        form["audio"] = (io.BytesIO(data), filename)
    return client.post(f"/courses/{COURSE}/lessons/{lesson}/voices", data=form,
                       content_type="multipart/form-data",
                       headers={"Accept": "application/json"} if json_reply else {})


def voices(data_dir) -> list[tuple]:
    return db_rows(data_dir, "SELECT target_kind, target_id, part, lang, audio FROM voices "
                             "ORDER BY target_kind, part, lang")


def test_a_facilitator_records_a_page_and_a_learner_hears_it(app, db, client, data_dir,
                                                             facilitator):
    page = client.get(f"/courses/{COURSE}/lessons/{MOUSE}/voices")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Record the voice" in html and "voices.js" in html and "Primera página" in html
    reply = send(client)
    assert reply.status_code == 200 and reply.json["ok"] and reply.json["changed"]
    [(kind, target, part, lang, sha)] = voices(data_dir)
    assert (kind, target, part, lang) == ("page", MOUSE, "1", "es")
    assert list((data_dir / "media").rglob(sha))
    # The same recording sent again (a double press, a resent form) changes nothing.
    again = send(client)
    assert again.json == {**reply.json, "changed": False}
    assert voices(data_dir) == [(kind, target, part, lang, sha)]
    # Recording again replaces the voice: still one row.
    ogg = send(client, data=OGG, filename="voice.ogg")
    assert ogg.json["changed"] and len(voices(data_dir)) == 1
    assert voices(data_dir)[0][4] != sha

    facilitator.out()
    person(app, db, client, "villager", lang="es")
    lesson = client.get(f"/courses/{COURSE}/lessons/{MOUSE}?page=1").get_data(as_text=True)
    assert "data-listen" in lesson and "Record the voice" not in lesson
    assert "/voices" not in lesson  # the recording page is not offered to learners
    assert "data-listen" not in client.get(
        f"/courses/{COURSE}/lessons/{MOUSE}?page=2").get_data(as_text=True)
    media = client.get(f"/media/{voices(data_dir)[0][4]}")
    assert media.status_code == 200 and media.mimetype == "audio/ogg"


def test_the_media_route_sends_ranges_so_the_player_can_seek(client, facilitator, data_dir):
    send(client)
    sha = voices(data_dir)[0][4]
    whole = client.get(f"/media/{sha}")
    assert whole.mimetype == "audio/webm" and whole.headers["Accept-Ranges"] == "bytes"
    part = client.get(f"/media/{sha}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == WEBM[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(WEBM)}"


def test_a_quiz_question_and_its_answers_get_voices(app, db, client, data_dir, facilitator):
    assert send(client, lesson=QUIZ, kind="prompt", target=Q1, part="", lang="en").json["ok"]
    for choice in ("a", "b", "c"):
        assert send(client, lesson=QUIZ, kind="choice", target=Q1, part=choice, data=OGG,
                    lang="qu_EC").json["ok"]
    assert [row[:4] for row in voices(data_dir)] == [
        ("choice", Q1, "a", "qu_EC"), ("choice", Q1, "b", "qu_EC"), ("choice", Q1, "c", "qu_EC"),
        ("prompt", Q1, "", "en")]
    facilitator.out()
    # A Kichwa learner sees the Spanish words (the course has no Kichwa) and the Kichwa voice
    # beside each answer; outside the answer's label, so listening picks nothing.
    person(app, db, client, "villager", lang="qu_EC")
    html = client.get(f"/courses/{COURSE}/quiz/{QUIZ}").get_data(as_text=True)
    assert html.count("data-listen") == 3
    assert "</label>\n    <span class=\"listen-voices\"" in html
    # An English learner hears the English prompt; the answers have no English voice.
    client.post("/auth/signout", data={"csrf_token": csrf_from(client.get("/language"))})
    person(app, db, client, "villager", lang="en")
    html = client.get(f"/courses/{COURSE}/quiz/{QUIZ}").get_data(as_text=True)
    assert html.count("data-listen") == 1 and "Listen: Question 1?" in html


def test_a_voice_in_the_pages_language_comes_first_beside_a_fallback_text(
        app, db, client, data_dir, facilitator):
    send(client, lang="es")
    send(client, lang="qu_EC", data=OGG, filename="voice.ogg")
    facilitator.out()
    person(app, db, client, "villager", lang="qu_EC")
    html = client.get(f"/courses/{COURSE}/lessons/{MOUSE}?page=1").get_data(as_text=True)
    assert html.count("data-listen") == 2
    assert html.index('lang="qu-EC" dir="ltr">Kichwa') < html.index('dir="ltr">Español')


@pytest.mark.parametrize("change, words", [
    ({"data": b"just text"}, "not a sound recording"),
    ({"data": b"just text", "filename": "voice.webm"}, "not a sound recording"),
    ({"data": mp3(), "filename": "song.mp3"}, "MP3"),
    ({"data": b""}, "empty"),
    ({"data": WEBM + bytes(audio.VOICE_LIMIT)}, "too long"),
    ({"data": None}, "No recording arrived"),
    ({"data": None, "audio": "<script>alert(1)</script>"}, "No recording arrived"),
    ({"lang": "xx"}, "Choose the language"),
    ({"lang": "<script>"}, "Choose the language"),
    ({"part": "99"}, "not part of the lesson"),
    ({"part": "1" * 5000}, "not part of the lesson"),
    ({"kind": "prompt", "part": ""}, "not part of the lesson"),
    ({"kind": "chapter"}, "not part of the lesson"),
    ({"target": QUIZ}, "not part of the lesson"),
    ({"lesson": QUIZ, "kind": "choice", "target": Q1, "part": "z"}, "not part of the lesson"),
    ({"lesson": QUIZ, "kind": "prompt", "target": MOUSE, "part": ""}, "not part of the lesson"),
])
def test_bad_recordings_are_refused_with_a_reason_and_nothing_changes(client, facilitator,
                                                                      data_dir, change, words):
    send(client)
    before = voices(data_dir)
    stored = sorted(p.name for p in (data_dir / "media").rglob("*") if p.is_file())
    reply = send(client, **change)
    assert reply.status_code == 400 and not reply.json["ok"]
    assert words in reply.json["errors"][0]["message"]
    assert voices(data_dir) == before
    assert sorted(p.name for p in (data_dir / "media").rglob("*") if p.is_file()) == stored


def test_a_refused_form_shows_the_page_again_with_the_reason_in_spanish(app, db, client,
                                                                       course, data_dir):
    person(app, db, client, "facilitator", lang="es")
    reply = send(client, data=b"hola", json_reply=False)
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    with app.test_request_context():
        from kiosk.i18n import set_request_language

        set_request_language("es")
        with pytest.raises(KioskError) as refused:
            audio.check(b"hola")
    assert 'role="alert"' in html and '<html lang="es"' in html
    assert str(escape(str(refused.value))) in html  # Spanish once the catalogue has it
    assert voices(data_dir) == []
    kept = send(client, json_reply=False)
    assert kept.status_code == 302 and "lang=es" in kept.location
    assert 'class="notice success"' in client.get(kept.location).get_data(as_text=True)


def test_a_recording_larger_than_any_request_is_refused_before_it_is_read(client, facilitator,
                                                                          data_dir):
    reply = send(client, data=WEBM + bytes(17 * 1024 * 1024))
    assert reply.status_code == 413 and voices(data_dir) == []


def test_a_voice_can_be_taken_away_and_recorded_again(client, facilitator, data_dir):
    send(client)
    page = client.get(f"/courses/{COURSE}/lessons/{MOUSE}/voices?lang=es")
    assert "Take the voice away" in page.get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "kind": "page", "target": MOUSE, "part": "1",
            "lang": "es"}
    gone = client.post(f"/courses/{COURSE}/lessons/{MOUSE}/voices/remove", data=form)
    assert gone.status_code == 302
    assert [row[4] for row in voices(data_dir)] == [None]  # kept, with no audio: never deleted
    # Removing twice changes nothing more; recording again brings the voice back.
    assert client.post(f"/courses/{COURSE}/lessons/{MOUSE}/voices/remove",
                       data=form).status_code == 302
    assert send(client).json["changed"]
    assert voices(data_dir)[0][4] is not None


@pytest.mark.parametrize("role", ["villager", "cooperative"])
def test_a_learner_cannot_record_or_take_away_a_voice(app, db, client, course, data_dir, role):
    person(app, db, client, role)
    assert client.get(f"/courses/{COURSE}/lessons/{MOUSE}/voices").status_code == 403
    token = csrf_from(client.get("/language"))
    for path in ("voices", "voices/remove"):
        reply = client.post(f"/courses/{COURSE}/lessons/{MOUSE}/{path}", data={
            "csrf_token": token, "kind": "page", "target": MOUSE, "part": "1", "lang": "es",
            "audio": (io.BytesIO(WEBM), "voice.webm")}, content_type="multipart/form-data")
        assert reply.status_code == 403
    assert voices(data_dir) == []


def test_signed_out_visitors_are_sent_to_sign_in(client, course):
    reply = client.get(f"/courses/{COURSE}/lessons/{MOUSE}/voices")
    assert reply.status_code == 302 and "/auth/signin" in reply.location


def test_a_voice_without_its_recording_yet_is_not_offered(app, db, client, data_dir,
                                                          facilitator):
    send(client)
    sha = voices(data_dir)[0][4]
    next((data_dir / "media").rglob(sha)).unlink()  # as if the blob had not arrived from the hub
    html = client.get(f"/courses/{COURSE}/lessons/{MOUSE}/voices?lang=es").get_data(as_text=True)
    assert "Waiting for its recording" in html
    facilitator.out()
    person(app, db, client, "villager", lang="es")
    assert "data-listen" not in client.get(
        f"/courses/{COURSE}/lessons/{MOUSE}?page=1").get_data(as_text=True)


def test_the_demo_has_voices_for_a_page_a_question_and_its_answers():
    listing = json.loads((ROOT / "content" / "demo" / "voices.json").read_text("utf-8"))
    kinds = {(v["kind"], v["lang"]) for v in listing["voices"]}
    assert {("page", "qu_EC"), ("prompt", "qu_EC"), ("choice", "qu_EC"), ("page", "es")} <= kinds
    for voice in listing["voices"]:
        data = (ROOT / "content" / "demo" / voice["file"]).read_bytes()
        assert audio.recognise(data).name == "ogg/opus" and len(data) < 20_000
