"""The node's side of syncing: a client for the hub's API, and ``sync_now`` that runs one sync.

Imports requests and the sync package, never kiosk. Anything that is not the hub answering (no
connection, a timeout, a 5xx, a captive portal's page) is ``Unreachable``; a refusal from the hub
is ``Refused`` with the hub's code and message.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests
import urllib3

from . import media, signing
from .engine import Catalog, build_request, note_hub_time, pending, process_reply, start_resync
from .engine.clock import wall_ms
from .engine.exchange import Ahead, read_ahead
from .engine.hub import PAGE_LIMIT
from .engine.state import read_state
from .errors import Malformed, MediaError, Refused, Unreachable

API = "/api/sync/v1"
MAX_REPLY = 64 * 1024 * 1024


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Packed:
    """A batch read ahead, already serialised and compressed as the start of a request's body,
    while the hub was busy with the batch before: only the request's few other fields are
    left to compress once the hub has answered. Used once."""

    def __init__(self, ahead: Ahead):
        self.ahead = ahead
        self._deflate = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        batch = {"id": ahead.id, "from": ahead.start, "to": ahead.end, "changes": ahead.changes}
        self._head = self._deflate.compress(b'{"batch":' + _dumps(batch))

    def holds(self, batch) -> bool:
        """Whether ``batch`` is this one (the request adopted the batch read ahead), and this
        has not been sent yet."""
        if self._head is None or not isinstance(batch, dict):
            return False
        return batch.get("changes") is self.ahead.changes and (
            batch.get("id"), batch.get("from"), batch.get("to")) == (
            self.ahead.id, self.ahead.start, self.ahead.end)

    def body(self, rest: dict) -> bytes:
        """The whole gzip body: the batch, then ``rest`` (the request's other fields)."""
        tail = _dumps(rest)
        tail = b"}" if tail == b"{}" else b"," + tail[1:]
        body = self._head + self._deflate.compress(tail) + self._deflate.flush()
        self._head = None  # used once
        return body


class HubClient:
    """Signed, compressed requests to one hub, counting what crosses the wire."""

    def __init__(self, url: str, token: str, *, timeout: tuple = (10, 60)):
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the hub's address must start with http:// or https://")
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self.path = parts.path
        self.host = parts.netloc
        self.node_id, self.secret = signing.parse_token(token)
        self.timeout = timeout
        self.session = requests.Session()
        # Only what is needed: every header is sent on every request, on slow links too.
        self.session.headers.clear()
        self.session.headers.update({"Accept-Encoding": "gzip"})
        self.requests = self.bytes_sent = self.bytes_received = 0

    def close(self) -> None:
        self.session.close()

    def exchange(self, payload: dict, time_ms: int, packed: Packed | None = None) -> dict:
        """One exchange. ``packed``: the payload's batch, already compressed (read ahead)."""
        # Nothing the hub assumes anyway: the node is in the signature, empty parts are absent,
        # and so is a page limit the hub takes by default.
        payload = {k: v for k, v in payload.items() if v is not None and v is not False
                   and k != "node" and not (k == "limit" and v == PAGE_LIMIT)}
        if packed is not None and packed.holds(payload.get("batch")):
            body = packed.body({k: v for k, v in payload.items() if k != "batch"})
            body_headers = body, {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        else:
            body_headers = self._json_body(payload)
        return self._signed("POST", "/exchange", body_headers, time_ms)

    def blobs(self, offer: list, want: list, time_ms: int) -> dict:
        """Which offered blobs the hub lacks (``missing``: {sha: bytes it has}) and the sizes
        of the wanted ones it holds for this centre (``sizes``)."""
        payload = {k: v for k, v in (("offer", offer), ("want", want)) if v}
        return self._signed("POST", "/blobs", self._json_body(payload), time_ms)

    def put_blob(self, sha: str, size: int, offset: int, data: bytes, time_ms: int) -> int:
        """Send one chunk; returns how many bytes of the blob the hub now has."""
        headers = {"Content-Type": "application/octet-stream"}
        return self._signed("PUT", f"/blobs/{sha}/{size}/{offset}", (data, headers),
                            time_ms)["received"]

    def get_blob(self, sha: str, offset: int, time_ms: int) -> tuple[bytes, int]:
        """One chunk of a blob from ``offset``, and the blob's whole size."""
        return self._signed("GET", f"/blobs/{sha}/{offset}", (b"", {}), time_ms, raw=True)

    def hello(self) -> dict:
        return self._send("GET", API + "/hello", b"", {})

    @staticmethod
    def _json_body(payload: dict) -> tuple[bytes, dict]:
        plain = _dumps(payload)
        body = gzip.compress(plain, compresslevel=6)
        headers = {"Content-Type": "application/json"}
        if len(body) < len(plain):
            headers["Content-Encoding"] = "gzip"
        else:
            body = plain  # a small body grows when compressed
        return body, headers

    def _signed(self, method: str, path: str, body_headers: tuple, time_ms: int, raw=False):
        body, headers = body_headers
        headers["Authorization"] = signing.authorization(
            self.node_id, self.secret, method, self.path + API + path, time_ms, body)
        return self._send(method, API + path, body, headers, raw=raw)

    def _send(self, method: str, path: str, body: bytes, headers: dict, raw: bool = False):
        prepared = self.session.prepare_request(
            requests.Request(method, self.base + path, data=body or None, headers=headers))
        sent_headers = {"Host": self.host, **prepared.headers}
        self.bytes_sent += len(f"{method} {self.path + path} HTTP/1.1\r\n") + sum(
            len(f"{k}: {v}\r\n") for k, v in sent_headers.items()) + 2 + len(body)
        self.requests += 1
        try:
            response = self.session.send(prepared, timeout=self.timeout, stream=True)
            content = response.raw.read(MAX_REPLY + 1, decode_content=False)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
            raise Unreachable(f"The hub did not answer: {_reason(e)}", reason="no_answer") from None
        self.bytes_received += len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + (
            sum(len(f"{k}: {v}\r\n") for k, v in response.raw.headers.items()) + 2
            + len(content))
        if response.status_code == 503 and (busy := self._busy(response, content)):
            raise Refused(str(busy.pop("message") or "The hub is busy."), "busy", 503, **busy)
        if response.status_code >= 500:
            raise Unreachable(f"The hub is not working ({response.status_code}).",
                              reason="hub_error")
        if raw and response.status_code == 200:
            return self._blob_chunk(response, content)
        data = self._parse(response, content)
        if response.status_code >= 400 or data.get("ok") is not True:
            error = (data.get("errors") or [{}])[0]
            extra = {k: v for k, v in data.items() if k not in ("ok", "errors")}
            raise Refused(str(error.get("message", "The hub refused.")),
                          str(error.get("code", "refused")), response.status_code, **extra)
        return data

    @classmethod
    def _busy(cls, response, content: bytes) -> dict | None:
        """The hub's "busy, try again after N seconds", or None (another 503)."""
        try:
            data = cls._parse(response, content)
        except Unreachable:
            return None
        error = (data.get("errors") or [{}])[0]
        retry = data.get("retry_after")
        if error.get("code") == "busy" and isinstance(retry, int) and 0 < retry <= 600:
            return {"message": error.get("message"), "retry_after": retry,
                    "hub_time": data.get("hub_time")}
        return None

    @staticmethod
    def _blob_chunk(response, content: bytes) -> tuple[bytes, int]:
        size = response.headers.get("X-Blob-Size", "")
        if response.headers.get("Content-Type") != "application/octet-stream" \
                or not (size.isascii() and size.isdigit()):
            raise Unreachable("Something else answered instead of the hub.", reason="not_hub")
        if str(len(content)) != response.headers.get("Content-Length"):
            raise Unreachable("The hub's answer was cut or damaged.", reason="damaged")
        return content, int(size)

    @staticmethod
    def _parse(response, raw: bytes) -> dict:
        """The hub's JSON, or Unreachable: a captive portal answers 200 with a web page."""
        if not response.headers.get("Content-Type", "").startswith("application/json"):
            raise Unreachable("Something else answered instead of the hub (a captive portal, or "
                              "a wrong address?).", reason="not_hub")
        try:
            if response.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            data = json.loads(raw)
        except (OSError, EOFError, ValueError):
            raise Unreachable("The hub's answer was cut or damaged.", reason="damaged") from None
        if not isinstance(data, dict) or "ok" not in data:
            raise Unreachable("Something else answered instead of the hub.", reason="not_hub")
        return data


def _reason(error: Exception) -> str:
    if isinstance(error, (requests.Timeout, urllib3.exceptions.TimeoutError)) \
            or "timed out" in str(error):  # a timeout while sending comes wrapped
        return "it took too long"
    if isinstance(error, requests.ConnectionError):
        return "no connection"
    return type(error).__name__


@dataclass
class SyncReport:
    status: str = "synced"
    sent: int = 0
    received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    requests: int = 0
    seconds: float = 0.0
    quarantined: int = 0
    blobs_sent: int = 0  # photos and recordings, whole
    blobs_received: int = 0
    blob_bytes_sent: int = 0  # their bytes, chunks sent again included
    blob_bytes_received: int = 0
    media_waiting: int = 0  # blobs not fetched: the disk is down to its reserve (issue 14)

    def as_dict(self) -> dict:
        return asdict(self)


def sync_now(db, tables, client: HubClient, *, schema: int, batch_limit: int = 1000,
             page_limit: int = PAGE_LIMIT, report: SyncReport | None = None,
             on_step=None, store: media.Store | None = None, patience: float = 600,
             sleep=time.sleep, software: str | None = None) -> SyncReport:
    """Push everything pending and pull everything new, then the blobs of ``store`` the rows
    name. Raises Unreachable or Refused; the report (passed in) still counts what happened
    before. ``on_step(report)`` is called after each request that moved data (progress).
    ``patience``: seconds, in all, to wait for a hub that says it is busy. ``software``: this
    centre's software version, told to the hub with every request (with how many changes the
    request leaves to send), for the regional staff."""
    report = report or SyncReport()
    started = time.monotonic()
    catalog = Catalog(db, tables)
    corrections = waited = 0
    # What is written while this sync runs goes at the next one: a centre that keeps writing
    # never keeps its sync from ending.
    until = read_state(db)["seq"]
    sender = ThreadPoolExecutor(1, thread_name_prefix="sync-send")
    packed = fetched = None  # the next batch, read ahead; the next page, asked for ahead
    try:
        while True:
            request = build_request(db, catalog, schema=schema, batch_limit=batch_limit,
                                    page_limit=page_limit, until=until,
                                    ahead=packed and packed.ahead)
            _tell_about_self(db, request, software)
            offset = read_state(db)["offset_ms"]
            pending, fetched = fetched, None
            try:
                reply, arrived, packed = _answer(sender, client, request, pending, offset, db,
                                                 catalog, batch_limit, until, packed)
            except Refused as e:
                packed = None  # what follows is read again after the hub is heard
                hub_time = e.extra.get("hub_time")
                if e.code in ("clock_ahead", "unauthenticated") and isinstance(hub_time, int) \
                        and corrections < 3:
                    # A wrong clock: learn the hub's time, re-stamp, sign anew, send again.
                    note_hub_time(db, hub_time, wall_ms(), refused=e.code == "clock_ahead")
                    corrections += 1
                    continue
                if e.code == "resync_required" and corrections < 3:
                    start_resync(db)
                    corrections += 1
                    continue
                if e.code == "busy" and waited + e.extra["retry_after"] <= patience:
                    # The hub has many centres at its door: wait the time it asked, then the
                    # same request again (nothing of it was done). It judged the wait by the
                    # request's signed time: a clock minutes slow learns the hub's here.
                    if isinstance(hub_time, int):
                        note_hub_time(db, hub_time, wall_ms())
                    waited += e.extra["retry_after"]
                    sleep(e.extra["retry_after"])
                    continue
                if e.code == "busy":
                    raise Unreachable(e.message, reason="busy") from None
                raise  # refused: said once, never sent again in a loop
            # While this page is applied, the hub reads the next one.
            fetched = _pull_ahead(sender, client, request, reply, offset)
            try:
                step = process_reply(db, catalog, request, reply, wall_ms=arrived,
                                     until=until)
            except Malformed as e:  # nothing of it was kept; the next sync asks again
                raise Unreachable(f"The hub's answer was not understood: {e.message}",
                                  reason="damaged") from None
            if step.reset:  # a new identity, or a restored hub: everything goes again
                until = read_state(db)["seq"]
            if step.reset or step.restamped:
                packed = None  # read before its stamps moved
            report.sent += step.sent
            report.received += step.received
            report.quarantined += step.quarantined + ((reply.get("ack") or {}).get(
                "quarantined", 0) or 0)
            if on_step:
                report.requests = client.requests
                on_step(report)
            if not step.more:
                break
        if fetched:
            fetched.drop()
        if store is not None:
            # Blobs no row here names any more (rows deleted, or gone from this centre's
            # scope) leave the disk now (sync/README.md, "Deleting media").
            media.sweep(db, tables, store)
            sync_media(db, tables, client, store, report, on_step)
        return report
    finally:
        sender.shutdown()
        report.requests = client.requests
        report.bytes_sent = client.bytes_sent
        report.bytes_received = client.bytes_received
        report.seconds = round(time.monotonic() - started, 3)


def _tell_about_self(db, request: dict, software: str | None) -> None:
    """Add to ``request`` what the regional staff see of this centre: its software version and
    how many of its changes remain to send after this request's batch."""
    if not software:
        return
    request["software"] = software
    batch = request["batch"]
    waiting = pending(db, batch["to"] if batch else None)
    if waiting:  # none said is none: a no-op sync stays one small request
        request["waiting"] = waiting


@dataclass
class _Fetched:
    """A pull request sent before the page ahead of it was applied, and its answer to come:
    used only if the request built after that page is the same (nothing else moved)."""

    request: dict
    answer: Future

    def drop(self) -> None:
        """Not used: a pull asked for ahead changes nothing at the hub that the next request
        does not say again, so its answer, or its failure, is only waited for."""
        with contextlib.suppress(Exception):
            self.answer.result()


def _pull_ahead(sender, client: HubClient, request: dict, reply, offset: int):
    """Ask for the page after this one while this one is applied (the centre applies one
    page while the hub reads the next), when this was a pull alone and more is coming."""
    page = reply.get("pull") if isinstance(reply, dict) else None
    if (not isinstance(page, dict) or request["batch"] or request["cursor"] is None
            or page.get("more") is not True or not isinstance(page.get("cursor"), int)):
        return None  # (an answer not understood is for process_reply to say)
    following = {**request, "cursor": page["cursor"]}

    def ask():
        answer = client.exchange({**following, "had": request["cursor"]}, wall_ms() + offset)
        return answer, wall_ms()
    return _Fetched(following, sender.submit(ask))


def _answer(sender, client: HubClient, request: dict, fetched: _Fetched | None, offset: int,
            db, catalog, batch_limit, until, packed: Packed | None):
    """The hub's answer to ``request``: the one asked for ahead if it was this very request,
    else sent now (``packed``: this request's batch, if it was read ahead). Returns the reply,
    when it arrived, and the batch that follows, read ahead meanwhile (None if none)."""
    if fetched is not None:
        if fetched.request == request:
            reply, arrived = fetched.answer.result()
            return reply, arrived, None
        fetched.drop()
    reply, following = _send(sender, client, request, wall_ms() + offset, db, catalog,
                             batch_limit, until, packed)
    return reply, wall_ms(), following


def _send(sender, client: HubClient, request: dict, time_ms: int, db, catalog, batch_limit,
          until, packed: Packed | None):
    """Send one request; while the hub works on a push, read and compress the batch that
    follows, so the centre and the hub work at once (the hub applies one batch while the next
    is read). Returns the reply and that batch (None if there is none, or no push)."""
    if not request["batch"]:
        return client.exchange(request, time_ms), None
    answer = sender.submit(client.exchange, request, time_ms, packed)
    following = None
    try:
        ahead = read_ahead(db, catalog, request["batch"]["to"], batch_limit=batch_limit,
                           until=until)
        following = ahead and Packed(ahead)
    finally:
        reply = answer.result()  # the hub's answer (or its refusal) comes first
    return reply, following


def sync_media(db, tables, client: HubClient, store: media.Store, report: SyncReport,
               on_step=None) -> None:
    """Send the hub the blobs this centre's rows name that it lacks, and fetch the blobs named
    by rows here that this centre lacks, chunk by chunk from wherever a transfer stopped. No
    request at all when there is nothing to move (sync/README.md, "Media"). Downloads stop
    where a chunk would leave less free space than ``store.reserve``; ``report.media_waiting``
    counts the blobs left for a later sync."""
    state = read_state(db)

    def now() -> int:
        return wall_ms() + state["offset_ms"]

    offer = media.unconfirmed(db, tables, store, state["node_id"])
    want = sorted(sha for sha in media.named(db, tables) if not store.has(sha))
    step = media.MAX_ASKED
    for start in range(0, max(len(offer), len(want)), step):
        offered, wanted = offer[start:start + step], want[start:start + step]
        reply = client.blobs(offered, wanted, now())
        missing = reply.get("missing") or {}
        for sha in offered:
            if sha in missing:
                if not _upload(client, store, sha, missing[sha], now, report, on_step):
                    continue
                report.blobs_sent += 1
            media.confirm(db, [sha])
        for sha, size in sorted((reply.get("sizes") or {}).items()):
            if sha not in wanted:
                continue
            if report.media_waiting:  # the disk reached its reserve: the rest waits too
                report.media_waiting += 1
                continue
            try:
                if _download(client, store, sha, size, now, report, on_step):
                    report.blobs_received += 1
            except _NoRoom:
                report.media_waiting += 1


class _NoRoom(Exception):
    """The next chunk would eat into the disk's reserve: downloads stop, rows stay synced."""


def _upload(client, store, sha, received, now, report, on_step) -> bool:
    """Send blob ``sha`` from byte ``received``; True once the hub has all of it."""
    size = store.size(sha)
    offset = received if isinstance(received, int) and 0 <= received <= size else 0
    restarts = 0
    while offset < size:
        data = store.read(sha, offset)
        report.blob_bytes_sent += len(data)  # sent, whether or not its answer comes back
        try:
            offset = client.put_blob(sha, size, offset, data, now())
        except Refused as e:
            if e.code == "offset" and isinstance(e.extra.get("received"), int) and restarts < 3:
                offset, restarts = e.extra["received"], restarts + 1  # the hub has other bytes
                continue
            if e.code == "hash_mismatch" and restarts < 3:
                offset, restarts = 0, restarts + 1
                continue
            return False  # no longer named by a row of ours, or refused: tried next time
        if on_step:
            on_step(report)
    return True


def _download(client, store, sha, size, now, report, on_step) -> bool:
    """Fetch blob ``sha`` of ``size`` bytes from where an earlier transfer stopped; True once it
    is stored, checked against its hash."""
    if not isinstance(size, int) or not 0 < size <= media.MAX_SIZE:
        return False
    offset = store.received(sha)
    restarts = 0
    while offset < size:
        if not store.has_room(min(media.CHUNK, size - offset)):
            raise _NoRoom()  # what arrived stays in partial/, and resumes once there is room
        try:
            data, total = client.get_blob(sha, offset, now())
        except Refused:
            return False  # gone from the hub, or from this centre's scope, meanwhile
        report.blob_bytes_received += len(data)
        try:
            if total != size:
                raise MediaError("The file changed size.", "hash_mismatch")
            offset = store.write_chunk(sha, size, offset, data)
        except MediaError as e:
            if e.code == "offset" and restarts < 3:
                offset, restarts = e.extra["received"], restarts + 1
                continue
            if e.code == "hash_mismatch" and restarts < 1:
                offset, restarts = 0, restarts + 1
                continue
            return False
        if on_step:
            on_step(report)
    return store.has(sha)
