"""Putting a backup back (issue 15): into an empty or new data directory only, every file checked
against the manifest first (the database by SQLite's ``integrity_check``, each blob against its
SHA-256), and the copy given a new identity, as the sync engine's rule for a restored database
says (sync/README.md, "Restores and clones").

Imports kiosk.backups, kiosk.config, kiosk.data and the sync engine; never Flask. The copy is
made in a hidden folder beside the target and renamed into place once whole, so a restore cut
short leaves no data directory that looks like one.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from pathlib import Path

from sync import watermark
from sync.engine.exchange import renew_instance
from sync.engine.hub import renew_epoch
from sync.engine.state import immediate

from . import config as config_module
from .backups import BLOB, MANIFEST, BackupError, copy_file, list_backups, read_manifest, sync_dir
from .data import PRIVATE_DIR, is_disk_full, make_private, open_db
from .i18n import _, ngettext


def find_backup(source: str | os.PathLike) -> Path:
    """``source`` itself when it is one backup, else the newest complete backup inside it."""
    source = Path(source)
    if (source / MANIFEST).exists():
        return source
    found = list_backups(source)
    if not found:
        raise BackupError(_("There is no complete backup in %(path)s.", path=source))
    return found[0]


def restore_backup(source: str | os.PathLike, data_dir: str | os.PathLike, *,
                   skip_damaged_media: bool = False) -> dict:
    """Fill the empty or new ``data_dir`` from a backup (or the newest in a folder of them).

    Refuses, changing nothing, a data directory that holds anything, and a backup that does
    not check out; with ``skip_damaged_media`` a backup whose only damage is in some photos or
    recordings is restored without them (the hub sends them again). Returns the manifest's
    identity, ``made_at``, ``path`` and ``blobs_left_out``.
    """
    backup, data_dir = find_backup(source), Path(data_dir)
    manifest = read_manifest(backup)
    if manifest is None:
        raise BackupError(_("%(path)s is not a complete backup (it was cut short, or is not "
                            "one); nothing was restored.", path=backup))
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(_("%(path)s is not empty: a backup is restored into a new or empty "
                            "data directory only. Nothing was changed.", path=data_dir))
    data_dir.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    work = data_dir.parent / f".{data_dir.name}.restoring-{secrets.token_hex(3)}"
    work.mkdir(mode=PRIVATE_DIR)
    try:
        left_out = _fill(backup, manifest, work, skip_damaged_media)
        _renew(work, manifest.get("role"))
        make_private(work)
        sync_dir(work)
        os.rename(work, data_dir)  # replaces an empty folder; a non-empty one was refused
        sync_dir(data_dir.parent)
    except BaseException as e:
        shutil.rmtree(work, ignore_errors=True)
        if is_disk_full(e):
            raise BackupError(_("The disk of %(path)s is full: nothing was restored. Free some "
                                "space and try again.", path=data_dir.parent)) from e
        if isinstance(e, OSError):
            raise BackupError(_("Cannot restore into %(path)s: %(error)s", path=data_dir,
                                error=e.strerror or e)) from e
        raise
    return {"path": backup, "made_at": manifest["made_at"], "role": manifest.get("role"),
            "centre_name": manifest.get("centre_name"), "blobs": len(manifest["blobs"]),
            "blobs_left_out": left_out}


def _fill(backup: Path, manifest: dict, work: Path, skip_damaged_media: bool) -> int:
    """Copy and check every file; BackupError naming what is damaged. Blobs left out."""
    damaged = []
    for name, expected in manifest["files"].items():
        if "/" in name or name.startswith(".") or not isinstance(expected, dict):
            damaged.append(str(name))
            continue
        try:
            copied = copy_file(backup / name, work / name)
        except FileNotFoundError:
            damaged.append(name)
            continue
        if copied != {"size": expected.get("size"), "sha256": expected.get("sha256")}:
            damaged.append(name)
    if not damaged and not _intact(work / config_module.DATABASE_FILE):
        damaged.append(config_module.DATABASE_FILE)
    if damaged:
        older = _older(backup)
        if older is None:
            raise BackupError(_("The backup %(path)s is damaged (%(files)s): nothing was "
                                "restored, and there is no older backup beside it.",
                                path=backup, files=", ".join(damaged)))
        raise BackupError(_("The backup %(path)s is damaged (%(files)s): nothing was restored. "
                            "Restore an older one: infocentre restore %(older)s",
                            path=backup, files=", ".join(damaged), older=older))
    bad = []
    media = work / "media"
    for entry in manifest["blobs"]:
        sha, size = (entry + [None, None])[:2] if isinstance(entry, list) else (None, None)
        if not (isinstance(sha, str) and BLOB.fullmatch(sha)):
            bad.append(str(sha))
            continue
        target = media / sha[:2] / sha
        target.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        try:
            copied = copy_file(backup / "media" / sha[:2] / sha, target)
        except FileNotFoundError:
            bad.append(sha)
            continue
        if copied != {"size": size, "sha256": sha}:
            target.unlink()
            bad.append(sha)
    if bad and not skip_damaged_media:
        raise BackupError(ngettext(
            "The backup %(path)s is damaged: %(num)d photo or recording does not match its "
            "fingerprint. Nothing was restored. To restore it without it (the hub sends it "
            "again if it has it), add --skip-damaged-media.",
            "The backup %(path)s is damaged: %(num)d photos or recordings do not match their "
            "fingerprints. Nothing was restored. To restore it without them (the hub sends "
            "them again if it has them), add --skip-damaged-media.", len(bad), path=backup))
    return len(bad)


def _intact(database: Path) -> bool:
    """SQLite's full ``integrity_check`` of a copied database file."""
    try:
        conn = sqlite3.connect(database)
        try:
            return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def _renew(work: Path, role: str | None) -> None:
    """The restored copy is a new copy of the database (property 6): a centre takes a new
    instance id and pulls everything again; a hub takes a new epoch, so every centre sends and
    pulls everything again."""
    db = open_db(work / config_module.DATABASE_FILE)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = '_sync_state'").fetchone():
            with immediate(db):
                if role == "hub":
                    renew_epoch(db, watermark.read(work))
                else:
                    renew_instance(db)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    if role == "node":
        from .syncing import make_outcome_file

        make_outcome_file(work)


def _older(backup: Path) -> Path | None:
    """The next older complete backup beside ``backup``, if any."""
    found = list_backups(backup.parent)
    if backup in found:
        later = found[found.index(backup) + 1:]
        return later[0] if later else None
    return None
