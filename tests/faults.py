"""A TCP proxy between a node and the hub that watches the hub's answers and can hold one back,
signalling the test when it does (faults are triggered by events, never by timers)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading


class Proxy:
    """Forwards 127.0.0.1:<port> to the hub; holds back the ``hold_at``-th HTTP response."""

    def __init__(self, target_port: int, hold_at: int | None = None):
        self.target_port = target_port
        self.hold_at = hold_at
        self.responses = 0
        self.held = threading.Event()
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

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            hub_reader, hub_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.close()
            return
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

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


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
