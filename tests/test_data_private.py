"""The data directory is its owner's alone (issue 14): its database, WAL, media, backups and
config hold names, PIN hashes and photos. Directories 0700 and files 0600 after init, demo,
serve and a sync, whatever umask the commands were started with; an older install's files are
made private when the app opens it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk import create_app
from kiosk.data import backup, open_db

from .live import infocentre, join_centre, start_demo_server, start_server


def open_to_others(root: Path, *, besides=()) -> list[str]:
    """Everything under ``root`` (itself included) that group or others may read, write or
    enter, as 'path mode'."""
    found = []
    for folder, dirs, files in os.walk(root):
        for path in [Path(folder), *(Path(folder) / n for n in dirs + files)]:
            if path.name in besides or path == root.parent:
                continue
            mode = path.lstat().st_mode & 0o777
            if mode & 0o077 and not path.is_symlink():
                found.append(f"{path.relative_to(root.parent)} {oct(mode)}")
    return sorted(set(found))


@pytest.fixture
def usual_umask():
    """The umask a desktop session or a service manager usually gives (0o022): files made
    without care come out readable by every account of the PC."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.live
def test_init_demo_serve_and_a_sync_leave_nothing_readable_by_others(tmp_path, usual_umask):
    hub = start_demo_server(tmp_path / "hub", role="hub")
    node = tmp_path / "centre"
    server = None
    try:
        join_centre(hub.data_dir, node, "Centro San Pablo", hub.url)
        infocentre(node, "demo")
        server = start_server(node, env={"INFOCENTRE_SYNC_DAEMON": "0"})
        assert '"status": "synced"' in infocentre(node, "sync", "now", "--json").stdout
        assert (node / "infocentre.db-wal").exists() and any(
            p.is_file() for p in (node / "media").rglob("*"))
        # server.log is the test's own file (tests/live.py opens it for the server's output).
        assert open_to_others(node, besides={"server.log"}) == []
    finally:
        if server:
            server.stop()
        hub.stop()
    for path in (node, hub.data_dir):
        assert open_to_others(path, besides={"server.log"}) == []


def test_an_older_install_is_made_private_when_the_app_opens_it(data_dir, usual_umask):
    """An install from before this rule: 0755 folders, 0644 files, a backup and a photo."""
    (data_dir / "backups").mkdir()
    (data_dir / "backups" / "20260101T000000Z-before-m0004.db").write_bytes(b"old copy")
    (data_dir / "media" / "ab").mkdir(parents=True, exist_ok=True)
    (data_dir / "media" / "ab" / ("ab" * 32)).write_bytes(b"a photo")
    for folder, dirs, files in os.walk(data_dir):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    assert open_to_others(data_dir)

    create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    assert open_to_others(data_dir) == []
    assert os.umask(0o022) == 0o077  # what the app writes from now on is private too


def test_a_backup_is_private_whatever_the_umask(data_dir, usual_umask, tmp_path):
    db = open_db(data_dir / "infocentre.db")
    try:
        made = backup(db, tmp_path / "elsewhere" / "copy.db")
    finally:
        db.close()
    assert open_to_others(made.parent) == []
