"""The stories' rules as functions over a real database: checking what people type, review,
consent and what ``shared`` (the scope of a story and its photos) follows."""

import json

import pytest

from kiosk.errors import NotFound, ValidationError
from kiosk.media import Store
from kiosk.stories import models
from tests.factories import WHEN, make_account

FIELDS = {"title": "La minga del canal", "teller_name": "Mama Rosa", "village": "Urcuquí",
          "when": "1970s", "lang": "es", "tags": "Agua, minga, agua", "consent": "region",
          "body": "", "transcript": "Cuando éramos jóvenes hicimos el canal."}


def _centre(db):
    return db.execute("SELECT node_id FROM _sync_state").fetchone()[0]


def _story(db, **fields):
    by = make_account(db, _centre(db), role="facilitator", name="Facilitadora")
    return models.save_story(db, centre_id=_centre(db), fields={**FIELDS, **fields}, by=by,
                             now=WHEN), by


def test_a_new_story_waits_for_review_and_is_not_shared(db):
    story_id, _by = _story(db)
    story = models.get_story(db, story_id)
    assert story["status"] == "pending" and story["shared"] == 0
    assert story["tags"] == ["agua", "minga"]
    assert (story["year"], story["decade"]) == (0, 1970)
    assert story["consent_by"] == "Facilitadora" and story["consent_at"]


def test_approval_shares_story_and_photos_only_under_region_or_public(db):
    story_id, by = _story(db)
    sha = Store(db_media(db)).add_bytes(b"\xff\xd8\xff" + b"x" * 100).sha
    models.save_story(db, centre_id=_centre(db), story_id=story_id, fields=FIELDS, by=by,
                      now=WHEN, photos=[sha], reviewer=True)
    models.review(db, centre_id=_centre(db), story_id=story_id, action="approve", note="",
                  by=by, now=WHEN)
    assert db.execute("SELECT shared FROM stories").fetchone()[0] == 1
    assert db.execute("SELECT shared FROM story_photos").fetchone()[0] == 1
    models.set_consent(db, centre_id=_centre(db), story_id=story_id, consent="centre", by=by,
                       now=WHEN)
    assert db.execute("SELECT shared FROM stories").fetchone()[0] == 0
    assert db.execute("SELECT shared FROM story_photos").fetchone()[0] == 0
    models.set_consent(db, centre_id=_centre(db), story_id=story_id, consent="withdrawn",
                       by=by, now=WHEN)
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM story_photos").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM stories_search").fetchone()[0] == 0
    with pytest.raises(NotFound):
        models.get_story(db, story_id)


def db_media(db):
    return __import__("pathlib").Path(db.conn.execute("PRAGMA database_list").fetchone()[2]
                                      ).parent / "media"


@pytest.mark.parametrize("fields, field", [
    ({"title": ""}, "title"), ({"title": "x" * 121}, "title"), ({"when": "3020"}, "when"),
    ({"when": "hace mucho"}, "when"), ({"consent": "everyone"}, "consent"),
    ({"tags": ",".join(f"t{i}" for i in range(13))}, "tags"), ({"lang": "xx"}, "lang"),
    ({"transcript": "", "body": ""}, "audio"), ({"title": "bad\x00byte"}, "title"),
    ({"teller_name": ""}, "teller_name"), ({"title": ["a list"]}, "title"),
])
def test_bad_input_names_the_field_and_writes_nothing(db, fields, field):
    with pytest.raises(ValidationError) as caught:
        _story(db, **fields)
    assert field in caught.value.errors
    assert db.execute("SELECT count(*) FROM stories").fetchone()[0] == 0


def test_script_in_a_transcript_is_kept_as_text(db):
    story_id, _by = _story(db, transcript="<script>alert(1)</script> y el río")
    assert models.get_story(db, story_id)["transcript"].startswith("<script>")


def test_review_needs_a_note_to_send_back_or_hide_and_changes_by_a_teller_wait_again(db):
    story_id, by = _story(db)
    with pytest.raises(ValidationError):
        models.review(db, centre_id=_centre(db), story_id=story_id, action="return", note=" ",
                      by=by, now=WHEN)
    models.review(db, centre_id=_centre(db), story_id=story_id, action="return",
                  note="Falta el año", by=by, now=WHEN)
    assert models.get_story(db, story_id)["status"] == "returned"
    models.save_story(db, centre_id=_centre(db), story_id=story_id,
                      fields={**FIELDS, "when": "1975"}, by=by, now=WHEN)
    assert models.get_story(db, story_id)["status"] == "pending"


def test_search_ignores_accents_and_case_and_finds_tags(db):
    story_id, _by = _story(db)
    for q in ("JOVENES", "canál", "minga", "urcuqui", "mama"):
        assert [s["id"] for s in models.list_stories(db, q=q)["stories"]] == [story_id], q
    assert models.list_stories(db, q="tractor")["total"] == 0
    assert models.list_stories(db, q="<>*\"")["total"] == 0


def test_list_json_shape(db):
    story_id, _by = _story(db)
    rows = models.summary_rows(db)
    assert rows == [{"id": story_id, "title": FIELDS["title"], "teller": "Mama Rosa",
                     "centre": _centre(db), "consent": "region", "status": "pending",
                     "audio": None, "photos": []}]
    json.dumps(rows)


def test_a_story_recording_is_recognised_by_its_content_and_named_kinds_are_the_stories(app):
    from kiosk import audio
    from kiosk.errors import KioskError

    with app.app_context():
        with pytest.raises(KioskError, match="MP3"):
            audio.check(b"Once upon a time, a text file named story.ogg", kinds=audio.STORY_KINDS)
        mp4 = b"\x00\x00\x00\x20ftypM4A " + bytes(100)
        with pytest.raises(KioskError, match="Ogg, MP3, WebM or WAV"):
            audio.check(mp4, kinds=audio.STORY_KINDS)
        wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(100)
        assert audio.check(wav, kinds=audio.STORY_KINDS).name == "wav/pcm"
        with pytest.raises(KioskError, match="Opus"):
            audio.check(wav)  # a course's voice stays Opus only
