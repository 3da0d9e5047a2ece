"""A voice recorded at one centre reaches another through a real hub, its recording with it; a
new recording replaces it everywhere, and taking it away at the other centre is heard
everywhere too (each centre only ever writes its own rows)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kiosk.courses import models, packs
from kiosk.data import open_db
from sync.media import Store

from .factories import WHEN, make_account
from .live import db_rows, infocentre, join_centre, start_server
from .packs import write_pack

pytestmark = pytest.mark.live

COURSE = packs.course_id("first-steps")
QUIZ = packs.lesson_id("first-steps", "final-quiz")
Q1 = packs.question_id("first-steps", "q1")
WEBM = (Path(__file__).parent / "fixtures" / "voice.webm").read_bytes()
OGG = (Path(__file__).parent.parent / "content" / "demo" / "voices" / "turn-off.qu_EC.ogg"
       ).read_bytes()


def sync(path) -> dict:
    result = infocentre(path, "sync", "now", "--json", check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["quarantined"] == 0
    return report


def record(centre: Path, centre_id: str, data: bytes | None, minutes: int) -> str | None:
    """What the recording page does: the blob in the store, the row by the centre."""
    db = open_db(centre / "infocentre.db")
    try:
        sha = Store(centre / "media").add_bytes(data).sha if data else None
        lesson = {**models.get_lesson(db, COURSE, QUIZ, "es")}
        facilitator = make_account(db, centre_id, role="facilitator")
        models.record_voice(db, centre_id=centre_id, lesson=lesson, kind="choice", target_id=Q1,
                            part="b", lang="qu_EC", sha=sha, account_id=facilitator["id"],
                            now=WHEN + dt.timedelta(minutes=minutes))
        return sha
    finally:
        db.close()


def heard(centre: Path) -> str | None:
    db = open_db(centre / "infocentre.db")
    try:
        voice = models.voices_of(db, QUIZ).get(("choice", Q1, "b"), {}).get("qu_EC")
        return voice and voice["audio"]
    finally:
        db.close()


def test_a_voice_travels_with_the_course_to_every_centre(tmp_path):
    hub_dir = tmp_path / "hub"
    infocentre(hub_dir, "init", "--role", "hub", "--name", "Hub")
    infocentre(hub_dir, "content", "import", str(write_pack(tmp_path / "pack")))
    hub = start_server(hub_dir)
    try:
        colta = tmp_path / "colta"
        guamote = tmp_path / "guamote"
        colta_id, _ = join_centre(hub_dir, colta, "Centro Colta", hub.url)
        guamote_id, _ = join_centre(hub_dir, guamote, "Centro Guamote", hub.url)
        sync(colta)
        sync(guamote)

        sha = record(colta, colta_id, WEBM, 1)
        assert sync(colta)["blobs_sent"] == 1
        assert db_rows(hub_dir, "SELECT centre_id, audio FROM voices") == [(colta_id, sha)]
        assert sync(guamote)["blobs_received"] == 1
        assert heard(guamote) == sha
        assert (guamote / "media" / sha[:2] / sha).read_bytes() == WEBM

        # Colta records it again: the new recording replaces the old one everywhere.
        again = record(colta, colta_id, OGG, 2)
        sync(colta)
        sync(guamote)
        assert heard(guamote) == again and db_rows(guamote, "SELECT count(*) FROM voices") == [
            (1,)]

        # Guamote takes it away: its own row, newer, says so; Colta hears nothing either.
        record(guamote, guamote_id, None, 3)
        sync(guamote)
        sync(colta)
        assert heard(colta) is None and heard(guamote) is None
        assert db_rows(colta, "SELECT centre_id, audio IS NULL FROM voices ORDER BY 2") == [
            (colta_id, 0), (guamote_id, 1)]
    finally:
        hub.stop()
