"""Syncing by itself, one sync at a time: the OS lock on the data directory's ``sync.lock``, the
back-off between failed tries, and the scheduler (APScheduler) that runs the sync loop and the
server's daily jobs. Imports the standard library, APScheduler and ``sync.errors`` only: it works
on plain values and callables, never on the Flask app (DESIGN, "sync/daemon").

What a sync does and where its outcome is kept is the caller's (a ``Centre``); the words people
read stay with the kiosk (kiosk/syncing.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from .errors import AlreadySyncing, SyncError

log = logging.getLogger("infocentre.sync")
LOCK_FILE = "sync.lock"
LOCK_WAIT = 1.0  # seconds a sync waits for the lock: longer than a look, shorter than a sync
DAILY_FIRST = 5.0  # seconds from start to a daily job's first run (see Scheduler.daily)


# One sync at a time: an OS lock on a file of the data directory.


@contextlib.contextmanager
def sync_lock(data_dir: str | Path, wait: float = 0.0):
    """Hold the centre's sync lock, or raise AlreadySyncing. The OS frees it if the process dies.

    ``wait`` is how long to keep trying, in seconds. A sync waits a moment, because
    ``is_running`` takes the lock for an instant to look, and a page polling it must not make a
    sync give up.
    """
    path = Path(data_dir) / LOCK_FILE
    handle = open(path, "a+b")  # noqa: SIM115 (closed below, after unlocking)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                _lock(handle)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise AlreadySyncing("Another sync of this centre is running.") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            _unlock(handle)
    finally:
        handle.close()


if os.name == "nt":  # a centre PC may run Windows
    import msvcrt

    def _lock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock(handle) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(handle) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def is_running(data_dir: str | Path) -> bool:
    """Whether a sync of the centre in ``data_dir`` holds the lock now (in any process)."""
    try:
        with sync_lock(data_dir):
            return False
    except AlreadySyncing:
        return True


# Back-off.


def retry_delay(failures: int, *, low: float, high: float, rng=random) -> float:
    """Seconds to wait after ``failures`` failed attempts in a row: doubling from ``low`` up to
    ``high``, each wait drawn between its half and its whole so centres do not retry in step."""
    ceiling = min(high, low * 2 ** max(0, failures - 1))
    return rng.uniform(ceiling / 2, ceiling)


# The scheduler.


class Scheduler:
    """The background jobs of a running installation: daily housekeeping, and a joined centre's
    sync loop (``Daemon``). A job's failure is logged and never stops the others."""

    def __init__(self):
        from apscheduler.schedulers.background import BackgroundScheduler

        self._scheduler = BackgroundScheduler(timezone=dt.timezone.utc)
        self.stopped = threading.Event()

    def start(self) -> None:
        if not self._scheduler.running and not self.stopped.is_set():
            self._scheduler.start()

    def stop(self) -> None:
        """Stop, waiting for a job that is running to end."""
        self.stopped.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def once(self, job_id: str, job: Callable[[], object], delay: float) -> None:
        """Run ``job`` once, ``delay`` seconds from now (by this machine's clock), instead of
        any run of ``job_id`` planned before."""
        if self.stopped.is_set():
            return
        run_date = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delay)
        self._scheduler.add_job(job, "date", run_date=run_date, id=job_id,
                                replace_existing=True, max_instances=1, misfire_grace_time=None)

    def daily(self, name: str, job: Callable[[], object], *, first: float = DAILY_FIRST) -> None:
        """Run ``job`` every day, the first time ``first`` seconds after the start: a centre's
        PC is often switched off every night, so a job counted from midnight, or a day after
        the start, might never run."""
        start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=first)
        # next_run_time: counted from the start date alone, a first run "now" would be due in
        # a day, since that instant is already past when the job is added.
        self._scheduler.add_job(_logged, "interval", args=[name, job], days=1, start_date=start,
                                next_run_time=start, id=f"daily:{name}", replace_existing=True,
                                max_instances=1, coalesce=True, misfire_grace_time=None)

    def jobs(self) -> list[str]:
        """The ids of the jobs planned (``daily:<name>``, ``sync``)."""
        return [job.id for job in self._scheduler.get_jobs()]


def _logged(name: str, job: Callable[[], object]) -> None:
    try:
        done = job()
    except Exception:
        log.exception("the daily job %s failed; it runs again tomorrow", name)
        return
    log.info("daily job %s done%s", name, f": {done}" if done is not None else "")


# The sync loop.


class Centre(Protocol):
    """What the daemon needs from the centre it syncs (kiosk/syncing.py provides it)."""

    def failures(self) -> int:
        """Failed attempts in a row, as recorded."""

    def probe(self) -> None:
        """Ask the hub's cheap hello; raise Unreachable (recorded) if it does not answer."""

    def sync(self):
        """Run one sync and record its outcome; return its SyncReport. Raises AlreadySyncing
        (nothing recorded), a SyncError or another error (recorded)."""

    def plan(self, seconds: float) -> None:
        """Note that the next try is ``seconds`` from now (may fail on a full disk)."""

    def error_code(self, error: BaseException) -> str:
        """The recorded code of a failure: ``unreachable:<reason>``, ``refused:<code>``,
        ``disk_full``, ``error`` (a problem on this computer) or another."""


class Daemon:
    """Syncs every ``interval`` seconds while the hub answers; backs off while it does not.

    A cheap probe (the hub's hello) comes first after a failure; a sync already running
    elsewhere is left alone and the daemon looks again at its next turn. Waits are in seconds,
    from ``retry_min`` doubling up to ``retry_max``.
    """

    def __init__(self, centre: Centre, *, interval: float, retry_min: float, retry_max: float,
                 scheduler: Scheduler | None = None, rng=random):
        self.centre = centre
        self.interval, self.retry_min, self.retry_max = interval, retry_min, retry_max
        self.scheduler = scheduler or Scheduler()
        self.rng = rng
        self.lock = threading.Lock()

    def start(self, delay: float = 1.0) -> None:
        self.scheduler.start()
        self._schedule(delay)

    def stop(self) -> None:
        self.scheduler.stop()

    def wake(self) -> None:
        """Try now (the "Sync now" button, when the daemon runs inside the server)."""
        self._schedule(0)

    def _schedule(self, delay: float) -> None:
        if self.scheduler.stopped.is_set():
            return
        self.scheduler.once("sync", self.attempt, delay)
        try:
            self.centre.plan(delay)
        except (sqlite3.Error, OSError) as e:  # a full disk: the try is planned all the same
            log.warning("the next try could not be noted in the database: %s", e)

    def attempt(self) -> float:
        """One turn: probe if the last one failed, sync, and plan the next turn; returns the
        seconds until that turn (0 when a turn was already running here)."""
        if not self.lock.acquire(blocking=False):
            return 0
        try:
            delay = self._turn()
        finally:
            self.lock.release()
        self._schedule(delay)
        return delay

    def _turn(self) -> float:
        failures = self.centre.failures()
        backoff = retry_delay(failures + 1, low=self.retry_min, high=self.retry_max,
                              rng=self.rng)
        try:
            if failures:
                self.centre.probe()
            report = self.centre.sync()
        except AlreadySyncing:
            return self.interval
        except Exception as e:  # recorded by the centre's sync or probe
            code = self.centre.error_code(e)
            if code == "disk_full":  # no traceback every try
                log.warning("sync failed: the disk is full (%s); next try in %.0f s", e, backoff)
            elif code == "error" and not isinstance(e, SyncError):
                log.exception("sync failed on this computer; next try in %.0f s", backoff)
            else:
                log.warning("sync failed (%s): %s; next try in %.0f s", code, e, backoff)
            return backoff
        log.info("synced: %d sent, %d received, %d bytes, %.1f s", report.sent, report.received,
                 report.bytes_sent + report.bytes_received, report.seconds)
        return self.interval
