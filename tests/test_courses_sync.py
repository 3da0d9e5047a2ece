"""Courses published at the hub reach a centre through a real sync, pictures included, and the
centre's learning records go up to the hub; a newer version keeps the progress made on it."""

from __future__ import annotations

import json

import pytest

from kiosk.courses import models, packs
from kiosk.data import open_db

from .factories import WHEN, make_account
from .live import db_rows, infocentre, join_centre, start_server
from .packs import write_pack

pytestmark = pytest.mark.live

COURSE = packs.course_id("first-steps")


def sync(path) -> dict:
    result = infocentre(path, "sync", "now", "--json", check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_course_published_at_the_hub_reaches_a_centre_and_progress_goes_up(tmp_path):
    hub_dir = tmp_path / "hub"
    infocentre(hub_dir, "init", "--role", "hub", "--name", "Hub")
    folder = write_pack(tmp_path / "pack")
    infocentre(hub_dir, "content", "import", str(folder))
    hub = start_server(hub_dir)
    try:
        node = tmp_path / "centre"
        node_id, _token = join_centre(hub_dir, node, "Centro San Pablo", hub.url)
        report = sync(node)
        assert report["blobs_received"] == 4  # the cover and three pictures
        assert json.loads(infocentre(node, "content", "list", "--json").stdout)[0][
            "version"] == 1
        shas = [r[0] for r in db_rows(node, "SELECT sha256 FROM course_media")]
        assert all(list((node / "media").rglob(sha)) for sha in shas)

        # A learner of the centre works through the course.
        db = open_db(node / "infocentre.db")
        learner = make_account(db, node_id, name="Rosa Quishpe")
        lessons = models.lessons_of(db, COURSE, "es")
        for lesson in lessons[:-1]:
            models.finish_lesson(db, centre_id=node_id, learner_id=learner["id"],
                                 lesson={**lesson, "course_id": COURSE}, now=WHEN)
        quiz = {**lessons[-1], "course_id": COURSE}
        for question in models.questions_of(db, quiz["id"], "es"):
            models.answer(db, centre_id=node_id, learner_id=learner["id"], lesson=quiz,
                          question_id=question["id"], chosen=question["correct"], now=WHEN)
        assert models.find_certificate(db, learner["id"], COURSE)
        db.close()
        report = sync(node)
        assert report["quarantined"] == 0
        assert db_rows(hub_dir, "SELECT count(*), sum(done) FROM progress WHERE learner_id = ?",
                       [learner["id"]]) == [(4, 4)]
        assert db_rows(hub_dir, "SELECT score, passed FROM quiz_attempts") == [(100, 1)]
        assert db_rows(hub_dir, "SELECT centre_id FROM certificates") == [(node_id,)]

        # Version 2 at the hub: new words and a new lesson reach the centre; progress stays.
        write_pack(folder, version=2, lessons=("mouse", "keyboard", "windows", "internet"))
        infocentre(hub_dir, "content", "import", str(folder))
        sync(node)
        listed = json.loads(infocentre(node, "content", "list", "--json").stdout)[0]
        assert listed["version"] == 2 and listed["lessons"] == 5
        assert db_rows(node, "SELECT title FROM lesson_texts t JOIN lessons l ON l.id = "
                             "t.lesson_id WHERE l.key = 'mouse' AND t.lang = 'es'") == [
            ("Lección mouse (2)",)]
        db = open_db(node / "infocentre.db")
        state = models.course_state(db, learner["id"], COURSE, "es")
        assert [lesson["status"] for lesson in state["lessons"]] == [
            "done", "done", "done", "todo", "done"]
        assert state["certificate"]  # a certificate once earned stays
        db.close()
        # Nothing of the course ever goes back up from the centre.
        assert sync(node)["sent"] == 0
    finally:
        hub.stop()
