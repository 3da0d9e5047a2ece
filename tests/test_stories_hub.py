"""The hub's stories for the regional staff: the collection's filters, marking stories collected
several at once, who may open these pages (a centre has none of them), the export made in the
background from the page, the podcast feed read as XML, and the radio export's loudness measured
by our own meter (``tests/sounds.py``), not the FFmpeg one the export uses."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from kiosk.stories import radio
from sync.media import Store

from . import sounds
from .conftest import csrf_from
from .factories import PASSWORD, WHEN, count, make_account, make_centre, told_story

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def staff(hub_app, hub_db, hub_sign_in):
    """A regional staff member signed in at the hub."""
    person = make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional",
                          name="Patricia Vega")
    assert hub_sign_in.password("Patricia Vega", PASSWORD).status_code == 302
    return person


@pytest.fixture
def region(hub_db):
    one, two = make_centre(hub_db, "Centro Uno"), make_centre(hub_db, "Centro Dos")
    return {"one": one, "two": two,
            "a": told_story(hub_db, one, title="Historia A", consent="region"),
            "b": told_story(hub_db, one, title="Historia B", consent="public",
                            status="pending"),
            "c": told_story(hub_db, two, title="Historia C", consent="centre",
                            status="hidden"),
            "d": told_story(hub_db, two, title="Historia D", consent="public")}


def titles(page) -> set[str]:
    html = page.get_data(as_text=True)
    table = html[html.index("<tbody>"):html.index("</tbody>")] if "<tbody>" in html else ""
    return set(re.findall(r"Historia [A-Z]", table))


# The collection.


@pytest.mark.parametrize("query, shown", [
    ("", {"Historia A", "Historia B", "Historia C", "Historia D"}),
    ("?centre=CENTRE_TWO", {"Historia C", "Historia D"}),
    ("?status=pending", {"Historia B"}),
    ("?consent=public", {"Historia B", "Historia D"}),
    ("?status=approved&consent=public", {"Historia D"}),
    ("?status=nonsense", {"Historia A", "Historia B", "Historia C", "Historia D"}),
])
def test_collection_filters(hub_client, staff, region, query, shown):
    page = hub_client.get("/stories/collection" + query.replace("CENTRE_TWO", region["two"]))
    assert page.status_code == 200 and titles(page) == shown


def test_several_stories_marked_collected_at_once_then_filtered(hub_client, hub_db, staff,
                                                                region):
    token = csrf_from(hub_client.get("/stories/collection"))
    answer = hub_client.post("/stories/collection/mark?consent=public", data={
        "csrf_token": token, "story": [region["a"], region["d"]], "action": "collect"})
    assert answer.status_code == 302
    assert answer.location.endswith("/stories/collection?consent=public")
    assert count(hub_db, "story_collected") == 2
    assert "2 stories marked as collected." in hub_client.get(answer.location).get_data(
        as_text=True)
    assert titles(hub_client.get("/stories/collection?collected=yes")) == {"Historia A",
                                                                           "Historia D"}
    assert titles(hub_client.get("/stories/collection?collected=no")) == {"Historia B",
                                                                          "Historia C"}
    hub_client.post("/stories/collection/mark", data={
        "csrf_token": token, "story": [region["a"]], "action": "uncollect"})
    assert [r[0] for r in hub_db.execute("SELECT story_id FROM story_collected")] == [
        region["d"]]


@pytest.mark.parametrize("data, message", [
    ({"action": "collect"}, "Tick the stories to mark first."),
    ({"action": "destroy", "story": ["STORY"]}, "Choose to mark the stories as collected"),
    ({"action": "collect", "story": ["x" * 65]}, "Mark at most 500 stories at once."),
    ({"action": "collect", "story": ["STORY"], "csrf_token": ""}, "This page has expired"),
])
def test_bad_marks_change_nothing_and_say_why(hub_client, hub_db, staff, region, data,
                                              message):
    token = csrf_from(hub_client.get("/stories/collection"))
    form = {"csrf_token": token, **data}
    form["story"] = [region["a"] if s == "STORY" else s for s in form.get("story", [])]
    answer = hub_client.post("/stories/collection/mark?status=approved", data=form)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert count(hub_db, "story_collected") == 0


HUB_PAGES = ["/stories/collection", "/stories/export", "/stories/export/some-job",
             "/stories/export/some-job/download", "/stories/feed.xml"]


@pytest.mark.parametrize("path", HUB_PAGES)
def test_a_centre_has_none_of_the_hubs_pages(client, app, db, sign_in, path):
    assert client.get(path).status_code == 404
    make_account(db, app.config["CENTRE_ID"], role="admin", name="Admin", pin="2468")
    admin = db.execute("SELECT * FROM accounts WHERE name = 'Admin'").fetchone()
    sign_in.pin({"id": admin[0]}, "2468")
    assert client.get(path).status_code == 404
    assert client.post("/stories/collection/mark").status_code in (400, 404, 405)


@pytest.mark.parametrize("path", HUB_PAGES[:-1])
def test_the_hub_asks_who_it_is_first(hub_client, path):
    answer = hub_client.get(path)
    assert answer.status_code == 302 and "/auth/signin" in answer.location


def test_the_feed_is_for_anyone(hub_client):
    assert hub_client.get("/stories/feed.xml").status_code == 200


# Exports from the page.


def wait_for(client, url: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(url, headers={"Accept": "application/json"}).get_json()
        if job["state"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the export did not end")


def test_export_runs_in_the_background_and_is_downloaded(hub_client, staff, region):
    page = hub_client.get("/stories/export")
    answer = hub_client.post("/stories/export", data={"csrf_token": csrf_from(page),
                                                      "consent": "public", "centre": ""})
    assert answer.status_code == 302 and "/stories/export/" in answer.location
    job = wait_for(hub_client, answer.location)
    assert job["state"] == "done" and job["percent"] == 100
    assert (job["done"], job["total"]) == (1, 1)  # D only: B waits for review
    html = hub_client.get(answer.location).get_data(as_text=True)
    assert "1 story in the file." in html and job["download"] in html
    download = hub_client.get(job["download"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert 'filename=stories-public-2026-11-23.zip' in download.headers["Content-Disposition"]
    catalogue = json.loads(zipfile.ZipFile(io.BytesIO(download.data)).read("catalogue.json"))
    assert [s["dc:title"] for s in catalogue["stories"]] == ["Historia D"]


@pytest.mark.parametrize("form, status, message", [
    ({"consent": "centre"}, 400, "Choose what to export"),
    ({"consent": "region", "centre": "nowhere"}, 400, "There is no such centre in the region."),
    ({"consent": "public", "csrf_token": ""}, 400, "This page has expired"),
])
def test_bad_export_choices_start_nothing(hub_app, hub_client, staff, region, form, status,
                                         message):
    token = csrf_from(hub_client.get("/stories/export"))
    answer = hub_client.post("/stories/export", data={"csrf_token": token, **form})
    assert answer.status_code == status and message in answer.get_data(as_text=True)
    assert not hub_app.extensions.get("stories_jobs", {}).get("jobs")
    assert not list((Path(hub_app.config["DATA_DIR"]) / "exports").glob("*"))


def test_an_unknown_export_is_not_found(hub_client, staff):
    assert hub_client.get("/stories/export/nope").status_code == 404
    assert hub_client.get("/stories/export/nope/download").status_code == 404


# The podcast feed.


def test_feed_lists_approved_public_recordings_as_valid_rss(hub_app, hub_client, hub_db,
                                                            hub_dir):
    one = make_centre(hub_db, "Centro Uno")
    voice = sounds.encode(sounds.signal(0.5, -20), "ogg")
    title = "<script>alert('x')</script> & la minga"
    heard = told_story(hub_db, one, title=title, consent="public", audio=voice,
                       transcript="Era así: <b>", teller_name="Mama Rosa")
    told_story(hub_db, one, title="Solo la región", consent="region", audio=voice + b"1")
    told_story(hub_db, one, title="Esperando", consent="public", status="pending",
               audio=voice + b"2")
    told_story(hub_db, one, title="Sin voz", consent="public")
    gone = told_story(hub_db, one, title="Aún no llega", consent="public", audio=voice + b"3")
    sha = hub_db.execute("SELECT audio FROM stories WHERE id = ?", [gone]).fetchone()[0]
    Store(hub_dir / "media").path(sha).unlink()

    answer = hub_client.get("/stories/feed.xml")
    assert answer.status_code == 200 and answer.mimetype == "application/rss+xml"
    assert b"<script>" not in answer.data
    rss = ET.fromstring(answer.data)
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("title") == "Stories of our villages: Hub Regional"
    assert channel.findtext("description").startswith("Memories of the villages")
    assert channel.findtext("language") == "en" and channel.findtext("link")
    items = channel.findall("item")
    assert [i.findtext("title") for i in items] == [title]
    item = items[0]
    assert "Era así: <b>" in item.findtext("description")
    assert item.findtext("guid") == f"urn:uuid:{heard}"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Mama Rosa"
    assert item.findtext("pubDate") == "Mon, 23 Nov 2026 15:00:00 +0000"
    enclosure = item.find("enclosure")
    assert enclosure.get("type") == "audio/ogg" and enclosure.get("length") == str(len(voice))
    url = enclosure.get("url")
    assert url.startswith("http://") and url.endswith("/media/" + sounds_sha(voice))
    assert hub_client.get(url[url.index("/media/"):]).data == voice


def sounds_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# The radio export.


def test_radio_export_brings_every_recording_to_minus_16_lufs(hub_db, hub_dir, tmp_path):
    one = make_centre(hub_db, "Centro Uno")
    made = {  # different kinds and levels, as centres send them
        "Quiet tone": sounds.encode(sounds.signal(4, -38), "ogg"),
        "Loud noise": sounds.encode(sounds.signal(4, -1, kind="noise"), "wav"),
        "Speech-like bursts": sounds.encode(sounds.signal(4, -4, kind="bursts"), "mp3"),
    }
    for title, data in made.items():
        told_story(hub_db, one, title=title, consent="public", audio=data,
                   teller_name="Mama Rosa")
        assert abs(sounds.loudness(sounds.decode(data)) + 16) > 5  # far from it before
    told_story(hub_db, one, title="Only the region", consent="region", audio=made["Quiet tone"]
               + b"x")
    broken = told_story(hub_db, one, title="Broken", consent="public",
                        audio=b"OggS" + bytes(200))
    target = tmp_path / "radio.zip"
    seen = []
    done = radio.export_radio(hub_db, Store(hub_dir / "media"), target, now=WHEN,
                              progress=lambda d, t: seen.append((d, t)))
    assert done["stories"] == 3 and [s["id"] for s in done["skipped"]] == [broken]
    assert seen[-1] == (4, 4)

    archive = zipfile.ZipFile(target)
    files = [n for n in archive.namelist() if n.endswith(".mp3")]
    assert sorted(archive.namelist()) == sorted([*files, "playlist.m3u8", "radio.json"])
    playlist = archive.read("playlist.m3u8").decode().splitlines()
    assert playlist[0] == "#EXTM3U" and playlist[2::2] == files
    assert [line.split(",", 1)[1] for line in playlist[1::2]] == [
        f"Mama Rosa - {t}" for t in made]
    for name in files:
        data = archive.read(name)
        assert data[:3] == b"ID3" or data[:2] == b"\xff\xfb"  # MP3, the one format
        samples = sounds.decode(data)
        assert abs(sounds.loudness(samples) + 16) <= 1.0, name
        assert max(abs(x) for x in samples) < 1.0, name  # the limiter: nothing clipped
    meta = json.loads(archive.read("radio.json"))
    assert {s["file"] for s in meta["stories"]} == set(files)
    assert meta["format"]["type"] == "audio/mpeg" and meta["loudness_target"] == -16


def test_our_meter_reads_the_reference_tone():
    """BS.1770's check: a 997 Hz sine peaking at -20 dBFS in one channel reads -23.0 LUFS."""
    assert sounds.loudness(sounds.signal(3, -20, freq=997)) == pytest.approx(-23.01, abs=0.05)


def test_without_pyav_the_radio_command_says_so_in_one_line(hub_dir, tmp_path):
    code = ("import sys; sys.modules['av'] = None\n"  # as if PyAV were not installed
            "from kiosk.cli import main; main()")
    result = subprocess.run(
        [sys.executable, "-c", code, "--data-dir", str(hub_dir), "stories", "radio",
         str(tmp_path / "radio.zip")], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "infocentre: The radio export needs PyAV, which is not installed here: install the "
        "hub's extra (pip install 'infocentre[hub]')."]
    assert not (tmp_path / "radio.zip").exists()
