"""The hub's archive export, checked file by file: what consent allows and nothing else
(approved stories only; ``region`` and ``public`` by default, ``public`` alone when asked, one
centre when asked; never a ``centre`` story, never a withdrawn one), the JSON and CSV catalogues
row by row with their Dublin Core fields, each recording and photo equal to the stored one by
SHA-256, progress, a failure leaving nothing behind, and bad arguments refused."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import wave
import zipfile

import pytest
from PIL import Image

from kiosk.errors import KioskError, ValidationError
from kiosk.stories import export, models
from sync.media import Store

from .factories import WHEN, make_centre, received, told_story


def wav(seconds: float = 0.2, value: int = 1000) -> bytes:
    """A real WAV file (16-bit mono), different for each ``value``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(value.to_bytes(2, "little", signed=True) * int(8000 * seconds))
    return out.getvalue()


def jpeg(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def region(hub_db, hub_dir):
    """Two centres' stories at the hub, one of each kind the rules tell apart."""
    one, two = make_centre(hub_db, "Centro Uno"), make_centre(hub_db, "Centro Dos")
    s = {"one": one, "two": two}
    s["region"] = told_story(hub_db, one, title="La minga del canal", consent="region",
                             audio=wav(value=1), photos=[jpeg("red"), jpeg("blue")],
                             when="1978", tags="agua, minga", body="Hicimos el canal.")
    s["public"] = told_story(hub_db, one, title="El cóndor", consent="public",
                             audio=wav(value=2), lang="qu_EC", when="1970s")
    s["formula"] = told_story(hub_db, one, title="=HYPERLINK(\"x\") <script>", consent="public",
                              teller_name="@Ana", audio=None, body="Solo texto.")
    s["text"] = told_story(hub_db, two, title="La fiesta", consent="public", when="")
    s["centre"] = told_story(hub_db, one, title="Solo aquí", consent="centre",
                             audio=wav(value=3))
    s["pending"] = told_story(hub_db, two, title="Esperando", consent="region",
                              status="pending", audio=wav(value=4))
    s["hidden"] = told_story(hub_db, two, title="Escondido", consent="public",
                             status="hidden")
    s["withdrawn"] = told_story(hub_db, one, title="Retirado", consent="public",
                                audio=wav(value=5), photos=[jpeg("green")])
    with received(hub_db, one):
        models.set_consent(hub_db, centre_id=one, story_id=s["withdrawn"], consent="withdrawn",
                           by={"name": "Mama Rosa"}, now=WHEN)
    s["store"] = Store(hub_dir / "media")
    return s


def run(hub_db, region, target, **kw) -> tuple[dict, zipfile.ZipFile]:
    done = export.export_archive(hub_db, region["store"], target, now=WHEN, **kw)
    return done, zipfile.ZipFile(target)


def catalogue(archive: zipfile.ZipFile) -> tuple[dict, list[dict]]:
    data = json.loads(archive.read("catalogue.json"))
    rows = list(csv.DictReader(io.StringIO(archive.read("catalogue.csv").decode("utf-8-sig"))))
    return data, rows


def ids(records) -> set[str]:
    return {r["dc:identifier"].removeprefix("urn:uuid:") for r in records}


def test_archive_holds_region_and_public_stories_file_by_file(hub_db, region, tmp_path):
    done, archive = run(hub_db, region, tmp_path / "stories.zip")
    data, rows = catalogue(archive)
    allowed = {region[k] for k in ("region", "public", "formula", "text")}
    assert ids(data["stories"]) == ids(rows) == allowed
    assert data["count"] == done["stories"] == 4 and data["consent"] == ["region", "public"]
    assert done["missing"] == 0 and done["files"] == 4

    # Every file in the ZIP: the two catalogues and the media the kept stories name.
    named = {f for r in data["stories"] for f in [r["audio_file"], *r["photo_files"]] if f}
    assert set(archive.namelist()) == {"catalogue.json", "catalogue.csv", *named}
    assert len(named) == 4  # two recordings, two photos
    for record in data["stories"]:
        row = hub_db.execute("SELECT audio FROM stories WHERE id = ?",
                             [record["dc:identifier"][9:]]).fetchone()
        assert record["audio_sha256"] == row[0]
        if record["audio_file"]:
            assert sha(archive.read(record["audio_file"])) == row[0]
            assert archive.read(record["audio_file"]) == region["store"].path(row[0]).read_bytes()
        for name, photo in zip(record["photo_files"], record["photo_sha256"], strict=True):
            assert sha(archive.read(name)) == photo

    minga = next(r for r in data["stories"] if r["dc:title"] == "La minga del canal")
    assert minga["audio_file"].startswith("media/la-minga-del-canal-")
    assert minga["audio_file"].endswith(".wav")
    assert minga["photo_files"][0].endswith("-photo-1.jpg")
    assert {k: minga[k] for k in ("dc:creator", "dc:contributor", "dc:publisher", "dc:date",
                                  "dc:coverage", "dc:language", "dc:subject", "dc:description",
                                  "dc:format", "dc:type", "consent")} == {
        "dc:creator": "Mama Rosa", "dc:contributor": "Facilitadora",
        "dc:publisher": "Centro Uno", "dc:date": "1978", "dc:coverage": "Urcuquí",
        "dc:language": "es", "dc:subject": ["agua", "minga"],
        "dc:description": "Hicimos el canal.",
        "dc:format": ["audio/wav", "text/plain", "image/jpeg"],
        "dc:type": ["Sound", "Text", "StillImage"], "consent": "region"}
    assert minga["dc:rights"] == "region: Every centre of the region"
    condor = next(r for r in data["stories"] if r["dc:title"] == "El cóndor")
    assert condor["dc:date"] == "1970/1979" and condor["dc:language"] == "qu-EC"
    fiesta = next(r for r in data["stories"] if r["dc:title"] == "La fiesta")
    assert fiesta["audio_file"] is None and fiesta["dc:type"] == ["Text"]
    assert fiesta["dc:date"] == "" and fiesta["dc:publisher"] == "Centro Dos"

    # The CSV says the same, row by row, lists joined; a formula stays text.
    by_id = {r["dc:identifier"]: r for r in rows}
    assert list(rows[0]) == list(export.COLUMNS)
    for record in data["stories"]:
        row = by_id[record["dc:identifier"]]
        assert row["dc:subject"] == "; ".join(record["dc:subject"])
        assert row["photo_files"] == "; ".join(record["photo_files"])
        assert row["transcript"] == record["transcript"]
    formula = by_id[f"urn:uuid:{region['formula']}"]
    assert formula["dc:title"] == "'=HYPERLINK(\"x\") <script>"
    assert formula["dc:creator"] == "'@Ana"
    assert next(r for r in data["stories"] if r["dc:creator"] == "@Ana")["dc:title"] == \
        "=HYPERLINK(\"x\") <script>"  # the JSON keeps what was typed


def test_what_consent_or_review_keeps_at_home_is_never_exported(hub_db, region, tmp_path):
    _done, archive = run(hub_db, region, tmp_path / "stories.zip")
    blob = b"".join(archive.read(n) for n in archive.namelist())
    for kind, title in (("centre", "Solo aquí"), ("pending", "Esperando"),
                        ("hidden", "Escondido"), ("withdrawn", "Retirado")):
        assert region[kind].encode() not in blob and title.encode() not in blob
    # Nor are their recordings, under any name.
    shas = {sha(archive.read(n)) for n in archive.namelist()}
    assert shas.isdisjoint({sha(wav(value=v)) for v in (3, 4, 5)} | {sha(jpeg("green"))})


def test_public_only(hub_db, region, tmp_path):
    done, archive = run(hub_db, region, tmp_path / "public.zip", consent="public")
    data, rows = catalogue(archive)
    assert ids(data["stories"]) == ids(rows) == {region["public"], region["formula"],
                                                 region["text"]}
    assert data["consent"] == ["public"] and done["files"] == 1
    assert {r["consent"] for r in rows} == {"public"}


def test_one_centre(hub_db, region, tmp_path):
    _done, archive = run(hub_db, region, tmp_path / "two.zip", centre=region["two"])
    data, rows = catalogue(archive)
    assert ids(data["stories"]) == ids(rows) == {region["text"]}
    assert data["centre"] == region["two"]
    assert set(archive.namelist()) == {"catalogue.json", "catalogue.csv"}


def test_progress_is_told_story_by_story(hub_db, region, tmp_path):
    seen = []
    run(hub_db, region, tmp_path / "stories.zip", progress=lambda d, t: seen.append((d, t)))
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


def test_media_not_arrived_yet_is_named_without_a_file(hub_db, region, tmp_path):
    audio = hub_db.execute("SELECT audio FROM stories WHERE id = ?",
                           [region["public"]]).fetchone()[0]
    region["store"].path(audio).unlink()
    done, archive = run(hub_db, region, tmp_path / "stories.zip")
    data, _rows = catalogue(archive)
    condor = next(r for r in data["stories"] if r["dc:title"] == "El cóndor")
    assert condor["audio_file"] is None and condor["audio_sha256"] == audio
    assert done["missing"] == 1 and len(archive.namelist()) == 5


def test_a_failed_export_leaves_the_previous_file_and_no_pieces(hub_db, region, tmp_path):
    target = tmp_path / "out" / "stories.zip"
    target.parent.mkdir()
    target.write_bytes(b"last week's export")

    def cut(done, total):
        if done == 2:
            raise RuntimeError("the power went")

    with pytest.raises(RuntimeError):
        export.export_archive(hub_db, region["store"], target, now=WHEN, progress=cut)
    assert target.read_bytes() == b"last week's export"
    assert [p.name for p in target.parent.iterdir()] == ["stories.zip"]


@pytest.mark.parametrize("consent, centre, field", [
    ("centre", None, "consent"),
    ("withdrawn", None, "consent"),
    ("", None, "consent"),
    ("region", "no-such-centre", "centre"),
])
def test_bad_choices_are_refused_and_nothing_is_written(hub_db, region, tmp_path, consent,
                                                        centre, field):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ValidationError) as e:
        export.export_archive(hub_db, region["store"], out / "x.zip", now=WHEN,
                              consent=consent, centre=centre)
    assert list(e.value.errors) == [field]
    assert list(out.iterdir()) == []


def test_a_target_that_cannot_be_written_is_refused(hub_db, region, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KioskError, match="does not exist"):
        export.export_archive(hub_db, region["store"], out / "nowhere" / "x.zip", now=WHEN)
    (out / "folder.zip").mkdir()
    with pytest.raises(KioskError, match="is a folder"):
        export.export_archive(hub_db, region["store"], out / "folder.zip", now=WHEN)
    assert [p.name for p in out.iterdir()] == ["folder.zip"]


# The command line.


def test_command_writes_the_archive_with_progress_on_stderr(runner, hub_dir, hub_db, region,
                                                            tmp_path):
    from kiosk.cli import cli

    target = tmp_path / "public.zip"
    result = runner.invoke(cli, ["--data-dir", str(hub_dir), "stories", "export", str(target),
                                 "--consent", "public"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"3 stories written to {target}."
    assert "3/3" in result.stderr
    data, _rows = catalogue(zipfile.ZipFile(target))
    assert ids(data["stories"]) == {region["public"], region["formula"], region["text"]}


@pytest.mark.parametrize("args, code, message", [
    (["--consent", "centre"], 2, "Invalid value for '--consent'"),
    (["--centre", "no-such-centre"], 1, "There is no such centre in the region."),
])
def test_command_refuses_bad_arguments(runner, hub_dir, region, tmp_path, args, code,
                                       message):
    from kiosk.cli import cli

    result = runner.invoke(cli, ["--data-dir", str(hub_dir), "stories", "export",
                                 str(tmp_path / "x.zip"), *args])
    assert result.exit_code == code and message in result.stderr
    assert not (tmp_path / "x.zip").exists()


def test_command_runs_at_the_hub_only(run_cli, runner, data_dir, tmp_path):
    from kiosk.cli import cli

    result = runner.invoke(cli, ["--data-dir", str(data_dir), "stories", "export",
                                 str(tmp_path / "x.zip")])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("infocentre: This command runs at the hub, which holds "
                                     "the region's stories.")
    assert not (tmp_path / "x.zip").exists()
