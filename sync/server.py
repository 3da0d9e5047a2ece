"""The hub's sync API, ``/api/sync/v1/``: a Flask blueprint around ``sync.engine``.

Imports Flask and the sync package, never kiosk: the app factory hands over its ``get_db`` and
synced tables with ``init_app``. Every refusal is JSON, ``{"ok": false, "errors": [{"code",
"message"}]}``, checked before anything is written, so it leaves the hub's data unchanged.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import sqlite3
import threading
import time
import zlib

from flask import Blueprint, Response, current_app, request

from . import media, signing, watermark
from .engine import Catalog, node_buckets, serve_exchange
from .engine.clock import wall_ms
from .engine.hub import remember_nonce
from .engine.state import immediate
from .errors import Busy, Malformed, MediaError, Revoked, SyncError, TooLarge, Unauthenticated
from .openapi import DOCUMENT

MAX_COMPRESSED = 8 * 1024 * 1024
MAX_DECOMPRESSED = 64 * 1024 * 1024
PREFIX = "/api/sync/v1"

bp = Blueprint("sync", __name__, url_prefix=PREFIX)


def init_app(app, *, get_db, tables, media_root, data_dir, now_ms=wall_ms,
             open_writer=None) -> None:
    """Serve the sync API from ``app`` (the hub), with the app's database, synced tables,
    media store and data directory (where the high-water mark is kept, sync.watermark).

    :param open_writer: opens a connection that several threads may use in turn. Exchanges
        then run through that one connection, one at a time (as SQLite writes anyway):
        its page cache stays warm, where each thread's own would be emptied by every commit
        of another, and read again from the file for every exchange.
    """
    app.extensions["sync"] = {"get_db": get_db, "tables": tables, "now_ms": now_ms,
                              "store": media.Store(media_root), "data_dir": data_dir,
                              "writer": _Writer(open_writer) if open_writer else None}
    app.register_blueprint(bp)


class _Writer:
    """One connection for the exchanges' transactions, opened at first use, one thread at a
    time."""

    def __init__(self, open_writer):
        self._open = open_writer
        self._db = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            if self._db is None:
                self._db = self._open()
            try:
                yield self._db
            finally:
                if self._db.conn.in_transaction:  # never left open for the next thread
                    self._db.conn.rollback()


def _json(payload: dict, status: int = 200, compress: bool = False) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    response = Response(body, status=status, mimetype="application/json")
    if compress and "gzip" in request.headers.get("Accept-Encoding", "") and len(body) > 200:
        response.set_data(gzip.compress(body, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    return response


@bp.errorhandler(SyncError)
def _refused(error: SyncError):
    return _json(error.as_json(), error.http_status)


@bp.get("/hello")
def hello():
    """A cheap probe: is the hub there, and what time is it there? (No secrets, no data.)"""
    return _json({"ok": True, "api": 1, "hub_time": current_app.extensions["sync"]["now_ms"]()})


@bp.get("/openapi.json")
def openapi():
    return _json(DOCUMENT)


@bp.post("/exchange")
def exchange():
    ext = current_app.extensions["sync"]
    now = ext["now_ms"]()
    db = ext["get_db"]()
    body = _read_body()
    node_id, nonce = _authenticate(db, body, now)
    payload = _decode(body)
    if isinstance(payload, dict):
        payload.setdefault("node", node_id)  # the signature names the node; the body need not
    with ext["writer"]() if ext["writer"] else contextlib.nullcontext(db) as writer:
        catalog = Catalog(writer, ext["tables"])  # it writes too (the origins it meets)
        reply = _retrying(lambda: serve_exchange(
            writer, catalog, payload, node_id=node_id, now_ms=now, nonce=nonce,
            min_schema=current_app.config.get("SYNC_MIN_SCHEMA", 0),
            max_page=current_app.config.get("SYNC_PAGE", 2000),
            high_water=watermark.read(ext["data_dir"])))
        watermark.raise_to(ext["data_dir"], _seq(writer))
        batch = payload.get("batch") if isinstance(payload, dict) else None
        if reply.get("ack") and isinstance(batch, dict):
            # The blobs this batch's rows name that the hub lacks: a centre that had them
            # confirmed offers them again (the hub deletes a blob once no row names it).
            missing = sorted(sha for sha in media.named_in(batch["changes"], catalog)
                             if not ext["store"].has(sha))
            if missing:
                reply["ack"] = {**reply["ack"], "blobs_missing": missing}
        # Blobs no row names any more, once every centre has pulled that change.
        with contextlib.suppress(sqlite3.OperationalError):  # locked: the next one does it
            _retrying(lambda: media.sweep(writer, ext["tables"], ext["store"]))
    return _json(compact(reply), compress=True)


def _retrying(work, attempts: int = 4):
    """Run one exchange, again if the database stayed locked past its busy timeout: it is one
    transaction, rolled back whole, so running it again is safe. A centre never gets a 500 for
    waiting its turn."""
    for attempt in range(attempts):
        try:
            return work()
        except sqlite3.OperationalError as e:
            if attempt == attempts - 1 or not any(w in str(e) for w in ("locked", "busy")):
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _seq(db) -> int:
    return db.execute("SELECT seq FROM _sync_state WHERE id = 1").fetchone()[0]


def _note_nonce(db, node_id: str, nonce: str, now: int) -> None:
    def remember():
        with immediate(db):
            remember_nonce(db, node_id, nonce, now)
    _retrying(remember)


@bp.post("/blobs")
def blobs():
    """Which of the blobs a centre offers the hub lacks (and how much of each has arrived), and
    the sizes of the blobs it wants that the hub holds and the centre may have."""
    ext = current_app.extensions["sync"]
    db = ext["get_db"]()
    body = _read_body()
    now = ext["now_ms"]()
    node_id, nonce = _authenticate(db, body, now)
    payload = _decode(body)
    _note_nonce(db, node_id, nonce, now)
    asked = {}
    for key in ("offer", "want"):
        value = payload.get(key, []) if isinstance(payload, dict) else None
        if not (isinstance(value, list) and len(value) <= media.MAX_ASKED
                and all(isinstance(v, str) and media.SHA.fullmatch(v) for v in value)):
            raise Malformed(f"{key} must be a list of at most {media.MAX_ASKED} SHA-256s")
        asked[key] = value
    store, buckets = ext["store"], node_buckets(node_id)
    missing = {sha: store.received(sha) for sha in asked["offer"] if not store.has(sha)}
    sizes = {sha: store.size(sha) for sha in asked["want"]
             if store.has(sha) and media.in_scope(db, ext["tables"], sha, buckets)}
    return _json({"ok": True, "missing": missing, "sizes": sizes}, compress=True)


@bp.put("/blobs/<sha>/<int:size>/<int:offset>")
def put_blob(sha: str, size: int, offset: int):
    """One chunk of a blob from a centre, named by a row of that centre's scope."""
    ext = current_app.extensions["sync"]
    db = ext["get_db"]()
    body = _read_body()
    now = ext["now_ms"]()
    node_id, nonce = _authenticate(db, body, now)
    _note_nonce(db, node_id, nonce, now)
    if not media.SHA.fullmatch(sha):
        raise Malformed("not a SHA-256")
    if len(body) > 16 * media.CHUNK:
        raise TooLarge("A chunk is larger than 1 MiB.")
    if not media.in_scope(db, ext["tables"], sha, node_buckets(node_id)):
        raise MediaError("No row of this centre names this file: send the row first.",
                         "not_in_scope")
    received = ext["store"].write_chunk(sha, size, offset, body)
    return _json({"ok": True, "received": received})


@bp.get("/blobs/<sha>/<int:offset>")
def get_blob(sha: str, offset: int):
    """One chunk of a blob (``media.CHUNK`` bytes from ``offset``), for a centre whose scope
    has a row naming it. The blob's size comes in ``X-Blob-Size``."""
    ext = current_app.extensions["sync"]
    db = ext["get_db"]()
    now = ext["now_ms"]()
    node_id, nonce = _authenticate(db, b"", now)
    _note_nonce(db, node_id, nonce, now)
    store = ext["store"]
    if not media.SHA.fullmatch(sha):
        raise Malformed("not a SHA-256")
    if not store.has(sha) or not media.in_scope(db, ext["tables"], sha, node_buckets(node_id)):
        raise MediaError("The hub has no such file for this centre.", "missing")
    size = store.size(sha)
    if offset >= size:
        raise MediaError(f"This file has {size} bytes.", "offset", received=size)
    response = Response(store.read(sha, offset), mimetype="application/octet-stream")
    response.headers["X-Blob-Size"] = str(size)
    return response


def compact(reply: dict) -> dict:
    """Nothing said that the reader assumes anyway: no nulls, no false flags, no empty lists."""
    out = {k: v for k, v in reply.items() if v is not None and v is not False}
    page = out.get("pull")
    if page:
        out["pull"] = {k: v for k, v in page.items()
                       if v not in (False, [], None) and not (k == "changes" and not v["tables"])}
    return out


def _read_body() -> bytes:
    if (request.content_length or 0) > MAX_COMPRESSED:
        raise TooLarge("The request is larger than 8 MiB.")
    body = request.stream.read(MAX_COMPRESSED + 1)
    if len(body) > MAX_COMPRESSED:
        raise TooLarge("The request is larger than 8 MiB.")
    return body


def _authenticate(db, body: bytes, now: int) -> tuple[str, str]:
    """The node that signed this request, and its nonce (remembered by the caller in the
    transaction of what the request does); refusals for anything else, before reading it."""
    signed = signing.parse_authorization(request.headers.get("Authorization"))
    if signed is None:
        raise Unauthenticated("This request is not signed.")
    node_id, sent_at, nonce, given = signed
    known = signing.node_credentials(db, current_app.config["SECRET_KEY"], node_id)
    if known is None:
        raise Unauthenticated("This centre is not registered at the hub.")
    secret, revoked = known
    if not signing.verify(secret, request.method, request.path, sent_at, nonce, body, given):
        raise Unauthenticated("The signature is wrong: check this centre's token.")
    if revoked:
        raise Revoked("This centre's access to the hub was revoked.")
    if abs(sent_at - now) > signing.WINDOW_MS:
        raise Unauthenticated("This computer's clock is too far from the hub's.", hub_time=now)
    # Many centres at once: a request that waited its turn past SYNC_QUEUE_MAX is answered at
    # once, before its centre gives up on it, and nothing is done. It comes back a little later.
    waited = now - sent_at
    if waited > current_app.config.get("SYNC_QUEUE_MAX", 20.0) * 1000:
        retry = random.randint(5, 30)  # centres spread out, not back in step
        raise Busy(f"The hub is busy with other centres: try again in {retry} seconds.",
                   retry_after=retry, hub_time=now)
    return node_id, nonce


def _decode(body: bytes) -> dict:
    encoding = request.headers.get("Content-Encoding", "identity").lower()
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_DECOMPRESSED + 1)
        except zlib.error:
            raise Malformed("The body is not valid gzip.") from None
        if len(body) > MAX_DECOMPRESSED or inflater.unconsumed_tail:
            raise TooLarge("The request is larger than 64 MiB once decompressed.")
        if not inflater.eof:
            raise Malformed("The gzip body is cut short.")
    elif encoding != "identity":
        raise Malformed(f"Unknown Content-Encoding {encoding!r}.")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError):
        raise Malformed("The body is not JSON.") from None


def _no_constants(name):
    raise ValueError(f"{name} is not allowed")
