"""The running server's background jobs: the day's backup (kiosk/backups.py) and each area's
daily housekeeping (an area may offer ``DAILY``, a list of ``job(db, *, config, now)``), on the
scheduler of sync/daemon.py, which also carries a joined centre's sync daemon. Imports
``kiosk.data`` and ``sync.daemon``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Flask

from sync.daemon import DAILY_FIRST, Scheduler

from . import areas, backups
from .data import get_db, utcnow


def daily_jobs(app: Flask) -> list[tuple[str, Callable[[], object]]]:
    """(name, job) of every daily job of this installation, each run in its own app context.

    The backup comes first: it is the one a dead disk makes count. It takes one a day (UTC) at
    most, however often the PC is started, and logs rather than raises when it cannot."""
    found = [("backup", functools.partial(backups.daily_backup, app.config))]
    for area in areas(app.config["AREAS"]):
        for job in getattr(area, "DAILY", ()):
            found.append((f"{area.__name__}.{job.__name__}",
                          functools.partial(_run, app, job)))
    return found


def _run(app: Flask, job) -> object:
    with app.app_context():
        return job(get_db(), config=app.config, now=utcnow())


def start(app: Flask, *, first: float = DAILY_FIRST) -> Scheduler:
    """A started scheduler running the daily jobs, the first time ``first`` seconds from now."""
    scheduler = Scheduler()
    for name, job in daily_jobs(app):
        scheduler.daily(name, job, first=first)
    scheduler.start()
    return scheduler
