"""Backups of a whole data directory (issue 15): what one holds, how it is written so that a cut
never passes for a good one, which are kept, and the daily one. ``kiosk.restore`` puts one back.

Imports kiosk.config, kiosk.data, kiosk.i18n and the sync engine's state; never Flask. A folder
of backups::

    DIR/infocentre-00012-20261123T150000Z/   one complete backup: its MANIFEST.json is written
        infocentre.db  config.json  secret_key  sync_token  media/ab/abcdef...  MANIFEST.json
    DIR/.partial-20261123T160000Z-ab12cd/    one being written: never listed, removed by the next
    DIR/.lock                                held while a backup is written

The database is copied with SQLite's online backup, in one step, so it is the database of one
moment while the kiosk goes on writing. Blobs never change once stored (they are named by their
SHA-256): one the previous backup holds is a hard link to it, and only new ones are copied,
each checked against its name. Where links cannot be made (a USB stick's FAT), blobs are copied.
Backups are numbered: the newest is the highest number, whatever a PC's clock said.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2.filters import do_filesizeformat

from sync.media import Store

from . import config as config_module
from .data import PRIVATE_DIR, PRIVATE_FILE, free_space, is_disk_full, open_db
from .data import backup as copy_database
from .errors import KioskError
from .i18n import _

log = logging.getLogger("infocentre.backup")
FORMAT = 1
MANIFEST = "MANIFEST.json"
PREFIX = "infocentre-"
PARTIAL = ".partial-"
LOCK = ".lock"
NAME = re.compile(r"infocentre-(\d{5,})-\d{8}T\d{6}Z")
BLOB = re.compile(r"[0-9a-f]{64}")
# What a data directory holds besides the database and the media store. The rest is made again
# (thumbnails, the sync lock and outcome file) or is not the installation's (logs, the copies
# taken before a migration, folders kept aside by ``init --force``).
FILES = (config_module.CONFIG_FILE, config_module.SECRET_FILE, config_module.TOKEN_FILE,
         "sync-high-water")
REQUIRED = (config_module.CONFIG_FILE, config_module.SECRET_FILE, config_module.DATABASE_FILE)
CHUNK = 1024 * 1024
LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES)
DEFAULT_KEEP = 7


class BackupError(KioskError):
    """A backup could not be written (nothing of it is kept), or cannot be restored."""


@dataclass
class BackupReport:
    path: Path
    seconds: float = 0.0
    database_bytes: int = 0
    blobs: int = 0
    blobs_copied: int = 0
    blobs_linked: int = 0
    bytes_copied: int = 0
    damaged: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"path": str(self.path), "seconds": round(self.seconds, 3),
                "database_bytes": self.database_bytes, "blobs": self.blobs,
                "blobs_copied": self.blobs_copied, "blobs_linked": self.blobs_linked,
                "bytes_copied": self.bytes_copied, "damaged": self.damaged,
                "removed": [str(p) for p in self.removed]}


def settings(config) -> dict:
    """Where the daily backups go and how many are kept, from an app's config."""
    folder = Path(config["DATA_DIR"]) / (config.get("BACKUP_DIR") or "backups")  # relative: to it
    return {"folder": folder, "keep": int(config.get("BACKUP_KEEP") or DEFAULT_KEEP)}


def list_backups(folder: str | os.PathLike) -> list[Path]:
    """The complete backups in ``folder``, newest first (by number, never by a clock)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = [(int(m[1]), Path(e.path)) for e in entries
             if (m := NAME.fullmatch(e.name)) and e.is_dir() and is_complete(Path(e.path))]
    return [path for _n, path in sorted(found, reverse=True)]


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a backup whose writing finished (its manifest is its last file)."""
    return read_manifest(path) is not None


def read_manifest(path: Path) -> dict | None:
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not (isinstance(manifest, dict) and manifest.get("format") == FORMAT
            and isinstance(manifest.get("files"), dict) and isinstance(manifest.get("blobs"), list)
            and all(name in manifest["files"] for name in REQUIRED)):
        return None
    return manifest


def take_backup(data_dir: str | os.PathLike, folder: str | os.PathLike, *,
                keep: int = DEFAULT_KEEP, reserve: int = 0,
                now: Callable[[], dt.datetime] | None = None) -> BackupReport:
    """Write a backup of ``data_dir`` into ``folder``, then keep only the newest ``keep``.

    :param reserve: bytes to leave free when ``folder`` is on the data directory's disk, so the
        centre keeps working (the sync's reserve).
    Raises BackupError (in the terminal's language) when the folder cannot take it: nothing of
    it is kept, older backups are untouched.
    """
    data_dir, folder = Path(data_dir), Path(folder)
    started = time.monotonic()
    for name in (config_module.CONFIG_FILE, config_module.SECRET_FILE,
                 config_module.DATABASE_FILE):
        if not (data_dir / name).is_file():
            raise BackupError(_("No centre is set up in %(path)s: there is nothing to back up.",
                                path=data_dir))
    try:
        folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except OSError as e:
        raise BackupError(_("Cannot write backups to %(path)s: %(error)s", path=folder,
                            error=e.strerror)) from e
    with _locked(folder):
        _remove_partials(folder)
        previous = next(iter(list_backups(folder)), None)
        blobs = _blobs(data_dir / "media")
        _check_room(data_dir, folder, blobs, previous, reserve)
        part = folder / f"{PARTIAL}{_stamp(now)}-{secrets.token_hex(3)}"
        try:
            report = _write(data_dir, part, previous, now)
            number = _number(previous) + 1
            final = folder / f"{PREFIX}{number:05d}-{report.made_at}"
            os.rename(part, final)
            sync_dir(folder)
        except BaseException as e:
            shutil.rmtree(part, ignore_errors=True)
            if is_disk_full(e):
                free = free_space(folder)
                raise BackupError(_(
                    "The disk of %(path)s is full (%(free)s free): the backup was not kept, "
                    "older backups are untouched. Free some space, or keep fewer backups "
                    "(--keep), and try again.", path=folder,
                    free=do_filesizeformat(free or 0))) from e
            if isinstance(e, OSError):
                raise BackupError(_("Cannot write backups to %(path)s: %(error)s", path=folder,
                                    error=e.strerror or e)) from e
            raise
        result = report.result
        result.path = final
        result.removed = prune(folder, keep)
    result.seconds = time.monotonic() - started
    log.info("backup %s: %d blobs (%d copied), %.1f s", final, result.blobs,
             result.blobs_copied, result.seconds)
    return result


def take_daily_backup(data_dir: str | os.PathLike, *, folder: str | os.PathLike | None = None,
                      keep: int = DEFAULT_KEEP, reserve: int = 0,
                      now: Callable[[], dt.datetime] | None = None) -> BackupReport | None:
    """Take today's backup unless one was already taken today (by ``now``'s UTC date); None
    then, or when another backup into that folder is being written."""
    folder = Path(folder) if folder else Path(data_dir) / "backups"
    today = (now or _utc)().date()
    newest = next(iter(list_backups(folder)), None)
    if newest is not None:
        made = (read_manifest(newest) or {}).get("made_at", "")
        if made[:10] == today.isoformat():
            return None
    try:
        return take_backup(data_dir, folder, keep=keep, reserve=reserve, now=now)
    except _Busy:
        return None


def daily_backup(config, *, now: Callable[[], dt.datetime] | None = None
                 ) -> BackupReport | None:
    """The daemon's daily job, from an app's config (plain values): today's backup into
    ``BACKUP_DIR`` unless ``BACKUP_DAILY`` is off or one was taken today. Never raises for a
    backup that cannot be written (a full disk, a stick pulled out): logged, and tried again at
    the next turn, while the centre goes on working."""
    if not config.get("BACKUP_DAILY", True):
        return None
    from .syncing import disk_reserve  # the sync's reserve: a backup leaves the same room

    chosen = settings(config)
    try:
        return take_daily_backup(config["DATA_DIR"], folder=chosen["folder"],
                                 keep=chosen["keep"], reserve=disk_reserve(config), now=now)
    except (BackupError, OSError) as e:
        log.warning("the daily backup could not be taken: %s", e)
        return None


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` complete backups; the paths removed."""
    removed = []
    for old in list_backups(folder)[max(1, keep):]:
        shutil.rmtree(old, ignore_errors=True)
        removed.append(old)
    return removed


# Writing one backup.


@dataclass
class _Written:
    made_at: str
    result: BackupReport


def _write(data_dir: Path, part: Path, previous: Path | None, now) -> _Written:
    # First the database, then the media: a row can only name a blob stored before it, and
    # no blob is removed while the backup holds the store (``Store.keeping``: a sweep deletes
    # the files rows stopped naming, a replaced photo), so every blob the copy names is still
    # there to take.
    with Store(data_dir / "media").keeping():
        return _write_kept(data_dir, part, previous, now)


def _write_kept(data_dir: Path, part: Path, previous: Path | None, now) -> _Written:
    part.mkdir(mode=PRIVATE_DIR)
    result = BackupReport(part)
    files = {}
    source = open_db(data_dir / config_module.DATABASE_FILE)
    try:
        copy_database(source, part / config_module.DATABASE_FILE)
        offset_ms = _offset_ms(source)
    finally:
        source.close()
    made = (now or _utc)() + dt.timedelta(milliseconds=offset_ms)  # by the hub's clock
    files[config_module.DATABASE_FILE] = _describe(part / config_module.DATABASE_FILE)
    result.database_bytes = files[config_module.DATABASE_FILE]["size"]
    # Listed after the copy, not before it: a photo stored, and named by a row, between an
    # earlier listing and the copy would be named by the backup and missing from it (the
    # listing for the room check came first, and a terminal saving a photo lost it).
    blobs = _blobs(data_dir / "media")
    for name in FILES:
        if (data_dir / name).is_file():
            files[name] = copy_file(data_dir / name, part / name)
    listed = []
    media = part / "media"
    link = previous is not None
    for sha, (path, size) in sorted(blobs.items()):
        target = media / sha[:2] / sha
        target.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        old = previous / "media" / sha[:2] / sha if previous else None
        if link and old.is_file() and old.stat().st_size == size:
            try:
                os.link(old, target)
                result.blobs_linked += 1
                listed.append([sha, size])
                continue
            except OSError as e:
                if e.errno not in LINK_REFUSED:
                    raise
                link = False  # this filesystem takes no links: copy every blob
        copied = copy_file(path, target)
        if copied["sha256"] != sha:
            # Damaged on this disk: a copy would carry the damage. Left out, and said; the hub
            # sends it again to a centre restored without it.
            target.unlink()
            result.damaged.append(sha)
            log.warning("blob %s does not match its fingerprint: not backed up", sha)
            continue
        result.blobs_copied += 1
        result.bytes_copied += size
        listed.append([sha, size])
    result.blobs = len(listed)
    for folder in (*{p.parent for p in media.glob("*/*")}, media):
        if folder.is_dir():
            sync_dir(folder)
    stamp = made.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    manifest = {"format": FORMAT, "made_at": made.astimezone(dt.timezone.utc).isoformat(
                    timespec="seconds"), "files": files, "blobs": listed,
                "damaged": result.damaged, **_identity(data_dir)}
    _write_file(part / MANIFEST, json.dumps(manifest, indent=1).encode())  # last: it is done
    sync_dir(part)
    return _Written(stamp, result)


def _identity(data_dir: Path) -> dict:
    stored = config_module.read_file(data_dir)
    return {"role": stored.get("ROLE"), "centre_id": stored.get("CENTRE_ID"),
            "centre_name": stored.get("CENTRE_NAME")}


def _offset_ms(db) -> int:
    """The hub's clock minus this PC's, as the last sync measured it (0 before one)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE name = '_sync_state'").fetchone():
        return 0
    row = db.execute("SELECT offset_ms FROM _sync_state WHERE id = 1").fetchone()
    return row[0] if row and isinstance(row[0], int) else 0


def _blobs(media: Path) -> dict[str, tuple[Path, int]]:
    """The complete blobs of a media store: SHA-256 → (path, size). Never its partial or
    temporary files, nor the thumbnails made here."""
    found = {}
    try:
        shelves = [e for e in os.scandir(media) if len(e.name) == 2 and e.is_dir()]
    except FileNotFoundError:
        return found
    for shelf in shelves:
        for entry in os.scandir(shelf.path):
            if BLOB.fullmatch(entry.name) and entry.name[:2] == shelf.name and entry.is_file():
                found[entry.name] = (Path(entry.path), entry.stat().st_size)
    return found


def _check_room(data_dir: Path, folder: Path, blobs: dict, previous: Path | None,
                reserve: int) -> None:
    """Refuse at once, writing nothing, when the backup cannot fit (a rough measure: the
    database as it is, and the blobs the previous backup does not hold)."""
    database = data_dir / config_module.DATABASE_FILE
    need = sum(p.stat().st_size for p in (database, Path(f"{database}-wal")) if p.exists())
    for sha, (_path, size) in blobs.items():
        if previous is None or not (previous / "media" / sha[:2] / sha).exists():
            need += size
    try:
        same_disk = folder.stat().st_dev == data_dir.stat().st_dev
    except OSError:
        same_disk = False
    free = free_space(folder)
    if free is not None and free < need + (reserve if same_disk else 0):
        raise BackupError(_(
            "There is not enough room in %(path)s for a backup: it needs about %(need)s and "
            "%(free)s is free. Nothing was written; older backups are untouched.",
            path=folder, need=do_filesizeformat(need), free=do_filesizeformat(free)))


def copy_file(source: Path, target: Path) -> dict:
    """Copy a file owner-only, synced to the disk; its size and SHA-256."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out, source.open("rb") as f:
        while data := f.read(CHUNK):
            digest.update(data)
            out.write(data)
            size += len(data)
        out.flush()
        os.fsync(out.fileno())
    return {"size": size, "sha256": digest.hexdigest()}


def _describe(path: Path) -> dict:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while data := f.read(CHUNK):
            digest.update(data)
            size += len(data)
    return {"size": size, "sha256": digest.hexdigest()}


def _write_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def sync_dir(path: Path) -> None:
    """Make a folder's entries (new names, a rename) durable; some filesystems cannot."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_partials(folder: Path) -> None:
    """Backups cut short (a power cut, a killed process): never good, so never kept."""
    for entry in os.scandir(folder):
        if entry.name.startswith(PARTIAL) and entry.is_dir():
            log.warning("removing a backup that was cut short: %s", entry.path)
            shutil.rmtree(entry.path, ignore_errors=True)


def _number(backup: Path | None) -> int:
    match = NAME.fullmatch(backup.name) if backup else None
    return int(match[1]) if match else 0


def _stamp(now) -> str:
    return (now or _utc)().astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class _Busy(BackupError):
    """Another backup into the same folder is being written."""


@contextlib.contextmanager
def _locked(folder: Path):
    """One backup into a folder at a time (an OS lock, freed if the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows: no second backup runs on a centre's PC at once anyway
        yield
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise _Busy(_("Another backup into %(path)s is being written; try again when it "
                          "ends.", path=folder)) from None
        yield
    finally:
        os.close(fd)
