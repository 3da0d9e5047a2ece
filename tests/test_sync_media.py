"""Photos and recordings between centres and the hub (sync/README.md, "Media"): a real hub
server, real `infocentre sync now` processes. Blobs go once, follow the scope of the rows that
name them, resume after a cut (SIGKILL included) without starting the file over, and are checked
against their hash; the hub refuses every chunk that does not fit, changing nothing."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid

import pytest

from sync.client import HubClient
from sync.engine.clock import wall_ms
from sync.errors import Refused
from sync.media import CHUNK, Store

from .faults import Proxy
from .live import db_rows, infocentre, join_centre, start_demo_server

pytestmark = pytest.mark.live


def fake_photo(size: int, seed: int) -> bytes:
    """``size`` bytes that the store takes for a JPEG (its first bytes) and that never
    compress: a camera's file as far as moving it goes."""
    return b"\xff\xd8\xff\xe0" + hashlib.shake_256(str(seed).encode()).digest(size - 4)


def make_node(tmp_path, hub, name, hub_url=None):
    path = tmp_path / name
    return (path, *join_centre(hub.data_dir, path, name, hub_url or hub.url))


def person_with_photo(path, node_id, data: bytes, name="Rosa Quishpe") -> str:
    """An account of the centre whose photo is ``data``; the photo's SHA-256."""
    sha = Store(path / "media").add_bytes(data).sha
    with sqlite3.connect(path / "infocentre.db") as db:
        db.execute("INSERT INTO accounts (id, centre_id, name, role, photo, created_at, "
                   "updated_at) VALUES (?, ?, ?, 'villager', ?, datetime('now'), "
                   "datetime('now'))", [str(uuid.uuid4()), node_id, name, sha])
    return sha


def sync(path, **env) -> dict:
    result = infocentre(path, "sync", "now", "--json", env=env)
    return json.loads(result.stdout)


@pytest.fixture
def hub(tmp_path):
    server = start_demo_server(tmp_path / "hub", role="hub")
    yield server
    server.stop()


def test_a_photo_goes_up_once_and_stays_with_its_centre(tmp_path, hub):
    a, a_id, _ = make_node(tmp_path, hub, "centro-a")
    b, b_id, _ = make_node(tmp_path, hub, "centro-b")
    photo = fake_photo(200_000, 1)
    sha = person_with_photo(a, a_id, photo)

    first = sync(a)
    assert first["status"] == "synced" and first["blobs_sent"] == 1
    assert first["blob_bytes_sent"] == len(photo)  # in chunks, none twice
    assert Store(hub.data_dir / "media").path(sha).read_bytes() == photo
    again = sync(a)
    assert again["requests"] == 1 and again["blob_bytes_sent"] == 0  # nothing asked again

    # Accounts stay with their centre (scope owner): so does the photo.
    got = sync(b)
    assert not Store(b / "media").has(sha)
    # The pictures and recorded voices of the region's courses reach every centre.
    assert got["blobs_received"] == db_rows(
        hub.data_dir, "SELECT count(*) FROM (SELECT sha256 FROM course_media UNION "
                      "SELECT audio FROM voices WHERE audio IS NOT NULL)")[0][0] > 0

    # The same photo named by a second row is still one file, sent no more.
    person_with_photo(a, a_id, photo, name="Rosa Quishpe 2")
    assert sync(a)["blob_bytes_sent"] == 0


def test_a_centre_that_lost_its_media_gets_them_back_from_the_hub(tmp_path, hub):
    a, a_id, _ = make_node(tmp_path, hub, "centro-a")
    photo = fake_photo(3 * CHUNK + 10, 2)
    sha = person_with_photo(a, a_id, photo)
    sync(a)
    Store(a / "media").path(sha).unlink()  # a new disk, the database restored from a copy

    report = sync(a)
    assert report["blobs_received"] == 1 and report["blob_bytes_received"] == len(photo)
    assert Store(a / "media").path(sha).read_bytes() == photo
    assert sync(a)["requests"] == 1


def test_a_sync_killed_while_sending_a_large_photo_resumes_where_it_stopped(tmp_path, hub):
    """SIGKILL when the hub has stored some chunks (an event: the proxy holds back the hub's
    answer to one chunk); the next sync sends the rest, not the file again."""
    proxy = Proxy(int(hub.url.rsplit(":", 1)[1]), hold_at=10)
    try:
        a, a_id, _ = make_node(tmp_path, hub, "centro-a", f"http://127.0.0.1:{proxy.port}")
        photo = fake_photo(40 * CHUNK + 123, 3)
        sha = person_with_photo(a, a_id, photo)
        process = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--data-dir", str(a), "sync", "now", "--json"],
            env=os.environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Answers: the exchange, the question about blobs, then chunk after chunk.
        assert proxy.held.wait(60), "the tenth answer never came"
        process.kill()
        process.wait(10)
        at_hub = Store(hub.data_dir / "media").received(sha)
        assert 0 < at_hub < len(photo)

        report = sync(a, INFOCENTRE_HUB_URL=hub.url)
        assert report["status"] == "synced" and report["blobs_sent"] == 1
        # The chunk whose answer was lost may go again; nothing before it does.
        assert report["blob_bytes_sent"] <= len(photo) - at_hub + CHUNK
        assert Store(hub.data_dir / "media").path(sha).read_bytes() == photo
        for path in (a, hub.data_dir):
            assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]
    finally:
        proxy.close()


def test_a_photo_that_does_not_match_its_name_is_never_kept(tmp_path, hub):
    """The hub's copy went bad on its disk: the centre fetches it, finds the hash wrong, tries
    once more, and keeps nothing; the sync of the rows still succeeds."""
    a, a_id, _ = make_node(tmp_path, hub, "centro-a")
    photo = fake_photo(2 * CHUNK + 7, 8)
    sha = person_with_photo(a, a_id, photo)
    sync(a)
    Store(hub.data_dir / "media").path(sha).write_bytes(fake_photo(len(photo), 9))
    store = Store(a / "media")
    store.path(sha).unlink()

    report = sync(a)
    assert report["status"] == "synced" and report["blobs_received"] == 0
    assert report["blob_bytes_received"] == 2 * len(photo)  # fetched, refused, once again
    assert not store.has(sha) and store.received(sha) == 0


def test_a_download_cut_short_resumes_from_the_bytes_already_here(tmp_path, hub):
    a, a_id, _ = make_node(tmp_path, hub, "centro-a")
    photo = fake_photo(10 * CHUNK, 4)
    sha = person_with_photo(a, a_id, photo)
    sync(a)
    store = Store(a / "media")
    store.path(sha).unlink()
    # Six chunks arrived before the link went.
    store.write_chunk(sha, len(photo), 0, photo[:6 * CHUNK])

    report = sync(a)
    assert report["blob_bytes_received"] == 4 * CHUNK
    assert store.path(sha).read_bytes() == photo


def test_the_hub_refuses_chunks_that_do_not_fit_and_keeps_nothing_of_them(tmp_path, hub):
    a, a_id, a_token = make_node(tmp_path, hub, "centro-a")
    b, _b_id, b_token = make_node(tmp_path, hub, "centro-b")
    photo = fake_photo(3 * CHUNK, 5)
    sha = person_with_photo(a, a_id, photo)
    # The row goes up without its photo (kept aside meanwhile): the hub expects the file.
    kept = Store(a / "media").path(sha)
    kept.rename(tmp_path / "aside")
    sync(a)
    (tmp_path / "aside").rename(kept)
    hub_store = Store(hub.data_dir / "media")
    client = HubClient(hub.url, a_token)
    other = HubClient(hub.url, b_token)

    def refused(call) -> Refused:
        with pytest.raises(Refused) as caught:
            call()
        return caught.value

    try:
        # A gap: bytes from 64 KiB on, when the hub has none.
        gap = refused(lambda: client.put_blob(sha, len(photo), CHUNK, photo[CHUNK:2 * CHUNK],
                                              wall_ms()))
        assert (gap.code, gap.http_status, gap.extra["received"]) == ("offset", 409, 0)
        # Not a photo or a recording: a web page with a script.
        page = b"<html><script>alert(1)</script></html>"
        assert refused(lambda: client.put_blob(sha, len(page), 0, page, wall_ms())).code \
            == "unsupported"
        # Larger than any photo may be.
        assert refused(lambda: client.put_blob(sha, 10**9, 0, photo[:CHUNK], wall_ms())).code \
            == "too_large"
        # Another centre may not send, or fetch, a blob only centre A's rows name.
        assert refused(lambda: other.put_blob(sha, len(photo), 0, photo[:CHUNK],
                                              wall_ms())).code == "not_in_scope"
        hub_store.add_bytes(photo)
        assert refused(lambda: other.get_blob(sha, 0, wall_ms())).code == "missing"
        assert other.blobs([], [sha], wall_ms())["sizes"] == {}
        hub_store.path(sha).unlink()
        # Bytes that do not match the name: thrown away whole once the last one arrives.
        wrong = fake_photo(len(photo), 6)
        for offset in range(0, len(wrong) - CHUNK, CHUNK):
            client.put_blob(sha, len(wrong), offset, wrong[offset:offset + CHUNK], wall_ms())
        assert hub_store.received(sha) == len(wrong) - CHUNK
        mismatch = refused(lambda: client.put_blob(sha, len(wrong), len(wrong) - CHUNK,
                                                   wrong[-CHUNK:], wall_ms()))
        assert mismatch.code == "hash_mismatch" and mismatch.http_status == 422
        assert hub_store.received(sha) == 0 and not hub_store.has(sha)
        # Malformed questions.
        for body in ({"offer": "x"}, {"want": ["not-a-sha"]}, {"offer": [sha] * 1001}, [1]):
            assert refused(lambda b=body: client._signed(
                "POST", "/blobs", client._json_body(b), wall_ms())).code == "malformed"
        assert refused(lambda: client.get_blob("../../etc/passwd", 0, wall_ms())).http_status \
            in (400, 404)
    finally:
        client.close()
        other.close()
    # After all that, a real sync still puts the right file in place.
    report = sync(a)
    assert report["status"] == "synced"
    assert hub_store.path(sha).read_bytes() == photo
    assert not list((hub.data_dir / "media").glob("tmp/*"))


# Bundles: photos on a USB stick.


def bundle(path, *args) -> dict:
    return json.loads(infocentre(path, "bundle", *args, "--json").stdout)


def offline_pair(tmp_path):
    """A hub and a centre registered at it that never meet online (no server runs)."""
    hub_dir, a = tmp_path / "hub", tmp_path / "a"
    infocentre(hub_dir, "init", "--role", "hub", "--name", "Hub")
    return hub_dir, a, join_centre(hub_dir, a, "centro-a")[0]


def test_photos_travel_in_bundles_once_each_way_and_no_bigger_than_they_are(tmp_path):
    hub_dir, a, a_id = offline_pair(tmp_path)
    photos = [fake_photo(300_000 + i, 10 + i) for i in range(3)]
    shas = [person_with_photo(a, a_id, p, name=f"Persona {i}") for i, p in enumerate(photos)]

    exported = infocentre(a, "bundle", "export", str(tmp_path / "up.bundle"), "--json")
    assert "photo or recording 3/3" in exported.stderr  # progress, photo by photo
    up = json.loads(exported.stdout)
    assert up["blobs"] == 3 and up["blob_bytes"] == sum(map(len, photos))
    # The photos do not compress; the bundle is their bytes and a little more.
    assert up["bytes"] <= 1.1 * sum(map(len, photos)) + 2000
    first = bundle(hub_dir, "import", str(tmp_path / "up.bundle"))
    assert first["blobs"] == 3
    for sha, photo in zip(shas, photos):
        assert Store(hub_dir / "media").path(sha).read_bytes() == photo
    assert bundle(hub_dir, "import", str(tmp_path / "up.bundle"))["blobs"] == 0  # idempotent

    # The hub's answer says it has them: the next bundle from A does not carry them again.
    bundle(hub_dir, "export", "--for", a_id, str(tmp_path / "down.bundle"))
    bundle(a, "import", str(tmp_path / "down.bundle"))
    again = bundle(a, "export", str(tmp_path / "up2.bundle"))
    assert again["blobs"] == 0 and again["bytes"] < 2000


def test_a_photo_added_at_the_hub_reaches_its_centre_in_the_hubs_bundle(tmp_path):
    hub_dir, a, a_id = offline_pair(tmp_path)
    bundle(a, "export", str(tmp_path / "hello.bundle"))
    bundle(hub_dir, "import", str(tmp_path / "hello.bundle"))
    # Regional staff register the centre's new facilitator, with a photo, at the hub.
    photo = fake_photo(150_000, 20)
    sha = person_with_photo(hub_dir, a_id, photo, name="Facilitadora Nueva")

    down = bundle(hub_dir, "export", "--for", a_id, str(tmp_path / "down.bundle"))
    assert down["blobs"] == 1
    got = bundle(a, "import", str(tmp_path / "down.bundle"))
    assert got["blobs"] == 1
    assert Store(a / "media").path(sha).read_bytes() == photo
    assert db_rows(a, "SELECT photo FROM accounts WHERE name = 'Facilitadora Nueva'") == [(sha,)]


def test_a_bundle_waits_for_no_sync_it_refuses_while_one_runs(tmp_path):
    from sync.daemon import sync_lock

    _hub_dir, a, _a_id = offline_pair(tmp_path)
    with sync_lock(a):  # the daemon, in the middle of a sync
        busy = infocentre(a, "bundle", "export", str(tmp_path / "up.bundle"), check=False)
    assert busy.returncode == 1 and "Another sync of this centre is running" in busy.stderr
    assert not (tmp_path / "up.bundle").exists()
    assert infocentre(a, "bundle", "export", str(tmp_path / "up.bundle")).returncode == 0
