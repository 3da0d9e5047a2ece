"""Media no row names any more leave the disks: a real hub served by ``infocentre serve``, two
centres set up with the real command line and synced by the real client (``run_sync``), stories
written through the stories' models inside an app context, as the pages and commands write
them (so the sweep at the end of each runs). A is the teller's centre, B another centre.

A story narrowed leaves B with its files and thumbnails; withdrawn, it leaves A at once, and the
hub once every centre has pulled the deletion (or at the purge horizon, or when the silent
centre is revoked); it never comes back. A blob another row still names is kept."""

from __future__ import annotations

import io
import os
import sqlite3
import time
from pathlib import Path

import pytest

from kiosk import create_app
from kiosk.data import get_db, open_db, utcnow
from kiosk.media import sweep, thumbnail
from kiosk.stories import models
from kiosk.syncing import run_sync
from sync.media import Store

from .live import db_rows, infocentre, join_centre, start_server

OGG = (Path(__file__).parent.parent / "content" / "demo" / "voices" / "turn-off.qu_EC.ogg"
       ).read_bytes()
TELLER = {"id": "", "name": "Rosa Guamán"}


def jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


def on_disk(data_dir: Path, sha: str) -> bool:
    return (data_dir / "media" / sha[:2] / sha).is_file()


def thumbs(data_dir: Path, sha: str) -> list[Path]:
    return sorted((data_dir / "media" / "thumbs").glob(f"*/{sha[:2]}/{sha}*"))


class Centre:
    """An installation made with the real command line, and its app (the real sync client, and
    the app context its pages and commands write in)."""

    def __init__(self, path: Path, centre_id: str):
        self.path, self.id = path, centre_id
        self.app = create_app({"DATA_DIR": str(path)})
        self.store = Store(path / "media")

    def sync(self) -> dict:
        report = run_sync(self.app).as_dict()
        assert report["status"] == "synced" and report["quarantined"] == 0, report
        return report

    def tell(self, title: str, photo: bytes, *, consent: str = "region",
             audio: bytes | None = OGG) -> tuple[str, str, str | None]:
        """An approved story with a photo (and a recording); its id and SHA-256s."""
        photo_sha = self.store.add_bytes(photo).sha
        voice = self.store.add_bytes(audio) if audio else None
        with self.app.app_context():
            db = get_db()
            story = models.save_story(
                db, centre_id=self.id, by=TELLER, now=utcnow(), reviewer=True,
                photos=[photo_sha],
                audio=voice and {"sha": voice.sha, "kind": voice.kind, "bytes": voice.size,
                                 "seconds": 12},
                fields={"title": title, "teller_name": "Rosa Guamán", "village": "Guamote",
                        "when": "1970s", "lang": "es", "tags": "fiesta", "consent": consent})
            models.review(db, centre_id=self.id, story_id=story, action="approve", note="",
                          by=TELLER, now=utcnow())
        return story, photo_sha, voice and voice.sha

    def consent(self, story: str, consent: str) -> None:
        with self.app.app_context():
            models.set_consent(get_db(), centre_id=self.id, story_id=story, consent=consent,
                               by=TELLER, now=utcnow())

    def thumbnail(self, sha: str) -> None:
        with self.app.app_context():
            thumbnail(sha, 320)
            thumbnail(sha, 96)

    def stories(self) -> list[str]:
        return [r[0] for r in db_rows(self.path, "SELECT id FROM stories ORDER BY id")]


class Region:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.hub_dir = tmp_path / "hub"
        infocentre(self.hub_dir, "init", "--role", "hub", "--name", "Hub Sierra Centro")
        self.server = start_server(self.hub_dir)
        self.a = self.centre("Centro Guamote")
        self.b = self.centre("Centro Colta")

    def centre(self, name: str) -> Centre:
        path = self.tmp / name.replace(" ", "-")
        node_id, _token = join_centre(self.hub_dir, path, name, self.server.url)
        return Centre(path, node_id)

    def hub_stories(self) -> list[str]:
        return [r[0] for r in db_rows(self.hub_dir, "SELECT id FROM stories ORDER BY id")]

    def shared_story(self, photo_colour=(200, 40, 40)) -> tuple[str, str, str]:
        """A story approved under ``region`` at A that has reached B with its files."""
        story, photo, audio = self.a.tell("La fiesta del maíz", jpeg(photo_colour))
        self.a.sync()
        received = self.b.sync()
        assert received["blobs_received"] == 2
        assert story in self.b.stories()
        for sha in (photo, audio):
            assert on_disk(self.b.path, sha) and on_disk(self.hub_dir, sha)
        self.b.thumbnail(photo)
        assert len(thumbs(self.b.path, photo)) == 2
        return story, photo, audio

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def region(tmp_path):
    made = Region(tmp_path)
    yield made
    made.close()


@pytest.mark.live
def test_a_story_narrowed_leaves_the_other_centre_with_its_files(region):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()

    a.consent(story, "centre")
    a.sync()
    b.sync()
    assert story not in b.stories()
    assert not on_disk(b.path, photo) and not on_disk(b.path, audio)
    assert thumbs(b.path, photo) == []
    # It is still the teller's centre's, and in the hub's archive, files and all.
    assert story in a.stories() and story in region.hub_stories()
    for sha in (photo, audio):
        assert on_disk(a.path, sha) and on_disk(region.hub_dir, sha)

    # Widened again, it comes back to B whole, its files too.
    a.consent(story, "region")
    a.sync()
    assert b.sync()["blobs_received"] == 2
    assert story in b.stories() and on_disk(b.path, photo) and on_disk(b.path, audio)


@pytest.mark.live
def test_a_story_withdrawn_leaves_everywhere_and_never_comes_back(region):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.thumbnail(photo)

    a.consent(story, "withdrawn")
    # At the teller's centre, at once: the page's (or command's) own end deletes them.
    assert story not in a.stories()
    assert not on_disk(a.path, photo) and not on_disk(a.path, audio)
    assert thumbs(a.path, photo) == []

    a.sync()
    assert story not in region.hub_stories()
    # B has not pulled the deletion: the hub keeps the files it may still ask for.
    assert on_disk(region.hub_dir, photo) and on_disk(region.hub_dir, audio)
    b.sync()
    assert story not in b.stories()
    assert not on_disk(b.path, photo) and not on_disk(b.path, audio)
    assert thumbs(b.path, photo) == []
    assert on_disk(region.hub_dir, photo), "B has not yet said it has pulled it"
    # Each centre's next exchange says how far it has pulled: then the hub deletes them.
    a.sync()
    b.sync()
    assert not on_disk(region.hub_dir, photo) and not on_disk(region.hub_dir, audio)
    assert db_rows(region.hub_dir, "SELECT count(*) FROM _sync_media_orphans") == [(0,)]

    # Never back: B offline for a while, then syncing; A syncing again.
    b.sync()
    a.sync()
    for place in (a.path, b.path, region.hub_dir):
        assert db_rows(place, "SELECT count(*) FROM stories WHERE id = ?", [story]) == [(0,)]
        assert db_rows(place, "SELECT count(*) FROM story_photos WHERE story_id = ?",
                       [story]) == [(0,)]
        assert not on_disk(place, photo) and not on_disk(place, audio)


@pytest.mark.live
def test_the_hub_deletes_at_the_purge_horizon_what_a_silent_centre_never_pulled(region):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.consent(story, "withdrawn")
    a.sync()
    a.sync()
    assert on_disk(region.hub_dir, photo), "B is silent: the hub waits"
    infocentre(region.hub_dir, "sync", "purge", "--days", "90")
    assert on_disk(region.hub_dir, photo), "not yet at the horizon"

    # Ninety-one days later: the hub noted when the blob stopped being named, and the files
    # were stored before that.
    hub = open_db(region.hub_dir / "infocentre.db")
    try:
        hub.execute("UPDATE _sync_media_orphans SET at_ms = at_ms - 91 * 86400000")
        hub.conn.commit()
    finally:
        hub.close()
    for sha in (photo, audio):
        months_ago = time.time() - 92 * 86400
        os.utime(region.hub_dir / "media" / sha[:2] / sha, (months_ago, months_ago))
    infocentre(region.hub_dir, "sync", "purge", "--days", "90")
    assert not on_disk(region.hub_dir, photo) and not on_disk(region.hub_dir, audio)

    # B comes back: the story and its files go there too, and nothing goes back up.
    b.sync()
    assert story not in b.stories() and not on_disk(b.path, photo)
    a.sync()
    assert not on_disk(region.hub_dir, photo) and story not in region.hub_stories()


@pytest.mark.live
def test_revoking_a_silent_centre_lets_the_hub_delete_what_it_waited_for(region):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.consent(story, "withdrawn")
    a.sync()
    a.sync()
    assert on_disk(region.hub_dir, photo) and on_disk(region.hub_dir, audio)

    infocentre(region.hub_dir, "hub", "revoke-node", b.id)
    assert not on_disk(region.hub_dir, photo) and not on_disk(region.hub_dir, audio)
    # A's files went at once; B's copy stays on B's disk (it can no longer sync at all).
    assert not on_disk(a.path, photo)


@pytest.mark.live
def test_a_blob_deleted_everywhere_goes_up_again_when_a_new_row_names_it(region):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.consent(story, "withdrawn")
    for centre in (a, b, a, b):
        centre.sync()
    assert not any(on_disk(p, photo) for p in (a.path, b.path, region.hub_dir))
    # A confirmed it once; it must not trust that confirmation now.
    assert db_rows(a.path, "SELECT count(*) FROM _sync_blobs_at_hub WHERE sha = ?",
                   [photo]) == [(0,)]

    # The same photo told again in a new story, with the same recording.
    again, same_photo, same_audio = a.tell("La fiesta, otra vez", jpeg((200, 40, 40)))
    assert (same_photo, same_audio) == (photo, audio)
    assert a.sync()["blobs_sent"] == 2
    assert on_disk(region.hub_dir, photo) and on_disk(region.hub_dir, audio)
    assert b.sync()["blobs_received"] == 2
    assert again in b.stories() and on_disk(b.path, photo)


@pytest.mark.live
def test_a_blob_the_hub_deleted_is_sent_again_though_the_centre_kept_its_confirmation(region):
    """A second story naming the photo was written at A before the first was withdrawn, but
    reached the hub after the hub had deleted the photo (as when a sync's batches split them):
    the hub's acknowledgement names the blob it lacks, and A sends it again."""
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.consent(story, "withdrawn")
    for centre in (a, b, a, b):
        centre.sync()
    assert not on_disk(region.hub_dir, photo)
    # What A would believe had the second story kept the photo named at A meanwhile.
    again, _photo, _audio = a.tell("Otra fiesta", jpeg((200, 40, 40)), audio=None)
    adb = open_db(a.path / "infocentre.db")
    try:
        adb.execute("INSERT OR IGNORE INTO _sync_blobs_at_hub (sha) VALUES (?)", [photo])
        adb.conn.commit()
    finally:
        adb.close()
    assert a.sync()["blobs_sent"] == 1
    assert on_disk(region.hub_dir, photo)
    assert b.sync()["blobs_received"] == 1 and on_disk(b.path, photo)


@pytest.mark.live
def test_a_hub_bundle_brings_the_deletion_and_the_centre_deletes_the_files(region, tmp_path):
    a, b = region.a, region.b
    story, photo, audio = region.shared_story()
    a.consent(story, "withdrawn")
    a.sync()
    bundle = tmp_path / "for-colta.bundle"
    infocentre(region.hub_dir, "bundle", "export", "--for", b.id, str(bundle))
    infocentre(b.path, "bundle", "import", str(bundle))
    assert story not in b.stories()
    assert not on_disk(b.path, photo) and not on_disk(b.path, audio)
    assert thumbs(b.path, photo) == []


# One installation, no hub: the sweep's own rules.


def test_a_photo_two_stories_share_is_kept_until_neither_names_it(app):
    store = Store(Path(app.config["DATA_DIR"]) / "media")
    centre = app.config["CENTRE_ID"]
    photo = store.add_bytes(jpeg((10, 120, 30))).sha
    ids = []
    with app.app_context():
        for title in ("El puente", "El puente nuevo"):
            ids.append(models.save_story(
                get_db(), centre_id=centre, by=TELLER, now=utcnow(), photos=[photo],
                fields={"title": title, "teller_name": "Rosa", "consent": "centre"}))
    with app.app_context():
        thumbnail(photo, 320)
        models.set_consent(get_db(), centre_id=centre, story_id=ids[0], consent="withdrawn",
                           by=TELLER, now=utcnow())
    assert store.has(photo), "the other story still shows it"
    assert thumbs(Path(app.config["DATA_DIR"]), photo)
    with app.app_context():
        models.set_consent(get_db(), centre_id=centre, story_id=ids[1], consent="withdrawn",
                           by=TELLER, now=utcnow())
    assert not store.has(photo)
    assert thumbs(Path(app.config["DATA_DIR"]), photo) == []


def test_no_blob_leaves_while_a_backup_copies_them_and_the_next_sweep_takes_it(app):
    """A backup copies the database, then the blobs it names: a photo un-named in between
    must still be there to copy (``Store.keeping``)."""
    store = Store(Path(app.config["DATA_DIR"]) / "media")
    centre = app.config["CENTRE_ID"]
    photo = store.add_bytes(jpeg((90, 90, 200))).sha
    with app.app_context():
        story = models.save_story(get_db(), centre_id=centre, by=TELLER, now=utcnow(),
                                  photos=[photo], fields={"title": "La cosecha",
                                                          "teller_name": "Rosa",
                                                          "consent": "centre"})
    with store.keeping():
        with app.app_context():
            models.set_consent(get_db(), centre_id=centre, story_id=story, consent="withdrawn",
                               by=TELLER, now=utcnow())
        assert store.has(photo), "the backup still copies it"
    with app.app_context():
        assert sweep(get_db()) == [photo]
    assert not store.has(photo)


def test_a_photo_replaced_or_stored_again_for_a_new_row(app):
    """A media column given another value un-names the old blob; a blob stored again after
    it stopped being named (a page about to save a row naming it) is kept."""
    store = Store(Path(app.config["DATA_DIR"]) / "media")
    centre = app.config["CENTRE_ID"]
    first = store.add_bytes(jpeg((1, 2, 3))).sha
    second = store.add_bytes(jpeg((200, 2, 3))).sha
    with app.app_context():
        db = get_db()
        story = models.save_story(db, centre_id=centre, by=TELLER, now=utcnow(),
                                  photos=[first], fields={"title": "Uno", "teller_name": "Rosa",
                                                          "consent": "centre"})
        db.execute("UPDATE story_photos SET photo = ? WHERE story_id = ?", [second, story])
        db.conn.commit()
    assert not store.has(first) and store.has(second)

    # Un-named, then stored again before the sweep runs (a page storing it for a new row).
    db = open_db(app.config["DATABASE"])
    try:
        db.execute("DELETE FROM story_photos WHERE story_id = ?", [story])
        db.conn.commit()
        time.sleep(0.01)
        store.add_bytes(jpeg((200, 2, 3)))
    finally:
        db.close()
    with app.app_context():
        get_db().execute("UPDATE stories SET title = 'Dos' WHERE id = ?", [story])
        get_db().conn.commit()
    assert store.has(second)
    assert db_rows(Path(app.config["DATA_DIR"]),
                   "SELECT count(*) FROM _sync_media_orphans") == [(0,)]


def test_the_media_triggers_note_what_changes_applied_from_elsewhere_un_name(db):
    """The triggers fire while the engine applies changes too (capture is silent then)."""
    db.execute("UPDATE _sync_state SET applying = 1")
    try:
        db.execute("INSERT INTO stories (id, centre_id, audio) VALUES ('s1', 'other', ?)",
                   ["a" * 64])
        db.execute("UPDATE stories SET audio = ? WHERE id = 's1'", ["b" * 64])
        db.execute("DELETE FROM stories WHERE id = 's1'")
    finally:
        db.execute("UPDATE _sync_state SET applying = 0")
    assert sorted(r[0] for r in db.execute("SELECT sha FROM _sync_media_orphans")) == [
        "a" * 64, "b" * 64]
    with pytest.raises(sqlite3.IntegrityError):  # only ever one line per blob
        db.execute("INSERT INTO _sync_media_orphans (sha, at_ms) VALUES (?, 0)", ["a" * 64])

