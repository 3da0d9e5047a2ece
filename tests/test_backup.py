"""Backups (issue 15): a backup taken while ten terminals write restores every write acknowledged
before it began; a restored centre syncs without loss; and the accidents of real life — a
backup cut short, a full disk, a stick that takes no hard links, a damaged copy, a restore
onto a centre's data — never pass for a good backup or a good restore."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from kiosk.backups import MANIFEST, list_backups, read_manifest, take_backup, take_daily_backup
from kiosk.data import open_db
from kiosk.installation import init_installation
from kiosk.restore import restore_backup
from sync.media import Store

from .conftest import CSRF
from .factories import PIN, make_account, make_village
from .live import ROOT, db_rows, infocentre, join_centre, start_demo_server, start_server
from .test_disk_full import fill

TERMINALS = 10


def photo(seed: int) -> bytes:
    """A small real JPEG, different for every seed."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (48, 48), (seed % 256, seed // 256 % 256, 99)).save(out, "JPEG")
    return out.getvalue()


def fake_blobs(data_dir: Path, count: int, size: int) -> list[str]:
    """``count`` blobs of ``size`` bytes (JPEG-headed) in the store, as the store names them."""
    store = Store(data_dir / "media")
    made = []
    for _ in range(count):
        data = b"\xff\xd8\xff\xe0" + secrets.token_bytes(size - 4)
        sha = hashlib.sha256(data).hexdigest()
        store.path(sha).parent.mkdir(parents=True, exist_ok=True)
        store.path(sha).write_bytes(data)
        made.append(sha)
    return made


def modes(root: Path) -> set[tuple[str, int]]:
    """The permission bits of every folder and file under ``root`` (and itself)."""
    found = {("dir", root.stat().st_mode & 0o777)}
    for path in root.rglob("*"):
        found.add(("dir" if path.is_dir() else "file", path.stat().st_mode & 0o777))
    return found


def blob_ok(data_dir: Path, sha: str) -> bool:
    path = Store(data_dir / "media").path(sha)
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha


def stored_blobs(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "media").glob("??/*")}


@pytest.fixture
def mount_tmpfs():
    """Mount a small filesystem of the test's own at a path; skips where mounting is not
    allowed. Unmounted at the end."""
    mounted = []

    def mount(path: Path, size: str = "24m") -> Path:
        path.mkdir(parents=True, exist_ok=True)
        try:
            made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700",
                                   "tmpfs", str(path)], capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            pytest.skip(f"cannot mount a small disk here: {e}")
        if made.returncode != 0:
            pytest.skip(f"cannot mount a small disk here: {made.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


# Ten terminals write while the backup is taken.


def signed_in(url: str, account: dict) -> requests.Session:
    session = requests.Session()
    token = CSRF.search(session.get(f"{url}/language", timeout=30).text).group(1)
    answer = session.post(f"{url}/auth/signin/{account['id']}", timeout=30, allow_redirects=False,
                          data={"pin": PIN, "csrf_token": token})
    assert answer.status_code == 302
    return session


@pytest.mark.live
def test_a_backup_taken_while_ten_terminals_write_restores_every_acknowledged_write(
        tmp_path, data_dir, app, db):
    centre = app.config["CENTRE_ID"]
    facilitator = make_account(db, centre, role="facilitator", name="Lucía Andrango", lang="en")
    sitters = make_village(db, centre, [f"Modelo {t}" for t in range(TERMINALS)])
    fake_blobs(data_dir, 150, 40_000)  # photos already there: the backup takes a moment
    server = start_server(data_dir)
    folder = tmp_path / "backups"
    acked: list[tuple[float, str, str]] = []  # (when, kind, what)
    stop = threading.Event()
    failures = []

    def terminal(t: int) -> None:
        try:
            session = signed_in(server.url, facilitator)
            n = 0
            while not stop.is_set():
                n += 1
                name = f"Persona {t}-{n}"
                token = CSRF.search(session.get(f"{server.url}/auth/people/new",
                                                timeout=60).text).group(1)
                answer = session.post(f"{server.url}/auth/people/new", timeout=60,
                                      allow_redirects=False, data={
                                          "name": name, "role": "villager", "lang": "es",
                                          "pin": "1357", "confirm": "1357",
                                          "csrf_token": token})
                assert answer.status_code == 302, answer.text
                acked.append((time.monotonic(), "account", name))
                sitter = sitters[t]["id"]
                answer = session.post(f"{server.url}/auth/people/{sitter}/photo", timeout=60,
                                      allow_redirects=False, data={"csrf_token": token},
                                      files={"photo": ("p.jpg", photo(t * 1000 + n))})
                assert answer.status_code == 302, answer.text
                # Only this terminal changes this sitter's photo: the row says which it is.
                [(sha,)] = db_rows(data_dir, "SELECT photo FROM accounts WHERE id = ?",
                                   [sitter])
                acked.append((time.monotonic(), "photo", sha))
        except Exception as e:  # noqa: BLE001 (reported by the test's thread, below)
            failures.append(e)

    threads = [threading.Thread(target=terminal, args=(t,)) for t in range(TERMINALS)]
    try:
        for thread in threads:
            thread.start()
        while len(acked) < 2 * TERMINALS and not failures:
            time.sleep(0.05)
        began = time.monotonic()
        made = infocentre(data_dir, "backup", str(folder), "--json")
        ended = time.monotonic()
        while not failures and not any(when > ended for when, _k, _w in acked):
            time.sleep(0.05)  # the terminals wrote on after it, too
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
    assert not failures, failures
    report = json.loads(made.stdout)
    before = [(kind, what) for when, kind, what in acked if when < began]
    assert len(before) >= 2 * TERMINALS and report["blobs"] >= 150

    restored = tmp_path / "restored"
    infocentre(restored, "restore", str(folder))
    assert db_rows(restored, "PRAGMA integrity_check") == [("ok",)]
    names = {n for (n,) in db_rows(restored, "SELECT name FROM accounts")}
    named = {sha for (sha,) in db_rows(restored, "SELECT photo FROM accounts")}
    for kind, what in before:
        if kind == "account":
            assert what in names, what
        elif what in named:  # a photo replaced before the copy left the disk with its row
            assert blob_ok(restored, what), what
    # Every photo a restored row names is there, whole (the database was copied first).
    for (sha,) in db_rows(restored, "SELECT photo FROM accounts WHERE photo IS NOT NULL"):
        assert blob_ok(restored, sha), sha
    # The copy is a new copy of the database (the sync engine's rule), the original unchanged.
    [(original,)] = db_rows(data_dir, "SELECT instance_id FROM _sync_state")
    assert db_rows(restored, "SELECT instance_id FROM _sync_state") != [(original,)]
    # Backups hold secrets: owner-only, as the data directory.
    assert modes(folder) == {("dir", 0o700), ("file", 0o600)}
    assert modes(restored) == {("dir", 0o700), ("file", 0o600)}


# A restored centre syncs without loss.


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("hub"), role="hub", courses=False,
                               env={"INFOCENTRE_SYNC_DAEMON": "0"})
    yield server
    server.stop()


def sync(path: Path) -> dict:
    done = json.loads(infocentre(path, "sync", "now", "--json", check=False).stdout)
    assert done["status"] == "synced", done
    return done


def add_people(path: Path, names, photo_seed: int | None = None) -> None:
    db = open_db(path / "infocentre.db")
    try:
        centre = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
        people = make_village(db, centre, names)
        if photo_seed is not None:
            sha = Store(path / "media").add_bytes(photo(photo_seed)).sha
            db.execute("UPDATE accounts SET photo = ? WHERE id = ?", [sha, people[0]["id"]])
    finally:
        db.close()


@pytest.mark.live
def test_a_restored_centre_gets_back_everything_the_hub_acknowledged(tmp_path, hub):
    centre = tmp_path / "centre"
    node_id, _token = join_centre(hub.data_dir, centre, "Centro San Pablo", hub.url)
    add_people(centre, ["Rosa Quishpe", "Manuel Lema"], photo_seed=1)
    sync(centre)
    infocentre(centre, "backup", str(tmp_path / "backups"))
    # After the backup: sent and acknowledged by the hub, then the disk dies ...
    add_people(centre, ["Tránsito Caiza", "Ángel Pilco"], photo_seed=2)
    db = open_db(centre / "infocentre.db")
    db.execute("UPDATE accounts SET name = 'Rosa Quishpe Lema' WHERE name = 'Rosa Quishpe'")
    db.close()
    sync(centre)
    # ... and this one never left the centre: the engine's rule is that it is lost.
    add_people(centre, ["Nunca Enviada"])
    at_hub = set(db_rows(hub.data_dir, "SELECT id, name, photo FROM accounts WHERE "
                                       "centre_id = ?", [node_id]))
    assert len(at_hub) == 4

    restored = tmp_path / "restored"
    infocentre(restored, "restore", str(tmp_path / "backups"))
    first = sync(restored)
    assert first["received"] >= 2
    sync(restored)
    back = set(db_rows(restored, "SELECT id, name, photo FROM accounts WHERE centre_id = ?",
                       [node_id]))
    assert back == at_hub
    for _id, _name, sha in back:
        assert sha is None or blob_ok(restored, sha)
    assert ("Nunca Enviada",) not in db_rows(hub.data_dir, "SELECT name FROM accounts")
    assert db_rows(restored, "SELECT resync FROM _sync_state") == [(0,)]
    # And it goes on as the centre: what it writes now reaches the hub.
    add_people(restored, ["Después Restaurada"])
    sync(restored)
    assert db_rows(hub.data_dir, "SELECT count(*) FROM accounts WHERE name = ?",
                   ["Después Restaurada"]) == [(1,)]


def test_a_restored_hub_takes_a_new_epoch_and_a_sequence_past_its_mark(tmp_path, hub_dir,
                                                                      hub_app):
    (hub_dir / "sync-high-water").write_text("500\n")
    [(epoch, seq)] = db_rows(hub_dir, "SELECT epoch, seq FROM _sync_state")
    take_backup(hub_dir, tmp_path / "backups")
    restore_backup(tmp_path / "backups", tmp_path / "restored")
    [(new_epoch, new_seq)] = db_rows(tmp_path / "restored", "SELECT epoch, seq FROM _sync_state")
    assert new_epoch != epoch and new_seq > max(seq, 500)


# Incremental, kept, daily.


def test_a_second_backup_links_the_blobs_of_the_first_and_only_the_newest_are_kept(
        tmp_path, data_dir):
    first_blobs = fake_blobs(data_dir, 20, 3000)
    folder = tmp_path / "backups"
    first = take_backup(data_dir, folder, keep=2)
    assert (first.blobs, first.blobs_copied, first.blobs_linked) == (20, 20, 0)
    new = fake_blobs(data_dir, 3, 3000)
    second = take_backup(data_dir, folder, keep=2)
    assert (second.blobs, second.blobs_copied, second.blobs_linked) == (23, 3, 20)
    assert second.bytes_copied == 3 * 3000
    old = first.path / "media" / first_blobs[0][:2] / first_blobs[0]
    assert os.path.samefile(old, second.path / "media" / first_blobs[0][:2] / first_blobs[0])
    third = take_backup(data_dir, folder, keep=2)
    assert list_backups(folder) == [third.path, second.path]
    assert third.removed == [first.path] and not first.path.exists()
    # The blobs the removed backup shared live on in the newer ones.
    restore_backup(folder, tmp_path / "restored")
    assert stored_blobs(tmp_path / "restored") == set(first_blobs) | set(new)


def test_a_photo_saved_just_before_the_database_is_copied_is_in_the_backup(
        tmp_path, app, db, data_dir, monkeypatch):
    """The photos are listed after the database is copied: a photo stored, and named by a row,
    after the room check's listing but before the copy was named by the backup and missing
    from it (seen with ten terminals saving photos)."""
    import kiosk.backups as backups

    person = make_account(db, app.config["CENTRE_ID"], name="Rosa", pin=None)
    checked = backups._check_room

    def a_terminal_saves_a_photo_meanwhile(*args, **kwargs):
        checked(*args, **kwargs)
        sha = Store(data_dir / "media").add_bytes(photo(7)).sha
        db.execute("UPDATE accounts SET photo = ? WHERE id = ?", [sha, person["id"]])

    monkeypatch.setattr(backups, "_check_room", a_terminal_saves_a_photo_meanwhile)
    take_backup(data_dir, tmp_path / "backups")
    [made] = list_backups(tmp_path / "backups")
    [(sha,)] = db_rows(made, "SELECT photo FROM accounts WHERE name = 'Rosa'")
    assert sha and blob_ok(made, sha)


def test_one_daily_backup_a_day_whatever_the_pc_clock_says(tmp_path, data_dir):
    folder = tmp_path / "daily"
    day = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc)
    moments = iter([day, day + dt.timedelta(hours=9), day + dt.timedelta(days=1),
                    dt.datetime(2003, 1, 1, tzinfo=dt.timezone.utc)])
    taken = [take_daily_backup(data_dir, folder=folder, keep=2, now=lambda: moment)
             for moment in moments]
    assert [t is not None for t in taken] == [True, False, True, True]
    # The PC's clock went back twenty years (a flat battery): its backup is still the newest,
    # and the one kept beside it is the day before, not the oldest.
    assert list_backups(folder) == [taken[3].path, taken[2].path]
    assert read_manifest(taken[3].path)["made_at"].startswith("2003-01-01")


# Accidents.


@pytest.mark.live
def test_a_backup_cut_short_is_never_taken_for_a_good_one(tmp_path, data_dir):
    folder = tmp_path / "backups"
    good = take_backup(data_dir, folder)
    fake_blobs(data_dir, 400, 60_000)
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir),
                                "backup", str(folder)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        partial = [p for p in folder.glob(".partial-*") if len(list(p.glob("media/*/*"))) > 20]
        if partial or process.poll() is not None:
            break
        time.sleep(0.002)
    assert process.poll() is None, "the backup ended before it could be cut"
    os.kill(process.pid, signal.SIGKILL)  # the power cut
    process.wait()
    assert partial and partial[0].exists()
    assert list_backups(folder) == [good.path]
    restored = restore_backup(folder, tmp_path / "restored")
    assert restored["path"] == good.path
    assert stored_blobs(tmp_path / "restored") == set()
    # The next backup clears what was cut short, and is whole.
    after = take_backup(data_dir, folder)
    assert not list(folder.glob(".partial-*")) and after.blobs == 400
    assert list_backups(folder) == [after.path, good.path]


@pytest.mark.live
def test_a_disk_filling_during_a_backup_keeps_nothing_of_it_and_leaves_older_ones(
        tmp_path, data_dir, mount_tmpfs):
    stick = mount_tmpfs(tmp_path / "stick")  # another filesystem, as a USB stick is
    older = take_backup(data_dir, stick / "backups")
    # Many small recordings: each takes a whole page of the stick, more than their bytes say.
    fake_blobs(data_dir, 3000, 200)
    fill(stick, leave=3 * 1024 * 1024)
    free = shutil.disk_usage(stick).free
    failed = infocentre(data_dir, "backup", str(stick / "backups"), check=False)
    assert failed.returncode == 1, failed.stdout
    assert failed.stderr.startswith(f"infocentre: The disk of {stick / 'backups'} is full (")
    assert "the backup was not kept, older backups are untouched" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert not list((stick / "backups").glob(".partial-*"))
    assert shutil.disk_usage(stick).free >= free
    assert list_backups(stick / "backups") == [older.path]
    restore_backup(stick / "backups", tmp_path / "restored")
    # The centre itself is untouched and goes on working.
    assert db_rows(data_dir, "PRAGMA integrity_check") == [("ok",)]
    infocentre(data_dir, "user", "add", "Rosa Quishpe", "--role", "villager", "--pin", "1234")
    # With no room at all it says so before writing anything.
    fill(stick, leave=64 * 1024)
    refused = infocentre(data_dir, "backup", str(stick / "backups"), check=False)
    assert refused.returncode == 1
    assert "There is not enough room in" in refused.stderr
    assert "Nothing was written; older backups are untouched." in refused.stderr
    assert not list((stick / "backups").glob(".partial-*"))


def test_where_hard_links_cannot_be_made_blobs_are_copied(tmp_path, data_dir, mount_tmpfs):
    """A FAT stick refuses links; here the previous backup lives on another filesystem
    (mounted inside the folder), which refuses them the same way (EXDEV)."""
    blobs = fake_blobs(data_dir, 12, 5000)
    folder = tmp_path / "backups"
    first = take_backup(data_dir, folder)
    kept = tmp_path / "kept"
    shutil.copytree(first.path, kept)
    shutil.rmtree(first.path)
    mount_tmpfs(first.path, size="4m")
    shutil.copytree(kept, first.path, dirs_exist_ok=True)
    second = take_backup(data_dir, folder)
    assert (second.blobs, second.blobs_linked, second.blobs_copied) == (12, 0, 12)
    restore_backup(second.path, tmp_path / "restored")
    assert stored_blobs(tmp_path / "restored") == set(blobs)


@pytest.mark.parametrize("target", ["has a file", "is a file", "holds a centre"])
def test_a_restore_onto_anything_but_an_empty_folder_is_refused(tmp_path, data_dir, run_cli,
                                                                target):
    take_backup(data_dir, tmp_path / "backups")
    place = {"has a file": tmp_path / "busy", "is a file": tmp_path / "file",
             "holds a centre": data_dir}[target]
    if target == "has a file":
        place.mkdir()
        (place / "notes.txt").write_text("mine")
    elif target == "is a file":
        place.write_text("mine")
    before = sorted(str(p) for p in tmp_path.rglob("*") if "backups" not in p.parts)
    result = run_cli(place, "restore", tmp_path / "backups")
    if target == "is a file":
        assert result.exit_code == 2 and "is a file" in result.output  # click's usage error
    else:
        assert result.exit_code == 1
        assert "restored into a new or empty data directory only. Nothing was changed." in \
            result.output
    assert sorted(str(p) for p in tmp_path.rglob("*") if "backups" not in p.parts) == before


def test_restore_into_an_empty_folder_fills_it(tmp_path, data_dir, run_cli):
    take_backup(data_dir, tmp_path / "backups")
    (tmp_path / "empty").mkdir()
    result = run_cli(tmp_path / "empty", "restore", tmp_path / "backups")
    assert result.exit_code == 0 and "Restored Centro de Prueba as it was at" in result.output
    assert "come back from the hub without their PIN" in result.output  # PINs stay at a centre
    assert db_rows(tmp_path / "empty", "SELECT name FROM centres") == [("Centro de Prueba",)]
    assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name]


def damage_database(backup: Path, *, fix_manifest: bool) -> str:
    path = backup / "infocentre.db"
    data = bytearray(path.read_bytes())
    page = 4096
    for n in range(2, len(data) // page, 5):  # a fifth of its pages: a bad disk
        data[n * page:(n + 1) * page] = secrets.token_bytes(page)
    path.write_bytes(bytes(data))
    if fix_manifest:  # the file and its manifest agree: only SQLite's check can tell
        manifest = json.loads((backup / MANIFEST).read_text())
        manifest["files"]["infocentre.db"] = {
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        (backup / MANIFEST).write_text(json.dumps(manifest))
    return "infocentre.db"


@pytest.mark.parametrize("damage, says", [
    ("database", "is damaged (infocentre.db): nothing was restored"),
    ("database, manifest agreeing", "is damaged (infocentre.db): nothing was restored"),
    ("secret key", "is damaged (secret_key): nothing was restored"),
    ("manifest", "There is no complete backup in"),
    ("blob", "1 photo or recording does not match its fingerprint"),
])
def test_a_damaged_backup_is_refused_whole(tmp_path, data_dir, run_cli, damage, says):
    blobs = fake_blobs(data_dir, 3, 5000)
    folder = tmp_path / "backups"
    older = take_backup(data_dir, folder)
    made = take_backup(data_dir, folder)
    if damage.startswith("database"):
        damage_database(made.path, fix_manifest="agreeing" in damage)
    elif damage == "secret key":
        (made.path / "secret_key").write_text("0" * 64 + "\n")
    elif damage == "manifest":
        for backup in (older, made):
            (backup.path / MANIFEST).unlink()
    else:
        blob = made.path / "media" / blobs[0][:2] / blobs[0]
        blob.unlink()  # a hard link: its twin in the older backup stays whole
        blob.write_bytes(b"\xff\xd8\xff\xe0 bit rot")
    result = run_cli(tmp_path / "restored", "restore", folder)
    assert result.exit_code == 1 and says in result.output, result.output
    assert not (tmp_path / "restored").exists()
    assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name]
    if damage.startswith("database"):
        assert f"infocentre restore {older.path}" in result.output
    if damage == "blob":
        assert "--skip-damaged-media" in result.output
        kept = restore_backup(folder, tmp_path / "restored", skip_damaged_media=True)
        assert kept["blobs_left_out"] == 1
        assert stored_blobs(tmp_path / "restored") == set(blobs[1:])


def test_a_blob_damaged_at_the_centre_is_left_out_of_the_backup_and_said(tmp_path, data_dir,
                                                                        run_cli):
    blobs = fake_blobs(data_dir, 3, 5000)
    Store(data_dir / "media").path(blobs[0]).write_bytes(b"\xff\xd8\xff\xe0 bit rot")
    result = run_cli(data_dir, "backup", tmp_path / "backups")
    assert result.exit_code == 0
    assert "1 photo or recording is damaged on this computer and was left out" in result.output
    [backup] = list_backups(tmp_path / "backups")
    assert read_manifest(backup)["damaged"] == [blobs[0]]
    restore_backup(backup, tmp_path / "restored")
    assert stored_blobs(tmp_path / "restored") == set(blobs[1:])


def test_backups_are_refused_where_no_centre_is_set_up(tmp_path):
    with pytest.raises(Exception, match="there is nothing to back up"):
        take_backup(tmp_path / "nothing", tmp_path / "backups")
    init_installation(tmp_path / "c", role="node", name="Centro", language="en")
    assert take_backup(tmp_path / "c", tmp_path / "backups").blobs == 0
    assert sqlite3.connect(tmp_path / "c" / "infocentre.db").execute(
        "PRAGMA integrity_check").fetchall() == [("ok",)]


def test_the_daily_job_takes_one_backup_a_day_into_its_folder_and_says_when_it_cannot(
        tmp_path, app, clock):
    from kiosk.backups import daily_backup

    config = {**app.config, "BACKUP_DIR": str(tmp_path / "daily"), "BACKUP_KEEP": 3}
    assert daily_backup(config, now=clock) is not None
    assert daily_backup(config, now=clock) is None  # one a day
    clock.advance(days=1)
    assert daily_backup({**config, "BACKUP_DAILY": False}, now=clock) is None
    (tmp_path / "blocked").write_text("a file where the folder should be")
    assert daily_backup({**config, "BACKUP_DIR": str(tmp_path / "blocked")}, now=clock) is None
    assert len(list_backups(tmp_path / "daily")) == 1
    assert daily_backup(config, now=clock) is not None
    assert len(list_backups(tmp_path / "daily")) == 2
