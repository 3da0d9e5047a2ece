"""The bundle file: JSON lines in one gzip member, signed in the gzip header. Writing it, and
reading it only once every byte is verified. Standard library, sync.signing and sync.errors only.

Layout (sync/README.md, "Bundles"): a gzip member (RFC 1952, readable with ``zcat``) whose header
has an extra field "IB" holding the HMAC-SHA256, keyed with the centre's secret, of every other
byte of the file, so a byte altered anywhere, or a file cut short, fails it. Its content is JSON
lines: a header object, one ``{"batch": ...}`` (a centre's) or ``{"page": ...}`` (the hub's) per
line, then ``{"blob": {"sha", "size", "offset", "data"}}`` lines carrying photos and recordings
(``data`` in base64, which deflate brings back to about its binary size), and ``{"end":
{"entries", "changes"[, "blobs"]}}``. Changes are in the wire format of sync/engine/changes.py,
except that each stamp of a table's rows, cells and deletes is the difference from the one
before it. A reader refuses a kind of line it does not know, so nothing is half-imported.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import struct
import uuid
import zlib
from pathlib import Path

from . import media, signing
from .engine.changes import count, is_id, is_int
from .errors import BundleError

FORMAT = 1
# gzip, deflate, an extra field, no name, no time, unknown OS; then the field: "IB", 32 bytes.
PREFIX = b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + b"\x24\x00IB\x20\x00"
BODY = len(PREFIX) + 32  # the deflate data starts after the signature
MAX_FILE = 64 * 1024**3
MAX_LINE = 64 * 1024**2
CHUNK = 1 << 16
BLOB_LINE = 256 * 1024  # bytes of a photo or recording per line (base64 in the JSON)
ENTRY = {"push": "batch", "pull": "page"}  # the lines each kind of bundle holds


def header(kind: str, node: str, **values) -> dict:
    """The first line of a bundle: ``kind`` "push" (a centre's) or "pull" (the hub's)."""
    return {"bundle": "infocentre", "format": FORMAT, "id": str(uuid.uuid4()), "kind": kind,
            "node": node, **values}


class Writer:
    """Writes a bundle to a temporary file beside ``path``, signs it, then renames it
    (``close``). Used as a context manager, an error on the way leaves no file behind."""

    def __init__(self, path, secret: bytes):
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        try:
            self.file = self.part.open("wb")
        except OSError as e:
            raise _unwritable(self.path, e) from None
        self.mac = signing.bundle_mac(secret)
        self.deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = self.size = self.written = self.blob_lines = 0
        self._out(PREFIX)
        self.file.write(bytes(32))  # the signature, once known
        self.written += 32

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            self.abort()

    def _out(self, data: bytes) -> None:
        if data:
            self.mac.update(data)
            self.file.write(data)
            self.written += len(data)

    def entry(self, kind: str, value: dict) -> None:
        """A batch or a page (its changes are rewritten, not copied)."""
        self.line({kind: {**value, "changes": _stamps(value["changes"], 1)}})

    def blob(self, store, sha: str) -> int:
        """Every byte of blob ``sha`` from ``store``, in lines of ``BLOB_LINE`` bytes; returns
        its size."""
        size = store.size(sha)
        for offset in range(0, size, BLOB_LINE):
            data = store.read(sha, offset, BLOB_LINE)
            self.line({"blob": {"sha": sha, "size": size, "offset": offset,
                                "data": base64.b64encode(data).decode()}})
            self.blob_lines += 1
        return size

    def line(self, value: dict) -> None:
        raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        self.crc = zlib.crc32(raw, self.crc)
        self.size += len(raw)
        try:
            self._out(self.deflate.compress(raw))
        except OSError as e:
            raise _unwritable(self.path, e) from None

    def close(self) -> int:
        """Finish, sign and put the file in place (atomically); returns its size in bytes."""
        try:
            self._out(self.deflate.flush())
            self._out(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
            self.file.seek(len(PREFIX))
            self.file.write(self.mac.digest())
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            os.replace(self.part, self.path)
        except OSError as e:
            self.abort()
            raise _unwritable(self.path, e) from None
        return self.written

    def abort(self) -> None:
        self.file.close()
        self.part.unlink(missing_ok=True)


class BundleFile:
    """A bundle file, read as a stream (it may hold gigabytes of photos): its header at once
    (not trusted yet), its lines once ``verify`` has checked the signature and every line.

    Each pass reads the file again from the disk; the gzip checksum is checked on every pass.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            with self.path.open("rb") as f:
                start = f.read(len(PREFIX))
                self.signature = f.read(32)
                too_big = os.fstat(f.fileno()).st_size > MAX_FILE
        except OSError as e:
            raise BundleError(f"The file cannot be read: {e.strerror}.", "unreadable",
                              error=e.strerror) from None
        if start != PREFIX or too_big:
            if len(start) >= 2 and PREFIX.startswith(start):
                raise _cut_short()
            if len(start) == len(PREFIX) and sum(a != b for a, b in zip(start, PREFIX)) <= 2:
                raise damaged()  # a bundle with a byte or two altered
            raise BundleError("This file is not an Infocentre bundle.", "not_bundle")
        # Whole and undamaged (the gzip checksum) before the header is believed: a byte flipped
        # on a USB stick is "damaged", not a header that names some unknown centre.
        for _ in self._lines():
            pass
        head = _parse(next(self._lines(), None))
        if not isinstance(head, dict) or head.get("bundle") != "infocentre":
            raise BundleError("This file is not an Infocentre bundle.", "not_bundle")
        if is_int(head.get("format")) and head["format"] > FORMAT:
            raise _newer()
        if head.get("format") != FORMAT or head.get("kind") not in ENTRY \
                or not is_id(head.get("node")):
            raise damaged()
        self.header = head
        self.verified = False
        self.entries = self.changes = self.blob_lines = 0
        self.last_cursor = None

    def _body(self):
        """The bytes after the signature, read from the file piece by piece."""
        try:
            with self.path.open("rb") as f:
                f.seek(BODY)
                while data := f.read(CHUNK):
                    yield data
        except OSError as e:
            raise BundleError(f"The file cannot be read: {e.strerror}.", "unreadable",
                              error=e.strerror) from None

    def _lines(self):
        """Each line of the content, checking the deflate stream and the gzip trailer."""
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        body = self._body()
        crc = size = 0
        parts: list[bytes] = []
        try:
            while not inflater.eof:
                if inflater.unconsumed_tail:
                    data = inflater.decompress(inflater.unconsumed_tail, CHUNK)
                else:
                    raw = next(body, None)
                    if raw is None:
                        raise _cut_short()
                    data = inflater.decompress(raw, CHUNK)
                crc, size = zlib.crc32(data, crc), size + len(data)
                while data:
                    end = data.find(b"\n")
                    if end < 0:
                        parts.append(data)
                        if sum(map(len, parts)) > MAX_LINE:
                            raise damaged()
                        break
                    yield b"".join([*parts, data[:end]])
                    parts, data = [], data[end + 1:]
        except zlib.error:
            raise damaged() from None
        trailer = inflater.unused_data
        for raw in body:
            trailer += raw
            if len(trailer) > 8:
                break
        if len(trailer) < 8:
            raise _cut_short()
        if parts or trailer != struct.pack("<II", crc, size & 0xFFFFFFFF):
            raise damaged()

    def verify(self, secret: bytes) -> None:
        """Check the signature with the centre's secret, then every line; BundleError if not."""
        mac = signing.bundle_mac(secret)
        mac.update(PREFIX)
        for data in self._body():
            mac.update(data)
        if not hmac.compare_digest(mac.digest(), self.signature):
            raise BundleError("The bundle is damaged, was altered, or was signed with another "
                              "token: nothing was imported.", "damaged")
        self._check()
        self.verified = True

    def _check(self) -> None:
        """Every line (signed, so made by Infocentre): its kind, pages in order, the end."""
        kind = ENTRY[self.header["kind"]]
        cursor = self.header.get("from")
        ended = False
        lines = self._lines()
        next(lines)
        for raw in lines:
            line = _parse(raw)
            if ended or not (isinstance(line, dict) and len(line) == 1):
                raise damaged()
            (key, value), = line.items()
            if key == "end":
                ended = True
                counts = {"entries": self.entries, "changes": self.changes}
                if self.blob_lines:
                    counts["blobs"] = self.blob_lines
                if value != counts:
                    raise damaged()
                continue
            if key == "blob":
                if _blob_part(value) is None:
                    raise damaged()
                self.blob_lines += 1
                continue
            if key != kind:
                raise _newer()
            if not (isinstance(value, dict) and isinstance(value.get("changes"), dict)
                    and isinstance(value["changes"].get("tables", []), list)):
                raise damaged()
            if kind == "page":  # each page starts where the one before ended
                if value.get("from") != cursor or not is_int(value.get("cursor")) \
                        or value["cursor"] < cursor:
                    raise damaged()
                cursor = self.last_cursor = value["cursor"]
            self.entries += 1
            self.changes += count(value["changes"])
        if not ended:
            raise damaged()

    def items(self):
        """The batches or pages, in order (once verified)."""
        assert self.verified
        lines = self._lines()
        next(lines)
        for raw in lines:
            (key, value), = json.loads(raw).items()
            if key not in ("end", "blob"):
                try:
                    value["changes"] = _stamps(value["changes"], -1)
                except (TypeError, IndexError, KeyError, AttributeError):
                    raise damaged() from None
                yield value


    def blobs(self):
        """The pieces of photos and recordings, in order (once verified): (sha, size, offset,
        data)."""
        assert self.verified
        for raw in self._lines():
            if raw.startswith(b'{"blob":'):
                yield _blob_part(json.loads(raw)["blob"])


def _blob_part(value) -> tuple[str, int, int, bytes] | None:
    """A blob line's (sha, size, offset, data), or None if it is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("data"), str):
        return None
    sha, size, offset = value.get("sha"), value.get("size"), value.get("offset")
    try:
        data = base64.b64decode(value["data"], validate=True)
    except ValueError:
        return None
    if not (isinstance(sha, str) and media.SHA.fullmatch(sha) and is_int(size)
            and is_int(offset) and data and offset + len(data) <= size <= media.MAX_SIZE):
        return None
    return sha, size, offset, data


def _stamps(changes: dict, sign: int) -> dict:
    """Write (``sign`` 1) or read (-1) each stamp of a table's rows, cells and deletes as the
    difference from the one before it: they come nearly in order, so the small numbers
    compress to almost nothing (a bundle stays within 1.1 times its rows gzipped as JSON)."""
    for block in changes.get("tables", ()):
        for key, at in (("rows", 1), ("cells", 2), ("deletes", 1)):
            previous = 0
            for item in block.get(key, ()):
                if not isinstance(item[at], int):
                    raise TypeError("a stamp must be an integer")
                if sign > 0:
                    item[at], previous = item[at] - previous, item[at]
                else:
                    item[at] = previous = previous + item[at]
    return changes


def _parse(raw: bytes | None):
    if raw is None:
        raise _cut_short()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise damaged() from None


def damaged() -> BundleError:
    return BundleError("The bundle is damaged or was altered: nothing was imported.", "damaged")


def _cut_short() -> BundleError:
    return BundleError("The bundle is incomplete: it was cut short. Copy it again.",
                       "cut_short")


def _newer() -> BundleError:
    return BundleError("This bundle was made by a newer Infocentre: update this one first.",
                       "newer")


def _unwritable(path: Path, error: OSError) -> BundleError:
    return BundleError(f"Cannot write {path}: {error.strerror}.", "unwritable", path=str(path),
                       error=error.strerror)

