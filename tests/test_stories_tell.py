"""Telling a story from the page, changing it and its consent (issue 18): who may do what, a
recording or a sound file kept in the kind it came in, every bad input answered beside its
field in the person's language with nothing saved, a 2 GB upload refused before it is read,
a form sent twice making one story, and narrowing or withdrawing consent from the page."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path

import pytest
from markupsafe import escape

from kiosk.stories import models

from .conftest import SignIn, csrf_from
from .factories import PIN, WHEN, make_account
from .live import infocentre, start_server

WEBM = (Path(__file__).parent / "fixtures" / "voice.webm").read_bytes()  # Chromium's recorder
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(400)
GOOD = {"title": "La minga del canal", "teller": "me", "village": "Urcuquí", "when": "1970s",
        "lang": "es", "tags": "agua, minga", "consent": "region", "transcript": "", "body": ""}


def jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (180, 90, 40)).save(out, "JPEG")
    return out.getvalue()


def text(response) -> str:
    return response.get_data(as_text=True)


def blobs(app) -> int:
    root = Path(app.config["DATA_DIR"]) / "media"
    return sum(1 for p in root.rglob("*") if p.is_file() and "thumbs" not in p.parts)


def rows(db) -> tuple[int, int]:
    return (db.execute("SELECT count(*) FROM stories").fetchone()[0],
            db.execute("SELECT count(*) FROM story_photos").fetchone()[0])


def signed_in(app, account):
    client = app.test_client()
    assert SignIn(client).pin(account, PIN).status_code == 302
    return client


def form_of(client, path) -> dict:
    page = client.get(path)
    assert page.status_code == 200, text(page)
    found = re.search(r'name="form_id" value="([^"]*)"', text(page))
    return {"csrf_token": csrf_from(page), "form_id": found.group(1)}


def send(client, path="/stories/tell", data=None, hidden=None, **files):
    """Send the story form as the browser does (multipart, with the page's hidden fields)."""
    form = {**(hidden or form_of(client, path)), **GOOD, **(data or {})}
    for field, contents in files.items():
        form[field] = [(io.BytesIO(body), name) for name, body in contents]
    return client.post(path, data=form, content_type="multipart/form-data")


def in_language(app, code, message):
    """``message`` (a function making it) as a page in ``code`` shows it, escaped: Spanish
    once the catalogue has it."""
    with app.test_request_context():
        from kiosk.i18n import set_request_language

        set_request_language(code)
        return str(escape(message()))


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def people(db, centre) -> dict:
    return {"rosa": make_account(db, centre, role="villager", name="Rosa Quishpe", lang="es"),
            "manuel": make_account(db, centre, role="villager", name="Manuel Guamán"),
            "lucia": make_account(db, centre, role="facilitator", name="Lucía Andrango")}


@pytest.fixture
def rosa(app, people):
    return signed_in(app, people["rosa"])


def told(db, centre, teller, **fields) -> str:
    return models.save_story(db, centre_id=centre, by=teller, now=WHEN,
                             fields={**GOOD, "teller_id": teller["id"], "teller_name": "",
                                     "transcript": "Cuando éramos jóvenes...", **fields})


def approve(db, centre, story_id, by):
    models.review(db, centre_id=centre, story_id=story_id, action="approve", note="", by=by,
                  now=WHEN)


# Who may do what.


def test_signed_out_people_are_sent_to_sign_in(client):
    for path in ("/stories/tell", "/stories/mine"):
        response = client.get(path)
        assert response.status_code == 302 and "/auth/signin" in response.location


def test_the_hub_has_no_telling_pages(hub_client):
    assert hub_client.get("/stories/tell").status_code == 404
    assert hub_client.get("/stories/mine").status_code == 404


def test_only_the_teller_the_recorder_and_facilitators_change_a_story(app, db, centre, people):
    story_id = told(db, centre, people["rosa"])
    manuel = signed_in(app, people["manuel"])
    token = csrf_from(manuel.get("/stories/tell"))
    for path in (f"/stories/{story_id}/edit", f"/stories/{story_id}/consent"):
        assert manuel.get(path).status_code == 403, path
        assert manuel.post(path, data={"csrf_token": token, **GOOD, "consent": "withdrawn",
                                       "confirm": "yes"}).status_code == 403, path
    assert manuel.post(f"/stories/{story_id}/photos/x/remove",
                       data={"csrf_token": token}).status_code == 403
    assert models.get_story(db, story_id)["consent"] == "region"
    assert "La minga" not in text(manuel.get("/stories/mine"))
    lucia = signed_in(app, people["lucia"])
    assert lucia.get(f"/stories/{story_id}/edit").status_code == 200
    assert lucia.get(f"/stories/{story_id}/consent").status_code == 200
    assert signed_in(app, people["rosa"]).get(f"/stories/{story_id}/edit").status_code == 200
    assert lucia.get("/stories/nothing-here/edit").status_code == 404


def test_a_form_without_its_csrf_token_is_refused(rosa, db):
    hidden = form_of(rosa, "/stories/tell")
    hidden.pop("csrf_token")
    response = send(rosa, hidden=hidden, recording=[("story.webm", WEBM)])
    assert response.status_code == 400 and rows(db) == (0, 0)


# Telling.


def test_a_villager_records_a_story_with_a_photo_and_finds_it_in_her_stories(app, db, rosa,
                                                                           people):
    response = send(rosa, data={"recording_seconds": "95"}, recording=[("story.webm", WEBM)],
                    photos=[("chacra.jpg", jpeg())])
    assert response.status_code == 302 and "/stories/mine#story-" in response.location
    story = models.get_story(db, response.location.rsplit("#story-", 1)[1])
    assert (story["title"], story["status"], story["consent"]) == (
        "La minga del canal", "pending", "region")
    assert (story["teller_id"], story["teller_name"]) == (people["rosa"]["id"], "Rosa Quishpe")
    assert (story["recorded_by"], story["audio_kind"], story["audio_seconds"]) == (
        people["rosa"]["id"], "audio/webm", 95)
    assert story["audio_bytes"] == len(WEBM) and (story["decade"], story["tags"]) == (
        1970, ["agua", "minga"])
    assert rows(db) == (1, 1) and blobs(app) == 2
    mine = text(rosa.get("/stories/mine"))
    assert f'src="/media/{story["audio"]}"' in mine and "La minga del canal" in mine
    played = rosa.get(f"/media/{story['audio']}")
    assert played.status_code == 200 and played.mimetype == "audio/webm"
    assert played.data == WEBM


def test_an_uploaded_mp3_is_kept_as_an_mp3(db, rosa):
    response = send(rosa, audio=[("abuela.mp3", MP3)])
    assert response.status_code == 302
    story = models.list_stories(db)["stories"][0]
    assert (story["audio_kind"], story["audio_bytes"], story["audio_seconds"]) == (
        "audio/mpeg", len(MP3), 0)


def test_a_facilitator_records_for_a_person_of_the_centre_or_one_named(app, db, people):
    lucia = signed_in(app, people["lucia"])
    page = text(lucia.get("/stories/tell"))
    assert people["manuel"]["name"] in page  # the centre's people to choose from
    assert send(lucia, data={"teller": "account", "teller_id": people["manuel"]["id"]},
                recording=[("story.webm", WEBM)]).status_code == 302
    assert send(lucia, data={"teller": "other", "teller_name": "Mama Tránsito"}
                ).status_code == 400  # nothing recorded or written
    assert send(lucia, data={"teller": "other", "teller_name": "Mama Tránsito",
                             "transcript": "Había una vez..."}).status_code == 302
    tellers = {s["teller_name"]: (s["teller_id"], s["recorded_by"])
               for s in models.list_stories(db)["stories"]}
    assert tellers == {"Manuel Guamán": (people["manuel"]["id"], people["lucia"]["id"]),
                       "Mama Tránsito": ("", people["lucia"]["id"])}


def test_a_villager_cannot_name_another_account_as_the_teller(db, rosa, people):
    response = send(rosa, data={"teller": "account", "teller_id": people["manuel"]["id"]},
                    recording=[("story.webm", WEBM)])
    assert response.status_code == 400 and rows(db) == (0, 0)
    assert 'id="teller_id-error"' in text(response)


# Bad input: a message beside the field, in the person's language; nothing saved.

BAD = [
    ({"title": ""}, "title", lambda: models._("Give the story a title.")),
    ({"title": "   "}, "title", lambda: models._("Give the story a title.")),
    ({"title": "x" * 121}, "title", lambda: models._(
        "Give the story a title of %(count)d letters at most.", count=models.MAX_TITLE)),
    ({"when": "hace mucho"}, "when", None),
    ({"when": "2999"}, "when", None),
    ({"consent": ""}, "consent", lambda: models._("Choose who may hear the story.")),
    ({"consent": "everyone"}, "consent", lambda: models._("Choose who may hear the story.")),
    ({"tags": ",".join(f"t{i}" for i in range(20))}, "tags", None),
    ({"lang": "xx"}, "lang", lambda: models._("Choose the language the story is told in.")),
    ({"teller": "other", "teller_name": ""}, "teller_name", None),
    ({"teller": "nobody"}, "teller", None),
    ({"transcript": ""}, "audio", lambda: models._("Record the story, or write it, or add a "
                                                     "photo.")),
    ({"transcript": "x" * 50_001}, "transcript", None),
]


@pytest.mark.parametrize("change, field, message", BAD)
def test_bad_input_is_answered_beside_its_field_and_saves_nothing(app, db, rosa, change, field,
                                                                  message):
    response = send(rosa, data={"transcript": "Cuando éramos jóvenes...", **change})
    html = text(response)
    assert response.status_code == 400
    assert '<html lang="es"' in html and 'role="alert"' in html
    assert f'id="{field}-error"' in html  # the message stands beside its field
    if message:
        assert in_language(app, "es", message) in html
    assert rows(db) == (0, 0) and blobs(app) == 0


NOT_A_RECORDING = lambda: models._(  # noqa: E731
    "This file is not a recording that can be kept: choose a sound file in Ogg, MP3, WebM or "
    "WAV, or record the story here.")


@pytest.mark.parametrize("name, body, message", [
    ("cuento.ogg", b"Esto es un cuento escrito, no grabado.\n" * 20, NOT_A_RECORDING),
    ("cuento.ogg", b"<script>alert(1)</script>", NOT_A_RECORDING),
    ("foto.mp3", b"\xff\xd8\xff\xe0" + bytes(500), NOT_A_RECORDING),  # a JPEG named .mp3
    ("video.webm", b"\x1a\x45\xdf\xa3" + bytes(60), NOT_A_RECORDING),  # EBML, no WebM inside
    ("vacio.ogg", b"", lambda: models._("The recording is empty. Record again, a little "
                                        "longer.")),
])
def test_a_file_that_is_not_a_recording_is_refused_by_its_content(app, db, rosa, name, body,
                                                                   message):
    response = send(rosa, audio=[(name, body)])
    html = text(response)
    assert response.status_code == 400 and 'id="audio-error"' in html
    assert in_language(app, "es", message) in html
    assert rows(db) == (0, 0) and blobs(app) == 0


def test_a_bad_photo_is_refused_and_the_good_recording_is_not_lost(app, db, rosa):
    hidden = form_of(rosa, "/stories/tell")
    response = send(rosa, hidden=hidden, recording=[("story.webm", WEBM)],
                    photos=[("foto.jpg", b"not a photo at all")])
    html = text(response)
    assert response.status_code == 400 and 'id="photos-error"' in html
    assert rows(db) == (0, 0)
    # The recording was stored and is offered again with the same form: the teller need not
    # tell the story twice (the one blob kept before the form is right).
    assert blobs(app) == 1 and 'data-kept-before' in html and "/media/" in html
    again = send(rosa, hidden=hidden)
    assert again.status_code == 302
    story = models.list_stories(db)["stories"][0]
    assert story["audio_kind"] == "audio/webm" and rows(db) == (1, 0)


def test_script_in_a_transcript_is_kept_and_shown_as_text(db, rosa):
    script = "<script>alert('x')</script> y el río creció"
    assert send(rosa, data={"transcript": script, "title": "<b>Río</b>"}).status_code == 302
    story = models.list_stories(db)["stories"][0]
    assert story["transcript"] == script
    for page in (rosa.get(f"/stories/{story['id']}/edit"), rosa.get("/stories/mine")):
        html = text(page)
        assert "<script>alert" not in html and "<b>Río" not in html
        assert "&lt;b&gt;Río&lt;/b&gt;" in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text(
        rosa.get(f"/stories/{story['id']}/edit"))


def test_a_long_recording_passes_the_pages_usual_limit_and_one_too_long_is_refused(app, db,
                                                                                rosa):
    long = WEBM + bytes(20 * 1024 * 1024)  # more than the 16 MB other pages accept
    assert send(rosa, recording=[("story.webm", long)]).status_code == 302
    assert models.list_stories(db)["stories"][0]["audio_bytes"] == len(long)
    too_long = send(rosa, recording=[("story.webm", WEBM + bytes(41 * 1024 * 1024))])
    assert too_long.status_code == 400 and 'id="audio-error"' in text(too_long)
    assert rows(db) == (1, 0) and blobs(app) == 1


class Huge(io.RawIOBase):
    """A request body of 2 GB made as it is read, counting what is read of it."""

    def __init__(self, size):
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        self.position = {0: 0, 1: self.position, 2: self.size}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = bytes(n)
        self.position += n
        self.read_bytes += n
        return n


def test_a_2gb_upload_is_refused_before_a_byte_of_it_is_read(app, db, rosa):
    body = Huge(2 * 1024 ** 3)
    response = rosa.post("/stories/tell", input_stream=body, headers={
        "Content-Length": str(body.size),
        "Content-Type": "multipart/form-data; boundary=----story"})
    html = text(response)
    assert response.status_code == 413 and body.read_bytes == 0
    assert in_language(app, "es", lambda: models._(
        "The recording or the photos are too big")) in html
    assert "Rosa Quishpe" in html  # the page knows who is signed in
    assert rows(db) == (0, 0) and blobs(app) == 0


@pytest.mark.parametrize("size", [200 * 1024 ** 2, 2 * 1024 ** 3])
def test_a_2gb_upload_to_the_real_server_is_answered_without_waiting_for_it(tmp_path, size):
    """Refused from its Content-Length, before the server writes it to a temporary file (a
    200 MB one too: it would fill a centre's disk before the app could refuse it)."""
    data_dir = tmp_path / "centre"
    infocentre(data_dir, "init", "--role", "node", "--name", "Centro")
    server = start_server(data_dir)
    try:
        host, port = server.url.rsplit("/", 1)[1].split(":")
        with socket.create_connection((host, int(port)), timeout=20) as s:
            s.sendall(b"POST /stories/tell HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/"
                      b"form-data; boundary=b\r\nContent-Length: %d\r\n\r\n" % size)
            s.sendall(bytes(64 * 1024))  # a little of it, then only waiting for the answer
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 413")
    finally:
        server.stop()


def test_the_same_form_sent_twice_makes_one_story(app, db, rosa):
    hidden = form_of(rosa, "/stories/tell")
    first = send(rosa, hidden=hidden, recording=[("story.webm", WEBM)])
    second = send(rosa, hidden=hidden, recording=[("story.webm", WEBM)])
    assert first.status_code == second.status_code == 302
    assert first.location == second.location and rows(db) == (1, 0)
    assert in_language(app, "es", lambda: models._(
        "This story was already saved. It is in your stories.")) in text(rosa.get("/stories/mine"))
    story_id = first.location.rsplit("#story-", 1)[1]
    assert story_id == hidden["form_id"]
    # Sent again after the story was withdrawn: it does not come back.
    models.set_consent(db, centre_id=models.get_story(db, story_id)["centre_id"],
                       story_id=story_id, consent="withdrawn", by={}, now=WHEN)
    third = send(rosa, hidden=hidden, recording=[("story.webm", WEBM)])
    assert third.status_code == 302 and rows(db) == (0, 0)


def test_two_forms_make_two_stories(db, rosa):
    for _ in range(2):
        assert send(rosa, recording=[("story.webm", WEBM)]).status_code == 302
    assert rows(db) == (2, 0)


# Changing a story.


def test_a_teller_who_changes_an_approved_story_sends_it_back_to_review(app, db, centre, people,
                                                                        rosa):
    story_id = told(db, centre, people["rosa"])
    approve(db, centre, story_id, people["lucia"])
    assert models.get_story(db, story_id)["shared"] == 1
    path = f"/stories/{story_id}/edit"
    page = text(rosa.get(path))
    assert 'value="La minga del canal"' in page and 'value="1970s"' in page
    response = send(rosa, path, data={"title": "La minga del canal grande"},
                    photos=[("chacra.jpg", jpeg())])
    assert response.status_code == 302
    story = models.get_story(db, story_id)
    assert (story["title"], story["status"], story["shared"]) == (
        "La minga del canal grande", "pending", 0)
    assert rows(db) == (1, 1)
    # A facilitator's own change keeps it approved.
    approve(db, centre, story_id, people["lucia"])
    lucia = signed_in(app, people["lucia"])
    assert send(lucia, path, data={"teller": "account", "teller_id": people["rosa"]["id"],
                                   "village": "Cotacachi"}).status_code == 302
    story = models.get_story(db, story_id)
    assert (story["village"], story["status"], story["teller_id"]) == (
        "Cotacachi", "approved", people["rosa"]["id"])


def test_a_bad_change_changes_nothing(app, db, centre, people, rosa):
    story_id = told(db, centre, people["rosa"])
    before = db.execute("SELECT * FROM stories").fetchall()
    response = send(rosa, f"/stories/{story_id}/edit", data={"title": "", "when": "1066"})
    html = text(response)
    assert response.status_code == 400
    assert 'id="title-error"' in html and 'id="when-error"' in html
    assert db.execute("SELECT * FROM stories").fetchall() == before


def test_a_photo_is_taken_away(app, db, centre, people, rosa):
    story_id = told(db, centre, people["rosa"])
    assert send(rosa, f"/stories/{story_id}/edit", photos=[
        ("a.jpg", jpeg()), ("b.jpg", jpeg())]).status_code == 302
    photos = models.photos_of(db, story_id)
    assert len(photos) == 2 and photos[0]["photo"] == photos[1]["photo"]  # one blob
    token = csrf_from(rosa.get(f"/stories/{story_id}/edit"))
    response = rosa.post(f"/stories/{story_id}/photos/{photos[0]['id']}/remove",
                         data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/edit#photos")
    assert [p["id"] for p in models.photos_of(db, story_id)] == [photos[1]["id"]]
    assert rosa.post(f"/stories/{story_id}/photos/{photos[0]['id']}/remove",
                     data={"csrf_token": token}).status_code == 404


# Consent from the page.


def test_a_teller_narrows_and_widens_consent_from_the_page(db, centre, people, rosa):
    story_id = told(db, centre, people["rosa"])
    approve(db, centre, story_id, people["lucia"])
    path = f"/stories/{story_id}/consent"
    page = text(rosa.get(path))
    assert page.count('name="consent"') == 4  # three choices, and withdrawal
    token = csrf_from(rosa.get(path))
    response = rosa.post(path, data={"csrf_token": token, "consent": "centre"})
    assert response.status_code == 302
    story = models.get_story(db, story_id)
    assert (story["consent"], story["shared"], story["consent_by"]) == (
        "centre", 0, "Rosa Quishpe")
    assert rosa.post(path, data={"csrf_token": token, "consent": "public"}).status_code == 302
    assert models.get_story(db, story_id)["shared"] == 1
    bad = rosa.post(path, data={"csrf_token": token, "consent": "everyone"})
    assert bad.status_code == 400 and 'role="alert"' in text(bad)
    assert models.get_story(db, story_id)["consent"] == "public"


def test_withdrawal_asks_first_then_removes_the_story_for_ever(app, db, centre, people, rosa):
    story_id = told(db, centre, people["rosa"])
    path = f"/stories/{story_id}/consent"
    token = csrf_from(rosa.get(path))
    asked = rosa.post(path, data={"csrf_token": token, "consent": "withdrawn"})
    html = text(asked)
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in html
    assert 'role="alertdialog"' in html and rows(db) == (1, 0)
    done = rosa.post(path, data={"csrf_token": token, "consent": "withdrawn", "confirm": "yes"})
    assert done.status_code == 302 and done.location.endswith("/stories/mine")
    assert rows(db) == (0, 0)
    mine = text(rosa.get("/stories/mine"))
    assert in_language(app, "es", lambda: models._(
        "The story “%(title)s” was withdrawn. It is removed from this centre, from every other "
        "centre and from the hub, for ever.", title="La minga del canal")) in mine
    assert rosa.get(path).status_code == 404


def test_a_facilitator_withdraws_a_story_with_its_teller(app, db, centre, people):
    story_id = told(db, centre, people["rosa"])
    lucia = signed_in(app, people["lucia"])
    path = f"/stories/{story_id}/consent"
    token = csrf_from(lucia.get(path))
    assert lucia.post(path, data={"csrf_token": token, "consent": "withdrawn",
                                  "confirm": "yes"}).status_code == 302
    assert rows(db) == (0, 0)


def test_my_stories_show_status_and_the_review_note(db, centre, people, rosa):
    story_id = told(db, centre, people["rosa"])
    models.review(db, centre_id=centre, story_id=story_id, action="return",
                  note="Falta decir el año <b>exacto</b>", by=people["lucia"], now=WHEN)
    html = text(rosa.get("/stories/mine"))
    assert "Falta decir el año &lt;b&gt;exacto&lt;/b&gt;" in html
    assert f'href="/stories/{story_id}/edit"' in html
    assert f'href="/stories/{story_id}/consent"' in html
    edit = text(rosa.get(f"/stories/{story_id}/edit"))
    assert "Falta decir el año" in edit


def test_pages_are_in_the_persons_language_and_right_to_left_in_arabic(app, db, centre, people):
    arabic = make_account(db, centre, role="villager", name="Amina", lang="ar")
    client = signed_in(app, arabic)
    html = text(client.get("/stories/tell"))
    assert '<html lang="ar" dir="rtl">' in html
    assert 'name="consent" value="centre"' in html and "data-meter" in html


def test_the_recorder_is_one_script_shared_with_the_courses():
    static = Path(__file__).parent.parent / "kiosk" / "static" / "js"
    recorder = (static / "recorder.js").read_text("utf-8")
    assert "AnalyserNode" in recorder or "createAnalyser" in recorder
    assert "MediaRecorder" not in (static / "voices.js").read_text("utf-8")

