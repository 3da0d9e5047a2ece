"""The data module: the only place that opens SQLite connections, and the schema migrations.

Every connection gets WAL, foreign keys and a busy timeout, wrapped in ``sqlite_utils.Database``.
Imports ``kiosk.schema`` (the core's migrations), ``kiosk.errors``, Flask's ``g`` for the
per-request connection only, and ``kiosk.i18n`` for what a full disk means.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import time
import unicodedata
import uuid
from pathlib import Path

from flask import current_app, g, has_app_context
from jinja2.filters import do_filesizeformat
from sqlite_utils import Database

from sync.engine.schema import MIGRATIONS as SYNC_MIGRATIONS
from sync.engine.state import immediate, read_state, snapshot
from sync.engine.text import tolerant_text

from .errors import ConfigError
from .i18n import _
from .schema import MIGRATIONS, RETIRED

log = logging.getLogger("infocentre.data")
BUSY_TIMEOUT_S = 10
CACHE_KIB = 16 * 1024
WAL_PAGES = 16_384  # the hub writer's checkpoint interval: 64 MiB of log at 4 KiB pages


def open_db(path: str | os.PathLike, *, shared: bool = False) -> Database:
    """A connection for the CLI, tests and background jobs (requests use ``get_db``).

    :param shared: used by several threads, one at a time (the hub's sync writer).
    """
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=not shared)
    # Text written as another code page (the sqlite3 tool in a Windows console) reads with
    # U+FFFD instead of failing every page; the sync engine reads strictly and mends it.
    conn.text_factory = tolerant_text
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    conn.execute("PRAGMA foreign_keys=on")
    # SQLite's default page cache (2 MB) misses on every write into the change-capture table
    # once it outgrows it (its rows sit by random id): three times the cost of a cached write.
    # The cache grows only as pages are used.
    conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    _ensure_wal(conn)
    conn.create_function("folded", 1, folded, deterministic=True)
    if shared:
        # The hub's writer: a batch of a thousand rows lands on pages all over a large database,
        # and a checkpoint after every commit (SQLite's default, at 1,000 pages of log) wrote
        # them to the file each time. Checkpointing every WAL_PAGES writes a page changed by
        # several exchanges once: a tenth less CPU per centre with 200 centres at once.
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
    return Database(conn, execute_plugins=False)


@functools.lru_cache(maxsize=8192)
def folded(text: str | None) -> str | None:
    """Text with accents and case taken away, so Ángel sorts and matches with the A's.

    Also the SQL function ``folded()`` of every connection: ``ORDER BY folded(name)`` gives
    the order Python's ``sorted(key=folded)`` gives (UTF-8 bytes sort as code points do), and
    calls Python once per row, where a collation would be called for every comparison.
    """
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _ensure_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL (it stays so), retrying while another connection switches it.

    Several processes opening a new file at once can get "database is locked" from the switch
    itself, which the busy timeout does not cover.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            if conn.execute("PRAGMA journal_mode=wal").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


# The data directory holds people's names, PIN hashes, photos and the secret key: it is the
# owner's alone (issue 14), every file the app makes in it too.
UMASK = 0o077
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(data_dir: str | os.PathLike) -> None:
    """Make the data directory owner-only: 0700 directories, 0600 files (its database, WAL,
    media, backups and config), fixing what an older install left readable by others.

    A subdirectory already owner-only was made by this app under its umask and is not walked
    again, so a start does not look at every photo each time. A file that cannot be changed
    (another owner) is logged and left, never a reason not to start.
    """
    if os.name == "nt":  # Windows keeps its own access lists; the user's profile is private
        return
    root = Path(data_dir)
    if _restrict(root, PRIVATE_DIR) is None:
        return
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as e:
            log.warning("cannot look into %s: %s", folder, e)
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                before = _restrict(Path(entry.path), PRIVATE_DIR)
                if before is not None and before != PRIVATE_DIR:
                    stack.append(Path(entry.path))
            else:
                _restrict(Path(entry.path), PRIVATE_FILE)


def _restrict(path: Path, mode: int) -> int | None:
    """Set ``path``'s permission bits to ``mode``; the bits it had (None if it is gone)."""
    try:
        before = path.stat().st_mode & 0o777
        if before != mode:
            os.chmod(path, mode)
        return before
    except FileNotFoundError:
        return None
    except OSError as e:
        log.warning("cannot make %s private: %s", path, e)
        return None


# A full disk (issue 14): what it looks like when a write fails, and how much room is left.

SQLITE_FULL, SQLITE_IOERR = 13, 10
NO_ROOM = 1024 * 1024  # bytes: an I/O error with less than this free is the disk being full


def free_space(path: str | os.PathLike) -> int | None:
    """Bytes free for this user on the filesystem of ``path`` (None if it cannot be told)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def is_disk_full(error: BaseException, path: str | os.PathLike | None = None) -> bool:
    """Whether ``error`` is a write that failed for lack of space: SQLite's "database or disk
    is full" (SQLITE_FULL, also the database's own size limit), an OSError ENOSPC or EDQUOT,
    or, when ``path`` (the data directory) is given, an SQLite I/O error while that disk has
    almost no room (SQLite cannot even make its shared-memory file on a full disk)."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None) or 0
        if code & 0xFF == SQLITE_FULL or "database or disk is full" in str(error):
            return True
        if (code & 0xFF == SQLITE_IOERR or "disk I/O error" in str(error)) and path:
            free = free_space(path)
            return free is not None and free < NO_ROOM
        return False
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_message(data_dir: str | os.PathLike | None) -> str:
    """What a command says when the disk holding the data directory is full."""
    free = free_space(data_dir) if data_dir else None
    return _("The disk of this computer is full (%(free)s free for %(path)s), so Infocentre "
             "cannot save its data. Free some space (old copies of the database are in its "
             "backups folder) and try again.",
             free=do_filesizeformat(free or 0), path=data_dir)


def media_dir(config) -> Path:
    """Where the installation's photos and recordings are stored (sync.media.Store)."""
    return Path(config["DATA_DIR"]) / "media"


_threads = threading.local()


def get_db() -> Database:
    """This request's connection.

    Each server thread keeps one connection open between requests: opening one costs more than
    most pages take to render. A transaction left open is rolled back at teardown.
    """
    if "db" not in g:
        path = current_app.config["DATABASE"]
        kept = getattr(_threads, "db", None)
        if kept is None or _threads.path != path:
            if kept is not None:
                kept.close()
            _threads.db, _threads.path = open_db(path), path
        g.db = _threads.db
    return g.db


@contextlib.contextmanager
def reading(db: Database):
    """Reads that must agree with each other see one moment of the database (the engine's
    ``snapshot``): a page made of several queries never meets, say, a learner enrolled between
    two of them. Reads only: a write inside would need the lock it was not begun with (that is
    ``writing``). Inside another transaction they already see one moment."""
    if db.conn.in_transaction:
        yield
        return
    with snapshot(db):
        yield


@contextlib.contextmanager
def writing(db: Database):
    """The kiosk's one way to write more than one statement: committed whole or not at all.

    The transaction begins ``IMMEDIATE``, holding the write lock before its first read. One
    begun deferred that reads and then writes cannot wait for the lock: SQLite refuses the
    upgrade at once with "database is locked" when another connection wrote since its read,
    which lost learners' answers under a full class. Waiting at the start is bounded by the
    busy timeout. Nested in one of its own, it is a savepoint of that transaction (the lock is
    already held); inside any other transaction it refuses, since that one may hold no lock.
    A page view that may change nothing reads first, and opens this only to write.
    """
    conn = db.conn
    depth = getattr(db, "_writes_open", 0)
    if depth == 0 and conn.in_transaction:
        raise RuntimeError("writing() inside a transaction it did not begin: that one may not "
                           "hold the write lock")
    name = f"writing_{depth}"
    db.execute(f"SAVEPOINT {name}" if depth else "BEGIN IMMEDIATE")
    db._writes_open = depth + 1
    try:
        yield db
    except BaseException:
        if conn.in_transaction:  # an error may already have ended it
            db.execute(f"ROLLBACK TO {name}" if depth else "ROLLBACK")
            if depth:
                db.execute(f"RELEASE {name}")
        raise
    else:
        db.execute(f"RELEASE {name}" if depth else "COMMIT")
    finally:
        db._writes_open = depth


def search_query(text: str) -> str | None:
    """An FTS5 query (the areas' search indexes) matching every word typed, each as the start
    of a word ("caf" finds "Café", "maiz" finds "maíz"); None when nothing searchable was
    typed. Only letters and digits pass, at most ten words, so no query syntax is ever run."""
    words = []
    for word in unicodedata.normalize("NFC", text or "")[:200].split():
        word = "".join(c for c in word if c.isalnum())
        if word:
            words.append('"' + word + '"*')
    return " ".join(words[:10]) or None


def fetch(db: Database, sql: str, params=()) -> list[dict]:
    """Rows of a read as dicts, in one statement.

    ``db.query()`` wraps every read in a savepoint (three statements); the pages every signed-in
    request goes through use this instead. Reads only: a write belongs in ``db.execute()``.
    """
    cursor = db.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def close_db(exc=None) -> None:
    db = g.pop("db", None)
    if db is not None and db.conn.in_transaction:
        db.conn.rollback()


def init_app(app, area_migrations=()) -> None:
    """Make the data directory owner-only, bring the schema up to date at start, then close a
    connection after each request."""
    make_private(app.config["DATA_DIR"])
    db = open_db(app.config["DATABASE"])
    try:
        migrate(db, Path(app.config["DATA_DIR"]), area_migrations)
    finally:
        db.close()
    app.teardown_appcontext(close_db)


def migrate(db: Database, data_dir: Path, area_migrations=()) -> list[str]:
    """Apply pending migrations after backing up a database that already holds data.

    The core's set comes first, then each area's (``area_migrations``, in the areas' order),
    then the sync engine's. Runs under ``BEGIN IMMEDIATE`` so two processes starting at once
    cannot both apply the same migration. Returns the names applied. Raises ConfigError, having
    changed nothing, for a database that a newer version of the code migrated further.
    """
    sets = (MIGRATIONS, *area_migrations, SYNC_MIGRATIONS)
    refuse_newer(db, sets)
    pending = [m.name for s in sets for m in s.pending(db)]
    if not pending:
        return []
    if _applied(db):
        backup(db, data_dir / "backups" / f"{stamp()}-before-{pending[0]}.db")
    with immediate(db):
        _adopt(db, sets)
        applied = [m.name for s in sets for m in s.pending(db)]
        for migrations in sets:
            migrations.apply(db)
    return applied


def _applied(db: Database) -> dict[str, set[str]]:
    """The names of the migrations this database has applied, by set."""
    found: dict[str, set[str]] = {}
    if db.table(MIGRATIONS.migrations_table).exists():
        for set_name, name in db.execute(
                f"SELECT migration_set, name FROM {MIGRATIONS.migrations_table}").fetchall():
            found.setdefault(set_name, set()).add(name)
    return found


def refuse_newer(db: Database, sets) -> None:
    """Refuse a database that has a migration, in one of ``sets``, that this code does not know:
    it comes from a newer version (a downgrade after a failed upgrade), and this code would
    misread or damage it. A set the code does not load at all (an area left out of AREAS) is
    left alone: its tables are not this code's business."""
    applied = _applied(db)
    for migrations in sets:
        # sqlite-utils offers a set's migrations only as ``_migrations``.
        known = {m.name for m in migrations._migrations}
        if migrations.name == MIGRATIONS.name:
            known.update(RETIRED)
        unknown = sorted(applied.get(migrations.name, set()) - known)
        if unknown:
            raise ConfigError(_(
                "This database was made by a newer version of Infocentre (it has the change "
                "%(migration)s, which this version does not know), so this version does not "
                "open it. Install the newer version again, or put back the copy made before "
                "the upgrade, from the backups folder.",
                migration=f"{migrations.name}/{unknown[0]}"))


def _adopt(db: Database, sets) -> None:
    """On a database made when the kiosk set made every table (issue 15), record the areas'
    migrations that took over a retired one that ran there as applied, without running them:
    their tables are there already, with their rows."""
    ran = _applied(db).get(MIGRATIONS.name, set()) & set(RETIRED)
    if not ran:
        return
    for migrations in sets:
        for migration in migrations.pending(db):
            if getattr(migration.fn, "adopts", None) in ran:
                db.execute(f"INSERT INTO {MIGRATIONS.migrations_table} (migration_set, name, "
                           "applied_at) VALUES (?, ?, ?)",
                           [migrations.name, migration.name,
                            str(dt.datetime.now(dt.timezone.utc))])


def schema_version(db: Database) -> int:
    """The data version a centre reports to the hub: how many migrations this database has
    applied, of every set (the core's, each area's, the sync engine's), so a migration added to
    any set raises it. The kiosk set's retired names are not counted: the areas' migrations
    that adopted them are, so an upgraded database and a new one report the same version."""
    return sum(len(names - set(RETIRED)) if set_name == MIGRATIONS.name else len(names)
               for set_name, names in _applied(db).items())


def backup(db: Database, target: Path) -> Path:
    """Copy the live database to ``target`` with SQLite's online backup."""
    target.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    # Made owner-only before SQLite writes a byte into it, whatever the process's umask.
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    dest = sqlite3.connect(str(target))
    try:
        db.conn.backup(dest)
    except BaseException:
        # A copy cut short (a full disk) is no backup, and would keep the space it took.
        dest.close()
        target.unlink(missing_ok=True)
        raise
    finally:
        dest.close()
    return target


def stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ")


def new_id() -> str:
    """A time-ordered UUID (version 7 layout) for a row born here."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def utcnow() -> dt.datetime:
    """Now, in UTC, by the hub's clock: village PCs often have wrong dates, so within an app
    this centre's clock (or the ``NOW`` setting, a fake clock in tests) is corrected by the
    offset to the hub learned at the last sync (DESIGN, "Times people see"). Every time the
    kiosk shows or records goes through here, so what it writes and what it compares agree."""
    if not has_app_context():
        return dt.datetime.now(dt.timezone.utc)
    fake = current_app.config.get("NOW")
    return (fake() if fake else dt.datetime.now(dt.timezone.utc)) + hub_offset()


def hub_offset() -> dt.timedelta:
    """The hub's time minus this installation's, as the last sync or bundle measured it (zero at
    the hub and before a first sync). Read each time, since the sync that changes it may run in
    another process, or in this one between two calls; the app made the row when it started."""
    return dt.timedelta(milliseconds=read_state(get_db())["offset_ms"])


def iso(moment: dt.datetime) -> str:
    """ISO-8601 UTC text, the form every ``*_at`` column holds."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
