"""The node's side of syncing: a client for the hub's API, and ``sync_now`` that runs one sync.

Imports requests and the sync package, never kiosk. Anything that is not the hub answering (no
connection, a timeout, a 5xx, a captive portal's page) is ``Unreachable``; a refusal from the hub
is ``Refused`` with the hub's code and message.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests

from . import signing
from .engine import Catalog, build_request, note_hub_time, process_reply, start_resync
from .engine.clock import wall_ms
from .errors import Malformed, Refused, Unreachable

API = "/api/sync/v1"
MAX_REPLY = 64 * 1024 * 1024


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

    def exchange(self, payload: dict, time_ms: int) -> dict:
        # Nothing the hub assumes anyway: the node is in the signature, empty parts are absent.
        payload = {k: v for k, v in payload.items() if v is not None and v is not False
                   and k != "node"}
        plain = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        body = gzip.compress(plain, compresslevel=6)
        headers = {"Content-Type": "application/json"}
        if len(body) < len(plain):
            headers["Content-Encoding"] = "gzip"
        else:
            body = plain  # a small body grows when compressed
        path = self.path + API + "/exchange"
        headers["Authorization"] = signing.authorization(self.node_id, self.secret, "POST", path,
                                                         time_ms, body)
        return self._send("POST", API + "/exchange", body, headers)

    def hello(self) -> dict:
        return self._send("GET", API + "/hello", b"", {})

    def _send(self, method: str, path: str, body: bytes, headers: dict) -> dict:
        prepared = self.session.prepare_request(
            requests.Request(method, self.base + path, data=body or None, headers=headers))
        sent_headers = {"Host": self.host, **prepared.headers}
        self.bytes_sent += len(f"{method} {self.path + path} HTTP/1.1\r\n") + sum(
            len(f"{k}: {v}\r\n") for k, v in sent_headers.items()) + 2 + len(body)
        self.requests += 1
        try:
            response = self.session.send(prepared, timeout=self.timeout, stream=True)
            raw = response.raw.read(MAX_REPLY + 1, decode_content=False)
        except requests.RequestException as e:
            raise Unreachable(f"The hub did not answer: {_reason(e)}", reason="no_answer") from None
        self.bytes_received += len(f"HTTP/1.1 {response.status_code} {response.reason}\r\n") + (
            sum(len(f"{k}: {v}\r\n") for k, v in response.raw.headers.items()) + 2 + len(raw))
        if response.status_code >= 500:
            raise Unreachable(f"The hub is not working ({response.status_code}).",
                              reason="hub_error")
        data = self._parse(response, raw)
        if response.status_code >= 400 or data.get("ok") is not True:
            error = (data.get("errors") or [{}])[0]
            extra = {k: v for k, v in data.items() if k not in ("ok", "errors")}
            raise Refused(str(error.get("message", "The hub refused.")),
                          str(error.get("code", "refused")), response.status_code, **extra)
        return data

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


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
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

    def as_dict(self) -> dict:
        return asdict(self)


def sync_now(db, tables, client: HubClient, *, schema: int, batch_limit: int = 1000,
             page_limit: int = 2000, report: SyncReport | None = None,
             on_step=None) -> SyncReport:
    """Push everything pending and pull everything new. Raises Unreachable or Refused; the
    report (passed in) still counts what happened before. ``on_step(report)`` is called after
    each exchange (progress)."""
    report = report or SyncReport()
    started = time.monotonic()
    catalog = Catalog(db, tables)
    corrections = 0
    try:
        while True:
            request = build_request(db, catalog, schema=schema, batch_limit=batch_limit,
                                    page_limit=page_limit)
            offset = db.execute("SELECT offset_ms FROM _sync_state WHERE id = 1").fetchone()[0]
            try:
                reply = client.exchange(request, wall_ms() + offset)
            except Refused as e:
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
                raise
            try:
                step = process_reply(db, catalog, request, reply, wall_ms=wall_ms())
            except Malformed as e:  # nothing of it was kept; the next sync asks again
                raise Unreachable(f"The hub's answer was not understood: {e.message}",
                                  reason="damaged") from None
            report.sent += step.sent
            report.received += step.received
            report.quarantined += step.quarantined + ((reply.get("ack") or {}).get(
                "quarantined", 0) or 0)
            if on_step:
                report.requests = client.requests
                on_step(report)
            if not step.more:
                return report
    finally:
        report.requests = client.requests
        report.bytes_sent = client.bytes_sent
        report.bytes_received = client.bytes_received
        report.seconds = round(time.monotonic() - started, 3)
