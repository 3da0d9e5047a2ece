"""Media: photos and audio stored once by their SHA-256 under the data directory, and the rules
for moving them between replicas (sync/README.md, "Media"). Standard library and sqlite-utils only.

A synced table names the columns that hold a blob's SHA-256 (``SyncedTable(media=...)``); rows
travel as usual and their blobs follow, in chunks that resume after a break. A blob follows the
scope of the rows that name it: the hub serves a centre, and accepts from it, only the blobs named
by rows in that centre's buckets. Every blob is checked against its hash before it is used.

The store::

    media/ab/abcdef...        a complete blob, named by its SHA-256 (never changed again)
    media/partial/abcdef...   the bytes received so far of one being transferred
    media/tmp/                files being added (renamed into place once hashed)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .engine.state import immediate
from .errors import MediaError

CHUNK = 64 * 1024  # one request of a transfer: a cut link resends at most this much
SHA = re.compile(r"[0-9a-f]{64}")
MAX_ASKED = 1000  # blobs named in one question to the hub
MiB = 1024 * 1024

# The kinds of file a centre keeps, recognised by their first bytes (never by a file name), with
# the largest size of each: a photo from a phone, a story told for half an hour.
LIMITS = {
    "image/jpeg": 12 * MiB,
    "image/png": 12 * MiB,
    "image/webp": 12 * MiB,
    "audio/ogg": 40 * MiB,
    "audio/mpeg": 40 * MiB,
    "audio/webm": 40 * MiB,
    "audio/mp4": 40 * MiB,
    "audio/wav": 80 * MiB,
}
MAX_SIZE = max(LIMITS.values())


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first 16 bytes, or None if it is none we keep."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"mp4", b"iso", b"dash"):
        return "audio/mp4"
    return None


def check_kind(head: bytes, size: int) -> str:
    """The media type of a blob of ``size`` bytes starting with ``head``; MediaError if it is
    not a kind we keep or is larger than that kind allows."""
    kind = sniff(head)
    if kind is None:
        raise MediaError("This file is not a photo or a sound recording we can keep.",
                         "unsupported")
    if size > LIMITS[kind]:
        raise MediaError(f"This file is too large: {size // MiB} MiB, and a {kind} file may "
                         f"have {LIMITS[kind] // MiB} MiB at most.", "too_large",
                         limit=LIMITS[kind])
    if size <= 0:
        raise MediaError("This file is empty.", "empty")
    return kind


@dataclass(frozen=True)
class Blob:
    sha: str
    size: int
    kind: str


class Store:
    """The blobs of one installation, under ``root`` (the data directory's ``media``).

    ``reserve``: bytes of free space a sync leaves on the disk; below it, blobs wait (issue 14:
    photo chunks once filled a centre's disk and stopped everything else).
    """

    def __init__(self, root: str | os.PathLike, reserve: int = 0):
        self.root = Path(root)
        self.reserve = reserve

    def free(self) -> int:
        """Bytes free on the store's disk (the nearest folder that exists, before the first
        blob)."""
        folder = self.root
        while not folder.is_dir() and folder.parent != folder:
            folder = folder.parent
        return shutil.disk_usage(folder).free

    def has_room(self, length: int) -> bool:
        """Whether ``length`` more bytes leave the reserve free."""
        return self.free() - length >= self.reserve

    def path(self, sha: str) -> Path:
        if not SHA.fullmatch(sha):
            raise ValueError("not a SHA-256")
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return SHA.fullmatch(sha or "") is not None and self.path(sha).is_file()

    def size(self, sha: str) -> int:
        return self.path(sha).stat().st_size

    def add(self, stream) -> Blob:
        """Store what ``stream`` (a binary file) holds, once; MediaError if it is not a kind we
        keep or too large (nothing is kept then)."""
        tmp = self._tmp()
        digest = hashlib.sha256()
        size = 0
        head = b""
        try:
            with tmp.open("wb") as out:
                while data := stream.read(CHUNK):
                    if len(head) < 16:
                        head += data[:16 - len(head)]
                    size += len(data)
                    if size > LIMITS.get(sniff(head), MAX_SIZE):
                        check_kind(head, size)  # raises: too large for its kind, or no kind
                    digest.update(data)
                    out.write(data)
                out.flush()
                os.fsync(out.fileno())
            kind = check_kind(head, size)
            sha = digest.hexdigest()
            self._install(tmp, sha)
        finally:
            tmp.unlink(missing_ok=True)
        return Blob(sha, size, kind)

    def add_bytes(self, data: bytes) -> Blob:
        return self.add(io.BytesIO(data))

    def read(self, sha: str, offset: int, length: int = CHUNK) -> bytes:
        with self.path(sha).open("rb") as f:
            f.seek(offset)
            return f.read(length)

    # A blob arriving in chunks: resumable, checked against its hash once complete.

    def received(self, sha: str) -> int:
        """How many bytes of ``sha`` have arrived so far (all of it once complete)."""
        if self.has(sha):
            return self.size(sha)
        partial = self._partial(sha)
        return partial.stat().st_size if partial.exists() else 0

    def write_chunk(self, sha: str, size: int, offset: int, data: bytes) -> int:
        """Write one chunk of blob ``sha`` (``size`` bytes in all) at ``offset``; returns the
        bytes received so far. The blob is checked and put in place when its last byte comes.

        A chunk may repeat what arrived before (a resend after a cut, or a late copy of one
        still on its way): only its new bytes are written, never cutting what is here. One
        starting past what arrived is refused (MediaError "offset", with ``received``), as is
        a first chunk of a kind we do not keep or too large for its kind. A complete blob that
        does not match its hash is thrown away (MediaError "hash_mismatch"): the transfer
        starts again.
        """
        if self.has(sha):
            return size
        if size > MAX_SIZE:
            raise MediaError("This file is too large.", "too_large", limit=MAX_SIZE)
        partial = self._partial(sha)
        have = partial.stat().st_size if partial.exists() else 0
        if offset > have or offset + len(data) > size or not data:
            raise MediaError(f"Expected bytes from {have} of this file.", "offset", received=have)
        if offset == 0:
            check_kind(data[:16], size)
        new = data[have - offset:]
        if new:
            partial.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("ab") as out:
                out.write(new)
                out.flush()
                os.fsync(out.fileno())
            have += len(new)
        if have == size:
            self._finish(sha, partial)
        return have

    def _finish(self, sha: str, partial: Path) -> None:
        digest = hashlib.sha256()
        with partial.open("rb") as f:
            while data := f.read(CHUNK * 4):
                digest.update(data)
        if digest.hexdigest() != sha:
            partial.unlink(missing_ok=True)
            raise MediaError("The file that arrived does not match its fingerprint; it will be "
                             "sent again.", "hash_mismatch")
        self._install(partial, sha)

    def _install(self, path: Path, sha: str) -> None:
        final = self.path(sha)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            path.unlink(missing_ok=True)
            # Stored again (a new row is about to name it): a sweep must not take it now.
            os.utime(final)
        else:
            os.replace(path, final)

    def stored_ms(self, sha: str) -> int | None:
        """When blob ``sha`` was last stored (or stored again), in ms; None if it is not here."""
        try:
            return self.path(sha).stat().st_mtime_ns // 1_000_000
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def keeping(self):
        """While held, no sweep deletes a blob (a backup copying the blobs its copy of the
        database names): an OS lock on ``media/.keep``, shared, freed by the OS if the
        process dies. A sweep meanwhile deletes nothing; the next one does."""
        with self._keep_lock(fcntl.LOCK_SH) as held:
            yield held

    @contextlib.contextmanager
    def _keep_lock(self, mode: int):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".keep", "a") as lock:
            try:
                fcntl.flock(lock, mode)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def remove(self, sha: str) -> bool:
        """Delete blob ``sha``, what arrived of it, and the thumbnails made from it here
        (``thumbs/<size>/ab/<sha>.jpg``); whether the blob itself was here."""
        had = self.has(sha)
        self.path(sha).unlink(missing_ok=True)
        self._partial(sha).unlink(missing_ok=True)
        thumbs = self.root / "thumbs"
        if thumbs.is_dir():
            for size in thumbs.iterdir():
                for made in (size / sha[:2]).glob(f"{sha}*"):
                    made.unlink(missing_ok=True)
        return had

    def _partial(self, sha: str) -> Path:
        if not SHA.fullmatch(sha):
            raise ValueError("not a SHA-256")
        return self.root / "partial" / sha

    def _tmp(self) -> Path:
        folder = self.root / "tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / secrets.token_hex(8)


# Which blobs the rows name.


def _media_columns(tables) -> list[tuple[str, str]]:
    return [(spec.name, column) for spec in tables for column in spec.media]


def named(db, tables, *, centre_id: str | None = None) -> set[str]:
    """The SHA-256s that rows of ``tables`` name (only rows owned by ``centre_id`` if given)."""
    found: set[str] = set()
    for table, column in _media_columns(tables):
        where = f'"{column}" IS NOT NULL' + (" AND centre_id = ?" if centre_id else "")
        found.update(r[0] for r in db.execute(
            f'SELECT DISTINCT "{column}" FROM "{table}" WHERE {where}',
            [centre_id] if centre_id else []))
    return {sha for sha in found if isinstance(sha, str) and SHA.fullmatch(sha)}


def named_in(changes: dict, catalog) -> set[str]:
    """The SHA-256s that the rows and cells of a changeset (wire format) name."""
    found = set()
    for block in changes.get("tables", ()):
        spec = catalog.specs.get(block.get("name"))
        if spec is None or not spec.media:
            continue
        at = {i for i, name in enumerate(block.get("columns", ())) if name in spec.media}
        for row in block.get("rows", ()):
            found.update(row[3][i] for i in at)
        found.update(cell[4] for cell in block.get("cells", ()) if cell[1] in at)
    return {sha for sha in found if isinstance(sha, str) and SHA.fullmatch(sha)}


def unconfirmed(db, tables, store: Store, node_id: str) -> list[str]:
    """At a centre: the blobs stored here that its own rows name and the hub has not said it
    holds (what a sync or a bundle sends)."""
    at_hub = {r[0] for r in db.execute("SELECT sha FROM _sync_blobs_at_hub")}
    return sorted(sha for sha in named(db, tables, centre_id=node_id) - at_hub
                  if store.has(sha))


def confirm(db, shas) -> None:
    """At a centre: the hub holds these blobs; never offer them again."""
    with immediate(db):
        db.conn.executemany(
            "INSERT OR IGNORE INTO _sync_blobs_at_hub (sha) VALUES (?)",
            [(sha,) for sha in shas if isinstance(sha, str) and SHA.fullmatch(sha)])


def in_scope(db, tables, sha: str, buckets: tuple) -> bool:
    """At the hub: does a row in one of ``buckets`` name blob ``sha``? (A blob follows the
    scope of the rows that name it.)"""
    marks = ",".join("?" * len(buckets))
    for table, column in _media_columns(tables):
        if db.execute(
                f'SELECT 1 FROM "{table}" r WHERE r."{column}" = ? AND EXISTS (SELECT 1 FROM '
                f"_sync_members m WHERE m.tbl = (SELECT id FROM _sync_tables WHERE name = ?) "
                f"AND m.pk = r.id AND m.bucket IN ({marks})) LIMIT 1",
                [sha, table, *buckets]).fetchone():
            return True
    return False


# Deleting the blobs no row names any more (sync/README.md, "Media", "Deleting media").


def sweep(db, tables, store: Store, *, before_ms: int | None = None) -> list[str]:
    """Delete the files of the blobs that rows named and no longer do (noted in
    ``_sync_media_orphans`` by the media triggers); returns their SHA-256s.

    A blob is deleted only if no media column of any synced table names it, and it was not
    stored again since it stopped being named (a page storing it for a new row). At a centre
    every such blob goes at once, and the hub's confirmation of it is forgotten (should a new
    row name it again, it is offered again). At the hub only those every registered centre that
    is not revoked has pulled the change of (its cursor is past the sequence number noted), or
    noted before ``before_ms`` (the purge horizon). Runs in one write transaction, so no row
    can come to name a blob between the look and the delete; and not at all while a backup
    holds ``Store.keeping``."""
    if not db.execute("SELECT 1 FROM _sync_media_orphans LIMIT 1").fetchone():
        return []  # the common case: one read of an empty table
    with store._keep_lock(fcntl.LOCK_EX | fcntl.LOCK_NB) as free:
        if not free:
            return []  # a backup is copying the blobs: they stay noted for the next sweep
        return _sweep(db, tables, store, before_ms)


def _sweep(db, tables, store: Store, before_ms: int | None) -> list[str]:
    with immediate(db):
        role, seq = db.execute("SELECT role, seq FROM _sync_state WHERE id = 1").fetchone()
        # The change that un-named these is committed: every sequence number it took is here.
        db.execute("UPDATE _sync_media_orphans SET seq = ? WHERE seq IS NULL", [seq])
        if role == "hub":
            acked = db.execute("SELECT min(cursor) FROM _sync_nodes WHERE revoked_at IS NULL "
                               "AND cursor IS NOT NULL").fetchone()[0]
            candidates = list(db.execute(
                "SELECT sha, at_ms FROM _sync_media_orphans WHERE seq <= ?",
                [2**62 if acked is None else acked]))
            if before_ms is not None:  # the purge horizon: whoever has not pulled it
                candidates += db.execute(
                    "SELECT sha, at_ms FROM _sync_media_orphans WHERE seq > ? AND at_ms <= ?",
                    [2**62 if acked is None else acked, before_ms]).fetchall()
        else:
            candidates = list(db.execute("SELECT sha, at_ms FROM _sync_media_orphans"))
        if not candidates:
            return []
        still = _still_named(db, tables, [sha for sha, _at in candidates])
        removed = []
        for sha, at_ms in candidates:
            valid = isinstance(sha, str) and SHA.fullmatch(sha) is not None
            stored = store.stored_ms(sha) if valid else None
            if valid and sha not in still and (stored is None or stored <= at_ms):
                try:
                    if store.remove(sha):
                        removed.append(sha)
                except OSError:
                    continue  # a file the system would not delete: tried again next time
                db.execute("DELETE FROM _sync_blobs_at_hub WHERE sha = ?", [sha])
            # Named again, stored again, or gone: noted again if a row stops naming it.
            db.execute("DELETE FROM _sync_media_orphans WHERE sha = ?", [sha])
    return removed


def _still_named(db, tables, shas: list[str]) -> set[str]:
    """Those of ``shas`` that a media column of ``tables`` names (by each column's index)."""
    found: set[str] = set()
    for start in range(0, len(shas), 500):
        chunk = shas[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for table, column in _media_columns(tables):
            found.update(r[0] for r in db.execute(
                f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IN ({marks})',
                chunk))
    return found


def forget_confirmed(db, shas) -> None:
    """At a centre: the hub says it lacks these blobs (it deleted them once no row named
    them): offer them again if a row here names them. Call inside a transaction."""
    db.conn.executemany("DELETE FROM _sync_blobs_at_hub WHERE sha = ?",
                        [(sha,) for sha in shas or () if isinstance(sha, str)])


__all__ = ["CHUNK", "LIMITS", "MAX_ASKED", "MAX_SIZE", "SHA", "Blob", "Store", "check_kind",
           "confirm", "forget_confirmed", "in_scope", "named", "named_in", "sniff", "sweep",
           "unconfirmed"]
