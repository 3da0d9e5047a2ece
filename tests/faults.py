"""TCP proxies between a node and the hub: ``Proxy`` watches the hub's answers and can hold one
back, signalling the test when it does; ``FaultProxy`` spoils HTTP exchanges by a seeded plan
(dropped, stalled, reset, truncated). Faults are triggered by events, never by timers."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import random
import socket
import struct
import threading
from collections import Counter


class _HubProxy:
    """A TCP server on 127.0.0.1 (``port``) that opens a connection to the hub for each of its
    own and lets ``_carry`` pass bytes between them, on an event loop in a thread of its own;
    ``close`` ends every connection, held or stalled ones too."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
        await self._carry(client_reader, client_writer, hub_reader, hub_writer)

    async def _carry(self, client_reader, client_writer, hub_reader, hub_writer) -> None:
        raise NotImplementedError

    def close(self) -> None:
        async def shutdown():
            self._server.close()
            # A held or stalled line waits for ever: end it while the loop still runs.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Proxy(_HubProxy):
    """Forwards 127.0.0.1:<port> to the hub; holds back the ``hold_at``-th HTTP response."""

    def __init__(self, target_port: int, hold_at: int | None = None):
        self.hold_at = hold_at
        self.responses = 0
        self.held = threading.Event()
        super().__init__(target_port)

    async def _carry(self, client_reader, client_writer, hub_reader, hub_writer) -> None:
        await asyncio.gather(self._pipe(client_reader, hub_writer, watch=False),
                             self._pipe(hub_reader, client_writer, watch=True),
                             return_exceptions=True)

    async def _pipe(self, reader, writer, *, watch: bool) -> None:
        try:
            while data := await reader.read(65536):
                if watch and self.hold_at is not None and not self.held.is_set():
                    starts = data.count(b"HTTP/1.1 ")
                    if self.responses + starts >= self.hold_at:
                        # Forward what came before the held answer, then nothing more.
                        skip = self.hold_at - self.responses - 1
                        cut = -1
                        for _ in range(skip + 1):
                            cut = data.index(b"HTTP/1.1 ", cut + 1)
                        writer.write(data[:cut])
                        await writer.drain()
                        self.responses = self.hold_at
                        self.held.set()
                        await asyncio.Event().wait()  # hold the line open, silent
                    self.responses += starts
                elif watch:
                    self.responses += data.count(b"HTTP/1.1 ")
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


FAULTS = ("drop_request", "drop_response", "stall", "reset", "truncate")


class FaultProxy(_HubProxy):
    """Forwards 127.0.0.1:<port> to the hub one HTTP message at a time, and spoils about one
    exchange (a request and its answer) in ``every``, chosen with ``random.Random(seed)``, as is
    where a message is cut. The kinds of ``FAULTS`` come in turn, so that a few dozen exchanges
    see each kind.

    Faults act per message, not per connection: a sync sends all its requests on one keep-alive
    connection. Each is triggered by an event (a request read, the hub's answer read), so the
    proxy behaves the same on a slow machine. ``applied`` counts the faults done by kind;
    ``lost_answers`` those done after the hub had the whole request (it may have applied a
    batch the node never hears of). Set ``active`` to False for clean syncs.

    - drop_request: part of the request reaches the hub, then both sides are closed;
    - drop_response: part of the hub's answer (its head perhaps) reaches the node, then close;
    - stall: the request is read (and passed on, or not), the answer never comes; the line stays
      open and silent until the node gives up;
    - reset: part of the request or of the answer, then a TCP RST (SO_LINGER 0) both ways;
    - truncate: the answer's head and part of its body, then a clean close (FIN).
    """

    def __init__(self, target_port: int, *, seed: int = 0, every: int = 3):
        self.every = every
        self.active = True
        self.exchanges = self.answered = self.lost_answers = 0
        self.applied: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._turn = 0
        super().__init__(target_port)

    def _plan(self) -> tuple[str, float, bool] | None:
        """Drawn when a request has arrived: no fault, or (kind, where to cut, early): a stall or
        a reset comes before the hub has the request on every other turn of the kinds."""
        self.exchanges += 1
        if not self.active or self._rng.randrange(self.every):
            return None
        kind = FAULTS[self._turn % len(FAULTS)]
        early = self._turn // len(FAULTS) % 2 == 1
        self._turn += 1
        return kind, self._rng.random(), early

    async def _carry(self, client_reader, client_writer, hub_reader, hub_writer) -> None:
        try:
            while await self._exchange(client_reader, client_writer, hub_reader, hub_writer):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # either side went away mid-message: so does the proxy
        finally:
            client_writer.close()
            hub_writer.close()

    async def _exchange(self, client_reader, client_writer, hub_reader, hub_writer) -> bool:
        """Carry one request and its answer; False when the connection is done with."""
        request = await _message(client_reader, response=False)
        if request is None:
            return False
        plan = self._plan()
        kind, where, early = plan or (None, 0.0, False)
        data = request[0] + request[1]
        if kind == "drop_request" or (kind == "reset" and early):
            self.applied[kind] += 1
            await _send(hub_writer, data[:int(where * len(data))])
            if kind == "reset":
                _reset(client_writer, hub_writer)
            return False
        if kind == "stall" and early:  # the hub never hears of it
            self.applied[kind] += 1
            await _silent(client_reader)
            return False
        await _send(hub_writer, data)
        answer = await _message(hub_reader, response=True)
        if answer is None:
            return False
        head, body = answer
        if kind is None:
            self.answered += 1
            await _send(client_writer, head + body)
            return True
        self.applied[kind] += 1
        self.lost_answers += 1
        if kind == "stall":
            await _silent(client_reader)
        elif kind == "truncate":
            await _send(client_writer, head + body[:int(where * len(body))])
        else:
            await _send(client_writer, (head + body)[:int(where * (len(head) + len(body)))])
            if kind == "reset":
                _reset(client_writer, hub_writer)
        return False


async def _message(reader, *, response: bool) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message as (head, body), framed by its headers; None if the line closed
    before it began."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise
        return None
    fields = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip().lower()
    if fields.get(b"transfer-encoding") == b"chunked":
        body = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            body += size_line + await reader.readexactly(size + 2)
            if not size:
                return head, body
    if b"content-length" in fields:
        return head, await reader.readexactly(int(fields[b"content-length"]))
    return head, (await reader.read() if response else b"")  # an answer ends at the close


async def _send(writer, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


async def _silent(reader) -> None:
    """Hold the line open, saying nothing, until the other side closes it."""
    while await reader.read(65536):
        pass


def _reset(*writers) -> None:
    """Close with a TCP RST rather than a FIN."""
    for writer in writers:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


class _Portal(http.server.BaseHTTPRequestHandler):
    """Answers everything with a web page, as a captive portal (or a broken proxy) does."""

    status = 200

    def _answer(self):
        body = b"<html><body>Welcome to the village wifi. Please log in.</body></html>"
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def captive_portal(status: int = 200):
    """The address of an HTTP server that answers every request with a page and ``status``."""
    handler = type("Portal", (_Portal,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
