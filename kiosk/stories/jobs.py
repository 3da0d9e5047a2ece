"""Exports made from the hub's pages: each runs in a thread of its own while the page shows its
progress, and leaves a ZIP in the data directory's ``exports`` folder to download.

Imports the area's ``export`` and ``radio``, ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and
``sync.media``; no Flask request globals (the app is passed in). Jobs are kept in the memory of
the serving process (the hub serves from one); their files outlive a restart and are deleted
a day after they were made, when a new export starts.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sync.media import Store

from ..data import media_dir, open_db
from ..errors import KioskError
from ..i18n import _, use_language
from . import export, radio

log = logging.getLogger(__name__)

KEEP_SECONDS = 24 * 3600  # an export's file is deleted a day after it was made


@dataclass
class Job:
    id: str
    kind: str  # "archive" or "radio"
    consent: str
    centre: str | None
    started_at: str
    state: str = "running"  # running, done, failed
    done: int = 0
    total: int = 0
    message: str = ""  # why it failed, in the language of who started it
    result: dict = field(default_factory=dict)

    @property
    def percent(self) -> int:
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def public(self) -> dict:
        return {**asdict(self), "percent": self.percent}


def _registry(app) -> dict:
    return app.extensions.setdefault("stories_jobs", {"lock": threading.Lock(), "jobs": {}})


def folder(app) -> Path:
    path = Path(app.config["DATA_DIR"]) / "exports"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def path_of(app, job: Job) -> Path:
    return folder(app) / f"{job.id}.zip"


def find(app, job_id: str) -> Job | None:
    registry = _registry(app)
    with registry["lock"]:
        return registry["jobs"].get(job_id)


def running(app) -> Job | None:
    """The export being made now, if any: one at a time, the hub's disk and CPU are shared."""
    registry = _registry(app)
    with registry["lock"]:
        return next((j for j in registry["jobs"].values() if j.state == "running"), None)


def _tidy(app) -> None:
    """Delete export files older than a day (and forget their jobs)."""
    limit = time.time() - KEEP_SECONDS
    registry = _registry(app)
    for path in folder(app).glob("*.zip"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            with registry["lock"]:
                registry["jobs"].pop(path.stem, None)


def start(app, *, kind: str, consent: str = "region", centre: str | None = None, lang: str,
          now: dt.datetime) -> Job:
    """Start an export in a thread; returns its job at once. Raises KioskError when another
    runs."""
    registry = _registry(app)
    with registry["lock"]:
        if any(j.state == "running" for j in registry["jobs"].values()):
            raise KioskError(_("Another export is being made. Wait for it to end."))
        job = Job(id=secrets.token_urlsafe(12), kind=kind, consent=consent, centre=centre,
                  started_at=now.isoformat(timespec="seconds"))
        registry["jobs"][job.id] = job
    _tidy(app)
    threading.Thread(target=_run, args=(app, job, lang, now), name=f"stories-{kind}",
                     daemon=True).start()
    return job


def _run(app, job: Job, lang: str, now: dt.datetime) -> None:
    use_language(app.config["LOCALES_DIR"], lang)  # the catalogue's words, as the page's

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    db = open_db(app.config["DATABASE"])
    try:
        store = Store(media_dir(app.config))
        if job.kind == "radio":
            job.result = radio.export_radio(db, store, path_of(app, job), now=now,
                                            progress=progress)
        else:
            job.result = export.export_archive(db, store, path_of(app, job), now=now,
                                               consent=job.consent, centre=job.centre,
                                               progress=progress)
        job.state = "done"
    except KioskError as e:
        job.message, job.state = str(e), "failed"
    except Exception:
        log.exception("the stories' %s export failed", job.kind)
        job.message = _("The export failed. Try again; if it fails again, look at the hub's "
                        "log.")
        job.state = "failed"
    finally:
        db.close()


__all__ = ["Job", "find", "folder", "path_of", "running", "start"]
