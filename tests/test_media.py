"""The media store (sync/media.py) and photos at a centre (kiosk/media.py): stored once by
SHA-256, recognised by their bytes, limited per kind, received in resumable chunks checked
against their hash; a person's photo is shrunk and stripped of its metadata before it is kept,
and pages get thumbnails made here, never the original."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from kiosk.auth import models as accounts
from sync import media
from sync.errors import MediaError
from sync.media import CHUNK, Store

from .conftest import SignIn
from .factories import PIN, make_account


def jpeg(width=2400, height=1800, *, orientation=None, colour=(200, 80, 40)) -> bytes:
    """A camera-like JPEG: large, with GPS-like metadata and (optionally) an EXIF rotation."""
    image = Image.new("RGB", (width, height), colour)
    for x in range(0, width, 40):  # some detail, so it is not a flat colour
        image.paste((x % 255, 120, 30), (x, 0, x + 20, height))
    exif = Image.Exif()
    exif[0x010F] = "Telefono de prueba"  # Make
    exif[0x8825] = {2: (1.0, 40.0, 0.0)}  # GPSInfo: where it was taken
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


# The store.


def test_a_blob_is_stored_once_under_its_sha256(tmp_path):
    store = Store(tmp_path / "media")
    data = jpeg(64, 48)
    first, second = store.add_bytes(data), store.add_bytes(data)
    assert first == second and first.sha == hashlib.sha256(data).hexdigest()
    assert first.kind == "image/jpeg" and first.size == len(data)
    assert [p.name for p in (tmp_path / "media").rglob("*") if p.is_file()] == [first.sha]


@pytest.mark.parametrize("data, code", [
    (b"", "unsupported"),
    (b"<script>alert('x')</script>", "unsupported"),
    (b"%PDF-1.7 a document", "unsupported"),
    ("texto en español".encode("latin-1"), "unsupported"),
])
def test_files_that_are_not_photos_or_recordings_are_not_kept(tmp_path, data, code):
    store = Store(tmp_path / "media")
    with pytest.raises(MediaError) as caught:
        store.add_bytes(data)
    assert caught.value.code == code
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]


def test_each_kind_has_its_size_limit(tmp_path, monkeypatch):
    monkeypatch.setitem(media.LIMITS, "image/png", 1000)
    store = Store(tmp_path / "media")
    with pytest.raises(MediaError) as caught:
        store.add_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2000))
    assert caught.value.code == "too_large" and caught.value.http_status == 413
    assert store.add_bytes(b"OggS" + bytes(2000)).kind == "audio/ogg"  # its own limit
    assert not list((tmp_path / "media" / "tmp").iterdir())


def test_chunks_resume_repeat_and_are_checked_against_the_hash(tmp_path):
    store = Store(tmp_path / "media")
    data = b"\xff\xd8\xff" + bytes(range(256)) * 700
    sha = hashlib.sha256(data).hexdigest()
    assert store.write_chunk(sha, len(data), 0, data[:CHUNK]) == CHUNK
    assert store.write_chunk(sha, len(data), 0, data[:CHUNK]) == CHUNK  # a resend: harmless
    with pytest.raises(MediaError) as gap:
        store.write_chunk(sha, len(data), 2 * CHUNK, data[2 * CHUNK:3 * CHUNK])
    assert gap.value.code == "offset" and gap.value.extra["received"] == CHUNK
    assert store.write_chunk(sha, len(data), CHUNK, data[CHUNK:2 * CHUNK]) == 2 * CHUNK
    # A late copy of the first chunk (a dead connection's, delivered after the link came back)
    # does not cut what arrived since; one overlapping the end adds only its new bytes.
    assert store.write_chunk(sha, len(data), 0, data[:CHUNK]) == 2 * CHUNK
    assert store.write_chunk(sha, len(data), CHUNK, data[CHUNK:]) == len(data)
    assert store.has(sha) and store.path(sha).read_bytes() == data
    assert store.received(sha) == len(data)

    wrong = b"\xff\xd8\xff" + bytes(100)
    with pytest.raises(MediaError) as mismatch:
        store.write_chunk("0" * 64, len(wrong), 0, wrong)
    assert mismatch.value.code == "hash_mismatch"
    assert not store.has("0" * 64) and store.received("0" * 64) == 0
    with pytest.raises(ValueError):
        store.path("../../config.json")


# A person's photo at the centre.


@pytest.fixture
def facilitator(app, db):
    person = make_account(db, app.config["CENTRE_ID"], role="facilitator", name="Lucía Andrango")
    client = app.test_client()
    SignIn(client).pin(person, PIN)
    return client


def post_photo(client, account_id, data: bytes | None, filename="foto.jpg", action="save"):
    form = {"csrf_token": SignIn(client).token(), "action": action}
    if data is not None:
        form["photo"] = (io.BytesIO(data), filename)
    return client.post(f"/auth/people/{account_id}/photo", data=form,
                       content_type="multipart/form-data")


def test_a_facilitator_gives_a_person_a_photo_kept_small_upright_and_private(app, db,
                                                                            facilitator):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe")
    # Taken with the phone turned: stored 2400 wide, to be shown 1800 wide.
    response = post_photo(facilitator, rosa["id"], jpeg(orientation=6))
    assert response.status_code == 302
    sha = accounts.find_account(db, rosa["id"])["photo"]
    kept = Store(Path(app.config["DATA_DIR"]) / "media").path(sha)
    with Image.open(kept) as image:
        assert image.format == "JPEG" and image.size == (1200, 1600)  # upright, ≤ 1600 px
        assert not image.getexif()  # no camera, no place
    assert kept.stat().st_size < 400_000

    # Pages show thumbnails made here; the sign-in list shows the photo.
    names = facilitator.get("/auth/signin").get_data(as_text=True)
    assert f'src="/media/{sha}/96"' in names
    thumb = facilitator.get(f"/media/{sha}/96")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert "max-age=31536000" in thumb.headers["Cache-Control"]
    with Image.open(io.BytesIO(thumb.data)) as image:
        assert image.size == (96, 96)
    with Image.open(io.BytesIO(facilitator.get(f"/media/{sha}/800").data)) as image:
        assert image.size == (600, 800)
    assert facilitator.get(f"/media/{sha}").data == kept.read_bytes()

    assert post_photo(facilitator, rosa["id"], None, action="remove").status_code == 302
    assert accounts.find_account(db, rosa["id"])["photo"] is None
    assert "/media/" not in facilitator.get("/auth/signin").get_data(as_text=True)


def big_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")  # tiny file, enormous picture
    return out.getvalue()


@pytest.mark.parametrize("data, filename, message", [
    (b"", "foto.jpg", "Choose a photo first."),
    (b"<script>alert(1)</script>", "foto.jpg", "This file is not a photo we can read."),
    (jpeg(64, 48)[:300], "foto.jpg", "This file is not a photo we can read."),
    (b"GIF89a" + bytes(100), "foto.gif", "This file is not a photo we can read."),
    (big_png(10_000, 6_000), "mapa.png", "This photo is too large to use."),
])
def test_what_is_not_a_usable_photo_is_refused_and_nothing_changes(app, db, facilitator,
                                                                   data, filename, message):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe")
    response = post_photo(facilitator, rosa["id"], data, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert accounts.find_account(db, rosa["id"])["photo"] is None
    stored = Path(app.config["DATA_DIR"]) / "media"
    assert not [p for p in stored.rglob("*") if p.is_file()]


def test_a_photo_larger_than_a_request_may_be_is_refused_in_words(app, db, facilitator):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe")
    response = post_photo(facilitator, rosa["id"], b"\xff\xd8\xff" + bytes(17 * 1024 * 1024))
    assert response.status_code == 413
    assert "too big" in response.get_data(as_text=True)
    assert accounts.find_account(db, rosa["id"])["photo"] is None


def test_a_recording_has_no_thumbnail_but_plays_from_its_address(app, client):
    sha = Store(Path(app.config["DATA_DIR"]) / "media").add_bytes(b"OggS" + bytes(5000)).sha
    assert client.get(f"/media/{sha}/96").status_code == 404
    recording = client.get(f"/media/{sha}", headers={"Range": "bytes=0-3"})
    assert recording.status_code == 206 and recording.data == b"OggS"
    assert recording.mimetype == "audio/ogg"


def test_media_addresses_that_name_nothing_answer_404(client):
    for path in ("/media/" + "a" * 64, "/media/" + "a" * 64 + "/96", "/media/nothing/96",
                 "/media/..%2f..%2fconfig.json", "/media/" + "a" * 64 + "/97"):
        assert client.get(path).status_code == 404


def test_only_people_who_manage_people_set_photos(app, db):
    villager = make_account(db, app.config["CENTRE_ID"], name="Pedro Lema")
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe")
    client = app.test_client()
    helper = SignIn(client)
    helper.pin(villager, PIN)
    response = client.post(f"/auth/people/{rosa['id']}/photo", data={
        "csrf_token": helper.token(), "photo": (io.BytesIO(jpeg(64, 48)), "f.jpg")},
        content_type="multipart/form-data")
    assert response.status_code == 403
    assert accounts.find_account(db, rosa["id"])["photo"] is None
