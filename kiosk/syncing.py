"""Running syncs at a centre: their status kept in the database, the words people read about
it, and the ``Centre`` the daemon (sync/daemon.py) syncs.

Three things start a sync: ``infocentre sync now``, the daemon (``infocentre sync daemon``, or
inside ``infocentre serve`` when ``SYNC_DAEMON`` is on) and the "Sync now" button. All go through
``run_sync``, which holds the data directory's ``sync.lock`` (``sync.daemon.sync_lock``) and
records every attempt in ``sync_status``. Imports Flask's app object only as a parameter,
``kiosk.data``, ``kiosk.i18n`` and the sync package.

A full disk (issue 14): a sync leaves a reserve of free space (``DISK_RESERVE_MB``), fetching no
photo or recording below it; and an outcome the database cannot take (a write needs room in its
WAL) goes to ``sync-outcome``, a small file made ahead of need and overwritten in place, so
"never synced" or an old success is not shown when a sync failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import random
import shutil
import sqlite3
from pathlib import Path

from flask import Flask

from sync.daemon import LOCK_WAIT, Daemon, Scheduler, is_running, sync_lock
from sync.engine import pending
from sync.errors import Refused, Unreachable

from .data import fetch, free_space, get_db, is_disk_full, iso, media_dir, schema_version, utcnow
from .errors import KioskError
from .i18n import _

log = logging.getLogger("infocentre.sync")
OUTCOME_FILE = "sync-outcome"
OUTCOME_BYTES = 2048  # the file's fixed size: rewriting it in place needs no new disk blocks
MB = 1000 * 1000


class NotJoined(KioskError):
    """This centre has no hub yet."""

    def __init__(self):
        super().__init__(_("This centre has no hub yet: infocentre join --hub ADDRESS --token "
                           "TOKEN"))


def require_hub(config) -> tuple[str, str]:
    """The hub's address and this centre's token; NotJoined if it has none."""
    if not (config["HUB_URL"] and config["SYNC_TOKEN"]):
        raise NotJoined()
    return config["HUB_URL"], config["SYNC_TOKEN"]


def hub_client(config):
    """A client for this centre's hub, waiting ``SYNC_TIMEOUT`` seconds for each answer.

    The same wait for connecting: urllib3 keeps the connect timeout while it writes the
    request, and on a lossy link TCP can pause longer than ten seconds in a 64 KiB chunk."""
    from sync.client import HubClient  # requests is slow to import: only when syncing

    return HubClient(*require_hub(config), timeout=(config["SYNC_TIMEOUT"],
                                                    config["SYNC_TIMEOUT"]))


# One sync, recorded.


def run_sync(app: Flask, *, on_progress=None, report=None):
    """Sync this centre now and record the outcome in ``sync_status``; returns the SyncReport.

    Raises Busy (nothing recorded), NotJoined, Unreachable or Refused (recorded), or another
    error (recorded as a local error, or ``disk_full``, then raised).
    """
    from sync.client import SyncReport, sync_now  # requests: only when syncing
    from sync.media import Store

    config = app.config
    data_dir = config["DATA_DIR"]
    with sync_lock(data_dir, wait=LOCK_WAIT), app.app_context():
        db = get_db()
        report = report or SyncReport()
        make_outcome_file(data_dir)
        try:
            to_send = pending(db)

            def progress(so_far) -> None:
                db.execute("UPDATE sync_status SET progress = ? WHERE id = 1", [json.dumps(
                    {"sent": so_far.sent, "received": so_far.received, "to_send": to_send,
                     "file_bytes": so_far.blob_bytes_sent + so_far.blob_bytes_received})])
                if on_progress:
                    on_progress(so_far)

            db.execute("UPDATE sync_status SET last_attempt_at = ? WHERE id = 1",
                       [iso(utcnow())])
            progress(report)
            client = hub_client(config)
            try:
                for _round in range(2):
                    sync_now(db, app.extensions["infocentre"]["synced_tables"], client,
                             schema=schema_version(db), batch_limit=config["SYNC_BATCH"],
                             page_limit=config["SYNC_PAGE"], report=report, on_step=progress,
                             store=Store(media_dir(config), reserve=disk_reserve(config)),
                             software=software_version())
                    # What arrived may call for an answer (an order reaching its cooperative):
                    # written now, it goes up at once rather than at the next sync.
                    if not after_sync(app, db):
                        break
            finally:
                client.close()
        except BaseException as e:
            report.status = ("unreachable" if isinstance(e, Unreachable) else
                             "refused" if isinstance(e, Refused) else "error")
            record_outcome(db, data_dir, report.as_dict(), error=e)
            raise
        record_outcome(db, data_dir, report.as_dict())
        return report


def after_sync(app: Flask, db) -> int:
    """Let each area take up what a sync or a bundle brought (its ``after_sync(db, centre_id=,
    now=)``); how many rows they wrote."""
    written = 0
    for area in app.extensions["infocentre"]["areas"]:
        if hasattr(area, "after_sync"):
            written += area.after_sync(db, centre_id=app.config["CENTRE_ID"], now=utcnow()) or 0
    return written


def software_version() -> str:
    """This installation's software version, as the hub shows it to the regional staff."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("infocentre")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "dev"


def disk_reserve(config) -> int:
    """Bytes of free space a sync leaves on the data directory's disk (``DISK_RESERVE_MB``;
    unset: 5 % of the disk, at least 200 MB and at most 1 GB: enough for SQLite and the day's
    work, and never tens of gigabytes held back on a large disk)."""
    if config["DISK_RESERVE_MB"] is not None:
        return int(config["DISK_RESERVE_MB"] * MB)
    try:
        total = shutil.disk_usage(config["DATA_DIR"]).total
    except OSError:
        total = 0
    return max(200 * MB, min(total // 20, 1024 * MB))


def record(db, report: dict | None, *, error: BaseException | None = None,
           data_dir: str | Path | None = None) -> None:
    """One attempt's outcome in ``sync_status``: a sync, a probe, or a hub bundle imported."""
    now = iso(utcnow())
    summary = json.dumps(report) if report else None
    if error is None:
        db.execute("UPDATE sync_status SET last_attempt_at = ?, last_success_at = ?, "
                   "last_error_code = NULL, last_error_detail = NULL, failures = 0, "
                   "progress = NULL, last_report = coalesce(?, last_report) WHERE id = 1",
                   [now, now, summary])
    else:
        db.execute("UPDATE sync_status SET last_attempt_at = ?, last_error_code = ?, "
                   "last_error_detail = ?, failures = failures + 1, progress = NULL, "
                   "last_report = coalesce(?, last_report) WHERE id = 1",
                   [now, error_code(error, data_dir), str(error)[:500], summary])


def record_outcome(db, data_dir: str | Path, report: dict | None, *,
                   error: BaseException | None = None) -> None:
    """``record``, or, when the database cannot take it (a full disk), the outcome file: an
    attempt is never lost, nor shown as a success it was not."""
    try:
        if db.conn.in_transaction:  # what failed is undone first; the outcome stands alone
            db.conn.rollback()
        record(db, report, error=error, data_dir=data_dir)
        if _read_outcome(data_dir):
            _write_outcome(data_dir, None)  # the database has the last word again
    except (sqlite3.Error, OSError) as e:
        log.error("the sync's outcome could not be saved in the database (%s); it is kept in "
                  "%s", e, OUTCOME_FILE)
        with contextlib.suppress(sqlite3.Error):
            if db.conn.in_transaction:
                db.conn.rollback()
        failed = error is not None
        try:
            before = failures(db, data_dir)
        except sqlite3.Error:
            before = 0
        _write_outcome(data_dir, {
            "at": iso(utcnow()), "success": not failed,
            "code": error_code(error, data_dir) if failed else None,
            "detail": str(error)[:300] if failed else None,
            "failures": before + 1 if failed else 0,
            "media_waiting": (report or {}).get("media_waiting", 0)})


def make_outcome_file(data_dir: str | Path) -> None:
    """Make the outcome file at its full size while there is room, so a full disk can still
    take an outcome (its blocks are rewritten, never added to)."""
    path = Path(data_dir) / OUTCOME_FILE
    with contextlib.suppress(OSError):
        if not path.exists() or path.stat().st_size != OUTCOME_BYTES:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.pwrite(fd, b" " * OUTCOME_BYTES, 0)
                os.fsync(fd)
            finally:
                os.close(fd)


def _write_outcome(data_dir: str | Path, outcome: dict | None) -> None:
    """Overwrite the outcome file in place (None: blank it)."""
    data = json.dumps(outcome).encode() if outcome else b""
    if len(data) > OUTCOME_BYTES:
        data = json.dumps({**outcome, "detail": None}).encode()[:OUTCOME_BYTES]
    try:
        fd = os.open(Path(data_dir) / OUTCOME_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.pwrite(fd, data.ljust(OUTCOME_BYTES), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        log.error("the sync's outcome could not be saved anywhere: %s", e)


def _read_outcome(data_dir: str | Path) -> dict | None:
    """The outcome kept in the file, or None (none, or unreadable)."""
    try:
        found = json.loads((Path(data_dir) / OUTCOME_FILE).read_bytes().strip() or b"null")
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("at"), str) else None


def error_code(error: BaseException, data_dir: str | Path | None = None) -> str:
    if isinstance(error, Unreachable):
        return f"unreachable:{error.reason}"
    if isinstance(error, Refused):
        return f"refused:{error.code}"
    if isinstance(error, NotJoined):
        return "not_joined"
    if is_disk_full(error, data_dir):
        return "disk_full"
    return "error"


def failures(db, data_dir: str | Path | None = None) -> int:
    """Failed attempts in a row, the outcome file's included when it is the newer."""
    failures, attempt = db.execute(
        "SELECT failures, last_attempt_at FROM sync_status WHERE id = 1").fetchone()
    kept = _read_outcome(data_dir) if data_dir else None
    if kept and kept["at"] >= (attempt or ""):
        return int(kept.get("failures") or 0)
    return failures


# What people read.


def status(db, data_dir: str | Path) -> dict:
    """The centre's sync status: times as aware datetimes (or None), the last error as a code,
    the photos and recordings waiting for room and the disk's free bytes. An outcome the
    database could not take (``sync-outcome``) counts when it is the newer."""
    found = fetch(db, "SELECT * FROM sync_status WHERE id = 1")[0]
    running = is_running(data_dir)
    last_report = json.loads(found["last_report"]) if found["last_report"] else None
    kept = _read_outcome(data_dir)
    if kept and kept["at"] >= (found["last_attempt_at"] or ""):
        found.update(last_attempt_at=kept["at"], last_error_code=kept.get("code"),
                     last_error_detail=kept.get("detail"),
                     failures=kept.get("failures") or 0)
        if kept.get("success"):
            found["last_success_at"] = kept["at"]
        last_report = {**(last_report or {}), "media_waiting": kept.get("media_waiting", 0)}
    return {
        "last_success": _moment(found["last_success_at"]),
        "last_attempt": _moment(found["last_attempt_at"]),
        "next_attempt": _moment(found["next_attempt_at"]),
        "pending_changes": pending(db),
        "error_code": found["last_error_code"],
        "error_detail": found["last_error_detail"],
        "failures": found["failures"],
        "running": running,
        "progress": json.loads(found["progress"]) if running and found["progress"] else None,
        "last_report": last_report,
        "media_waiting": (last_report or {}).get("media_waiting", 0) if not running else 0,
        "disk_free": free_space(data_dir),
    }


def _moment(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def error_words(code: str | None) -> str | None:
    """The last error in plain words, in the current language."""
    if not code:
        return None
    words = {
        "unreachable:no_answer": _("No connection to the hub. The centre keeps working and "
                                   "will try again by itself."),
        "unreachable:not_hub": _("Something else answered instead of the hub (perhaps a page "
                                 "asking to sign in to the network). It will try again."),
        "unreachable:hub_error": _("The hub has a problem right now. It will try again later."),
        "unreachable:busy": _("The hub is busy with many centres right now. It will try again "
                              "by itself."),
        "unreachable:damaged": _("The connection broke during the sync. Nothing is lost; it "
                                 "will try again."),
        "refused:revoked": _("The hub no longer accepts this centre. Ask the regional staff "
                             "for a new token."),
        "refused:unauthenticated": _("The hub did not recognise this centre. Check the date "
                                     "and time of this computer, or ask the regional staff for "
                                     "a new token."),
        "refused:schema_too_old": _("Infocentre must be updated at this centre before it can "
                                    "sync again."),
        "not_joined": _("This centre is not connected to a regional hub yet."),
        "error": _("A problem on this computer stopped the sync. Ask the centre's admin to "
                   "look at the log."),
        "disk_full": _("The disk of this computer is full, so the sync stopped. Nothing is "
                       "lost: it will try again once space is freed. Tell the centre's admin."),
    }
    if code in words:
        return words[code]
    if code.startswith("refused:"):
        return _("The hub refused this centre's changes (%(code)s). Ask the regional staff.",
                 code=code.partition(":")[2])
    return _("The last sync did not finish. It will try again.")


def disk_words(found: dict, size) -> str | None:
    """Photos and recordings waiting for room on the disk, in plain words (``size`` formats a
    number of bytes), or None."""
    if not found["media_waiting"]:
        return None
    return _("Disk almost full: photos and recordings wait until space is freed (%(free)s "
             "free).", free=size(found["disk_free"] or 0))


# The daemon's view of this centre.


class Centre:
    """This centre as the daemon syncs it (``sync.daemon.Centre``): each call in its own app
    context, every outcome recorded in ``sync_status``."""

    def __init__(self, app: Flask):
        self.app = app
        self.data_dir = app.config["DATA_DIR"]

    def failures(self) -> int:
        with self.app.app_context():
            return failures(get_db(), self.data_dir)

    def probe(self) -> None:
        """Is the hub there? One small GET; Unreachable (recorded) if not."""
        client = hub_client(self.app.config)
        try:
            client.hello()
        except Unreachable as e:
            with self.app.app_context():
                record_outcome(get_db(), self.data_dir, None, error=e)
            raise
        finally:
            client.close()

    def sync(self):
        return run_sync(self.app)

    def plan(self, seconds: float) -> None:
        # The scheduler waits on this machine's clock; people are shown the hub's (utcnow).
        with self.app.app_context():
            get_db().execute("UPDATE sync_status SET next_attempt_at = ? WHERE id = 1",
                             [iso(utcnow() + dt.timedelta(seconds=seconds))])

    def error_code(self, error: BaseException) -> str:
        return error_code(error, self.data_dir)


def make_daemon(app: Flask, scheduler: Scheduler | None = None, *, rng=random) -> Daemon:
    """The daemon that syncs this centre, on ``scheduler`` (a new one if None); not started."""
    config = app.config
    return Daemon(Centre(app), interval=config["SYNC_INTERVAL"],
                  retry_min=config["SYNC_RETRY_MIN"], retry_max=config["SYNC_RETRY_MAX"],
                  scheduler=scheduler, rng=rng)
