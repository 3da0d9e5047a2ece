"""``infocentre stories ...``: importing a collection from a spreadsheet (checked whole, refused
whole, never twice), the stories as JSON and as a table, changing a story's consent (withdrawal
asks first), and the stories' demo (at a centre, twice; at the hub)."""

from __future__ import annotations

import hashlib
import io
import json
import time
import wave
from pathlib import Path

import pytest
from PIL import Image

from kiosk.data import open_db

from .factories import count, received

VOICES = Path(__file__).resolve().parents[1] / "content" / "demo" / "voices"
TABLES = ("stories", "story_photos")
SUMMARY = {"id", "title", "teller", "centre", "consent", "status", "audio", "photos"}


def photo(path, colour=(200, 40, 40), kind="JPEG"):
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, kind)
    path.write_bytes(out.getvalue())


def wav(path, seconds=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * 8000 * seconds)


def counts(db) -> dict[str, int]:
    return {table: count(db, table) for table in TABLES}


def blobs(data_dir) -> set[str]:
    media = data_dir / "media"
    return {p.name for p in media.rglob("*") if p.is_file() and "thumbs" not in p.parts} \
        if media.exists() else set()


def sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def centre_of(data_dir) -> str:
    return json.loads((data_dir / "config.json").read_text())["centre_id"]


@pytest.fixture
def sdb(data_dir, run_cli):
    assert run_cli(data_dir, "stories", "list").exit_code == 0  # the database is made
    database = open_db(data_dir / "infocentre.db")
    yield database
    database.close()


GOOD = ("title;teller;village;when;language;tags;consent;status;transcript;text;recording;"
        "photos;recorded_by\n"
        "La minga del canal;Rosa Quishpe;San Pablo;1978;es;agua, minga;public;approved;"
        "\"Cuando éramos jóvenes; hicimos el canal.\";;voz.ogg;canal.jpg|fotos/minga.png;"
        "Lucía Andrango\n"
        "Yaku mama;Manuel Guamán;Peguche;1960s;Kichwa;yaku;region;;<script>alert(1)</script>;;"
        "grabaciones/yaku.wav;;\n"
        "El terremoto;Ángel Yupanqui;;;;;CENTRE;Pending;;El suelo se movió toda la noche.;;;\n")


def write_good(tmp_path, text=GOOD, *, bom=True, name="coleccion.csv"):
    folder = tmp_path / "coleccion"
    (folder / "fotos").mkdir(parents=True, exist_ok=True)
    (folder / "grabaciones").mkdir(exist_ok=True)
    (folder / "voz.ogg").write_bytes((VOICES / "parts-1.es.ogg").read_bytes())
    wav(folder / "grabaciones" / "yaku.wav")
    photo(folder / "canal.jpg")
    photo(folder / "fotos" / "minga.png", (30, 90, 160), "PNG")
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_a_collection_with_recordings_photos_and_subfolders_is_imported(
        data_dir, run_cli, sdb, tmp_path):
    path = write_good(tmp_path)
    result = run_cli(data_dir, "stories", "import", path)
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output == "3 stories imported.\n"
    listed = json.loads(run_cli(data_dir, "stories", "list", "--json").output)
    assert all(set(s) == SUMMARY for s in listed)
    by_title = {s["title"]: s for s in listed}
    minga, yaku, quake = (by_title[t] for t in ("La minga del canal", "Yaku mama",
                                                "El terremoto"))
    centre = centre_of(data_dir)
    assert minga == {"id": minga["id"], "title": "La minga del canal", "teller": "Rosa Quishpe",
                     "centre": centre, "consent": "public", "status": "approved",
                     "audio": sha(path.parent / "voz.ogg"), "photos": minga["photos"]}
    assert len(minga["photos"]) == 2 and set(minga["photos"]) | {minga["audio"]} <= \
        blobs(data_dir)
    assert (yaku["consent"], yaku["status"], yaku["photos"]) == ("region", "pending", [])
    assert yaku["audio"] == sha(path.parent / "grabaciones" / "yaku.wav")
    assert (quake["consent"], quake["status"], quake["audio"]) == ("centre", "pending", None)
    rows = {r["title"]: r for r in sdb.query("SELECT * FROM stories")}
    ogg = rows["La minga del canal"]
    assert (ogg["audio_kind"], ogg["year"], ogg["decade"], ogg["lang"]) == (
        "audio/ogg", 1978, 1970, "es")
    assert 3 <= ogg["audio_seconds"] <= 30  # read from the Ogg's last page
    assert ogg["audio_bytes"] == (path.parent / "voz.ogg").stat().st_size
    assert ogg["transcript"] == "Cuando éramos jóvenes; hicimos el canal."
    assert json.loads(ogg["tags"]) == ["agua", "minga"]
    assert (ogg["recorded_by_name"], ogg["consent_by"]) == ("Lucía Andrango", "Lucía Andrango")
    assert ogg["reviewed_by"] == "coleccion.csv" and ogg["shared"] == 1
    kichwa = rows["Yaku mama"]
    assert (kichwa["lang"], kichwa["decade"], kichwa["audio_kind"], kichwa["audio_seconds"]) \
        == ("qu_EC", 1960, "audio/wav", 2)
    assert kichwa["transcript"] == "<script>alert(1)</script>"  # only text: pages escape it
    assert kichwa["shared"] == 0
    assert rows["El terremoto"]["body"] == "El suelo se movió toda la noche."
    # The readable table names the centre and the labels.
    table = run_cli(data_dir, "stories", "list").output
    assert "Centro de Prueba" in table and "Everyone: radio and the internet too" in table
    assert "Waiting for review" in table and table.endswith("3 stories.\n")


def test_importing_again_adds_nothing_and_a_withdrawn_story_never_comes_back(
        data_dir, run_cli, sdb, tmp_path):
    path = write_good(tmp_path)
    assert run_cli(data_dir, "stories", "import", path).exit_code == 0
    before, stored = counts(sdb), blobs(data_dir)
    again = run_cli(data_dir, "stories", "import", path, "--json")
    assert again.exit_code == 0, again.stderr
    made = json.loads(again.output)
    assert (made["added"], made["already"], made["withdrawn"]) == (0, 3, 0)
    assert [s["line"] for s in made["stories"]] == [2, 3, 4]
    assert counts(sdb) == before and blobs(data_dir) == stored
    # Case and spaces of the title and teller do not make another story; another recording
    # does.
    other = write_good(tmp_path, GOOD.replace("La minga del canal;Rosa Quishpe",
                                              "la minga  del canal;ROSA QUISHPE")
                       .replace("voz.ogg", "otra.ogg"), bom=False, name="otra.csv")
    (other.parent / "otra.ogg").write_bytes((VOICES / "parts-1.qu_EC.ogg").read_bytes())
    result = run_cli(data_dir, "stories", "import", other)
    assert result.exit_code == 0, result.stderr
    assert result.output == ("1 story imported.\n"
                             "2 were imported before: left as they are.\n")
    assert count(sdb, "stories") == 4

    quake = sdb.execute("SELECT id FROM stories WHERE title = 'El terremoto'").fetchone()[0]
    assert run_cli(data_dir, "stories", "consent", quake, "withdrawn", "--yes").exit_code == 0
    third = run_cli(data_dir, "stories", "import", path)
    assert third.exit_code == 0, third.stderr
    assert third.output == ("0 stories imported.\n"
                            "2 were imported before: left as they are.\n"
                            "line 4: its teller withdrew this story: it is not imported "
                            "again.\n")
    assert count(sdb, "stories") == 3


def test_a_file_with_bad_rows_is_refused_whole_with_every_problem_by_line(
        data_dir, run_cli, sdb, tmp_path):
    assert run_cli(data_dir, "stories", "import", write_good(tmp_path)).exit_code == 0
    before, stored = counts(sdb), blobs(data_dir)
    folder = tmp_path / "mala"
    folder.mkdir()
    (folder / "texto.ogg").write_text("I am only text, named like a sound")
    (folder / "foto.jpg").write_text("not a photo at all")
    (folder / "buena.ogg").write_bytes((VOICES / "turn-off.es.ogg").read_bytes())
    with (folder / "enorme.ogg").open("wb") as f:  # 41 MB, and sparse: refused unread
        f.truncate(41 * 1024 * 1024)
    (tmp_path / "fuera.ogg").write_bytes((VOICES / "turn-off.es.ogg").read_bytes())
    (folder / "enlace.ogg").symlink_to(tmp_path / "fuera.ogg")
    rows = [
        "title,teller,consent,status,when,language,recording,photos,text",
        "Buena,Rosa,region,approved,1990,es,buena.ogg,,",                # 2: fine
        ",Rosa,region,,,,,,Sin título",                                 # 3: no title
        "Consentimiento,Rosa,everyone,,,,,,Texto",                      # 4
        "Estado,Rosa,centre,hidden,,,,,Texto",                          # 5
        "Futuro,Rosa,centre,,2999,,,,Texto",                            # 6
        "Idioma,Rosa,centre,,,xx,,,Texto",                              # 7
        "Falta,Rosa,centre,,,,no-esta.ogg,,",                           # 8
        "Texto,Rosa,centre,,,,texto.ogg,,",                             # 9
        "Grande,Rosa,centre,,,,enorme.ogg,,",                           # 10
        "Foto,Rosa,centre,,,,,foto.jpg,Texto",                          # 11
        "Fuera,Rosa,centre,,,,../fuera.ogg,,",                          # 12
        "Enlace,Rosa,centre,,,,enlace.ogg,,",                           # 13
        "Absoluta,Rosa,centre,,,,/etc/passwd,,",                        # 14
        "Nada,Rosa,centre,,,,,,",                                       # 15: nothing told
        "Sin narrador,,centre,,,,,,Texto",                              # 16
        "buena, rosa,region,,,,buena.ogg,,",                            # 17: line 2 again
        "Demasiadas,Rosa,centre,,,,,a.jpg;b.jpg;c.jpg;d.jpg;e.jpg;f.jpg;g.jpg;h.jpg;i.jpg,",
    ]
    for name in "abcdefghi":
        photo(folder / f"{name}.jpg")
    path = folder / "mala.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run_cli(data_dir, "stories", "import", path)
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    expected = ["line 3: title: Give the story a title",
                "line 4: consent: Write who may hear the story: centre, region or public.",
                "line 5: status: Write approved, or pending",
                "line 6: when: Write a year like 1978",
                "line 7: language: Write one of these languages: es, en, fr, qu_EC, ar.",
                "line 8: recording: no-esta.ogg: There is no such file beside the CSV file.",
                "line 9: recording: texto.ogg: This file is not a sound recording.",
                "line 10: recording: enorme.ogg: The recording is larger than 40 MB.",
                "line 11: photos: foto.jpg: This file is not a photo",
                "line 12: recording: ../fuera.ogg: Give the file's name, or a path inside",
                "line 13: recording: enlace.ogg: Give the file's name, or a path inside",
                "line 14: recording: /etc/passwd: Give the file's name, or a path inside",
                "line 15: recording: Record the story, or write it, or add a photo.",
                "line 16: teller: Write who tells the story.",
                "line 17: The same story as line 2 (the same title, teller and recording).",
                "line 18: photos: A story may have 8 photos at most."]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, result.stderr)
    assert not any(p.startswith("line 2:") for p in problems)
    assert problems[-1] == "infocentre: Nothing was imported: mala.csv has 16 problems (above)."
    assert counts(sdb) == before and blobs(data_dir) == stored

    as_json = run_cli(data_dir, "stories", "import", path, "--json")
    assert as_json.exit_code == 1
    errors = json.loads(as_json.stdout)["errors"]
    assert {(e["line"], e["column"]) for e in errors} >= {
        (3, "title"), (4, "consent"), (8, "recording"), (11, "photos"), (16, "teller"),
        (17, "")}
    assert counts(sdb) == before and blobs(data_dir) == stored


def test_a_file_in_another_encoding_too_long_or_with_wrong_columns_is_refused(
        data_dir, run_cli, sdb, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("title,teller,consent,text\nPiña,Rosa,centre,Había una vez\n"
                      .encode("latin-1"))
    result = run_cli(data_dir, "stories", "import", latin)
    assert result.exit_code == 1
    assert "latin.csv is not UTF-8 text (line 2)" in result.stderr
    assert result.stderr.count("\n") == 1
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("title,teller,consent\n".encode("utf-16"))
    assert "is not UTF-8" in run_cli(data_dir, "stories", "import", utf16).stderr
    odd = tmp_path / "odd.csv"
    odd.write_text("titulo,teller,teller,text\nUno,Rosa,Rosa,Texto\n", encoding="utf-8")
    result = run_cli(data_dir, "stories", "import", odd)
    assert result.exit_code == 1
    for line in ("line 1: titulo: Unknown column", "line 1: teller: This column is there twice",
                 "line 1: title: The column is missing", "line 1: consent: The column is "
                 "missing"):
        assert line in result.stderr, result.stderr
    many = tmp_path / "many.csv"
    many.write_text("title,teller,consent,text\n" + "".join(
        f"Historia {n},Rosa,centre,Texto\n" for n in range(2001)), encoding="utf-8")
    result = run_cli(data_dir, "stories", "import", many)
    assert result.exit_code == 1
    assert "many.csv has more than 2000 stories: split it into smaller files." in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("\n", encoding="utf-8")
    assert "empty.csv is empty" in run_cli(data_dir, "stories", "import", empty).stderr
    assert counts(sdb) == dict.fromkeys(TABLES, 0)


def test_import_runs_at_a_centre(hub_dir, run_cli, tmp_path):
    result = run_cli(hub_dir, "stories", "import", write_good(tmp_path))
    assert result.exit_code == 1 and "runs at a centre" in result.stderr
    assert json.loads(run_cli(hub_dir, "stories", "list", "--json").output) == []


def test_consent_is_changed_and_withdrawal_asks_first(data_dir, run_cli, sdb, tmp_path):
    assert run_cli(data_dir, "stories", "import", write_good(tmp_path)).exit_code == 0
    story = sdb.execute("SELECT id FROM stories WHERE title = 'La minga del canal'"
                        ).fetchone()[0]
    narrowed = run_cli(data_dir, "stories", "consent", story, "centre", "--by",
                       "Lucía  Andrango")
    assert narrowed.exit_code == 0, narrowed.stderr
    assert narrowed.output == "\"La minga del canal\": Only this centre.\n"
    row = sdb.execute("SELECT consent, consent_by, shared FROM stories WHERE id = ?",
                      [story]).fetchone()
    assert row == ("centre", "Lucía Andrango", 0)
    assert sdb.execute("SELECT count(*) FROM story_photos WHERE story_id = ? AND shared = 0",
                       [story]).fetchone()[0] == 2
    same = run_cli(data_dir, "stories", "consent", story, "centre")
    assert same.exit_code == 0 and "already Only this centre; nothing changed." in same.output
    wrong = run_cli(data_dir, "stories", "consent", story, "everyone")
    assert wrong.exit_code == 2 and "'everyone' is not one of" in wrong.stderr

    declined = run_cli(data_dir, "stories", "consent", story, "withdrawn", input="n\n")
    assert declined.exit_code == 1
    assert "Withdraw \"La minga del canal\", told by Rosa Quishpe?" in declined.output
    assert declined.stderr == "infocentre: Nothing was changed.\n"
    assert count(sdb, "stories") == 3
    no_answer = run_cli(data_dir, "stories", "consent", story, "withdrawn", input="")
    assert no_answer.exit_code == 1 and count(sdb, "stories") == 3
    confirmed = run_cli(data_dir, "stories", "consent", story, "withdrawn", input="y\n")
    assert confirmed.exit_code == 0, confirmed.stderr
    assert "was withdrawn: it leaves every centre and the hub" in confirmed.output
    assert count(sdb, "stories") == 2
    assert sdb.execute("SELECT count(*) FROM story_photos WHERE story_id = ?",
                       [story]).fetchone()[0] == 0

    gone = run_cli(data_dir, "stories", "consent", story, "public")
    assert gone.exit_code == 1
    assert gone.stderr == ("infocentre: This story is not here, or its teller withdrew "
                           "it.\n")
    unknown = run_cli(data_dir, "stories", "consent", "no-such-story", "withdrawn", "--yes")
    assert unknown.exit_code == 1 and "This story is not here" in unknown.stderr


def test_consent_of_a_story_told_at_another_centre_is_changed_there(
        data_dir, hub_dir, run_cli, sdb):
    with received(sdb, "another-centre"):
        sdb.table("stories").insert({"id": "theirs", "centre_id": "another-centre",
                                     "title": "Su historia", "teller_name": "Alguien",
                                     "consent": "region", "status": "approved", "shared": 1,
                                     "body": "Texto"})
    result = run_cli(data_dir, "stories", "consent", "theirs", "withdrawn", "--yes")
    assert result.exit_code == 1
    assert "told at another centre: its teller changes the consent there" in result.stderr
    assert sdb.execute("SELECT consent FROM stories WHERE id = 'theirs'").fetchone()[0] == \
        "region"
    listed = json.loads(run_cli(data_dir, "stories", "list", "--json").output)
    assert [(s["id"], s["centre"]) for s in listed] == [("theirs", "another-centre")]
    at_hub = run_cli(hub_dir, "stories", "consent", "theirs", "centre")
    assert at_hub.exit_code == 1 and "runs at a centre" in at_hub.stderr


def test_the_demo_adds_stories_of_every_consent_once(data_dir, run_cli):
    first = run_cli(data_dir, "demo")
    assert first.exit_code == 0, first.output
    assert "Lucía Andrango       facilitator  PIN 2222" in first.output  # today's form
    assert "Stories:" in first.output
    db = open_db(data_dir / "infocentre.db")
    made, listed = counts(db), count(db, "demo_rows")
    second = run_cli(data_dir, "demo")
    assert second.exit_code == 0 and "0 new accounts" in second.output
    assert counts(db) == made and count(db, "demo_rows") == listed
    for table in TABLES:  # every row is listed, so joining a hub removes it
        assert db.execute("SELECT count(*) FROM demo_rows WHERE table_name = ?",
                          [table]).fetchone()[0] == made[table] > 0, table

    stories = json.loads(run_cli(data_dir, "stories", "list", "--json").output)
    centre = centre_of(data_dir)
    assert all(s["centre"] == centre for s in stories)
    approved = [s for s in stories if s["status"] == "approved"]
    assert {s["consent"] for s in approved} == {"centre", "region", "public"}
    assert [s["status"] for s in stories].count("pending") == 1
    voiced = [s for s in approved if s["audio"] and s["photos"]]
    assert voiced
    held = blobs(data_dir)
    for s in stories:
        assert set(s["photos"]) <= held and (s["audio"] is None or s["audio"] in held)
    for s in voiced:
        data = (data_dir / "media" / s["audio"][:2] / s["audio"]).read_bytes()
        assert data.startswith(b"OggS") and b"OpusHead" in data[:200]
    # The teller of each is a demo account of this centre, or a person named who has none.
    rows = list(db.query("SELECT teller_id, teller_name, shared, status, consent, audio_kind, "
                         "audio_seconds, audio FROM stories"))
    accounts = {r[0] for r in db.execute("SELECT id FROM accounts")}
    assert any(r["teller_id"] in accounts for r in rows)
    assert any(r["teller_id"] == "" and r["teller_name"] for r in rows)
    assert all(r["shared"] == (r["status"] == "approved" and r["consent"] != "centre")
               for r in rows)
    assert all(r["audio_kind"] == "audio/ogg" and r["audio_seconds"] > 0
               for r in rows if r["audio"])
    db.close()


def test_the_demo_at_the_hub_adds_no_stories(hub_dir, run_cli):
    assert run_cli(hub_dir, "demo").exit_code == 0
    assert json.loads(run_cli(hub_dir, "stories", "list", "--json").output) == []


def test_the_demo_stories_are_quick_to_make(app, db):
    """The demo runs at each start of a test server: its stories take a fraction of a
    second (0.3 s on a slow machine), their photos drawn small."""
    from kiosk.auth.models import demo as demo_accounts
    from kiosk.stories.demo import demo

    with app.app_context():
        kwargs = {"centre_id": app.config["CENTRE_ID"], "role": "node",
                  "content_dir": app.config["CONTENT_DIR"], "now": app.config["NOW"]()}
        demo_accounts(db, **kwargs)
        start = time.perf_counter()
        said = demo(db, **kwargs)
        took = time.perf_counter() - start
    assert said and count(db, "stories") >= 5
    print(f"stories demo: {took:.3f} s")
