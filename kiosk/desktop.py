"""The kiosk window (``infocentre desktop``): a full-screen pywebview window around the centre's
server, which it starts (or finds running), watches and restarts; pages outside it are refused.

Imports kiosk.errors and kiosk.i18n only; pywebview and GTK are the ``desktop`` extra, imported
when the window opens. Messages arrive translated: the watcher thread has no language of its own.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .errors import KioskError
from .i18n import LANGUAGES, _, load_translations

# WebKitGTK, through GObject introspection: bookworm has WebKit2 4.1 (and 4.0) typelibs.
WEBKIT_VERSIONS = ("4.1", "4.0")
REFUSED_MARK = "data-kiosk-refused"


class ServerStartError(KioskError):
    """The server this window started exited, or did not answer in time."""


@dataclass(frozen=True)
class Messages:
    """What the window says, translated on the CLI's thread before it opens: the GUI and the
    watcher threads have no language of their own."""

    title: str
    refused: dict[str, str]  # <html lang> tag -> the refusal in that language
    refused_default: str  # in the terminal's language, for a page of unknown language
    waiting: str  # the page shown while the server is down
    restarting: str  # printed when the server this window started has stopped
    not_restarted: str


def messages(locales_dir: Path) -> Messages:
    """The window's messages in the terminal's language, and the refusal in every language."""
    refused = {lang.tag: _refused(load_translations(locales_dir, code).ugettext)
               for code, lang in LANGUAGES.items()}
    return Messages(
        title=_("Infocentre kiosk"),
        refused=refused,
        refused_default=_refused(_),
        waiting=_("The centre's server is not answering. The kiosk comes back by itself as "
                  "soon as it does."),
        restarting=_("The kiosk's server stopped; starting it again."),
        not_restarted=_("The kiosk's server did not start again; trying again shortly."),
    )


def _refused(gettext) -> str:
    return gettext("Only the centre's own pages open here: that page is outside the centre.")


def missing_backend() -> str | None:
    """"extra" when pywebview or PyGObject is not installed, "webkit" when WebKitGTK's
    typelib is missing (a system package), None when the window can open."""
    try:
        import gi
        import webview  # noqa: F401
    except ImportError:
        return "extra"
    try:
        _require_webkit(gi)
    except ValueError:
        return "webkit"
    return None


def _require_webkit(gi) -> None:
    for version in WEBKIT_VERSIONS[:-1]:
        try:
            gi.require_version("WebKit2", version)
            return
        except ValueError:
            continue
    gi.require_version("WebKit2", WEBKIT_VERSIONS[-1])


def is_inside(url: str, base: str) -> bool:
    """True when ``url`` is a page of the server at ``base`` (same scheme, host and port)."""
    if url in ("about:blank", ""):
        return True  # pywebview's first page and our own "waiting" page
    a, b = urlsplit(url), urlsplit(base)
    try:
        return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == (
            b.scheme, b.hostname, b.port or _default_port(b.scheme))
    except ValueError:  # a port that is not a number
        return False


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def answers(url: str, timeout: float = 2) -> bool:
    """True when an Infocentre server answers at ``url`` (waitress says so in ``Server``)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.headers.get("Server", "") == "infocentre"
    except urllib.error.HTTPError as e:  # a 500 is still our server, alive
        return e.headers.get("Server", "") == "infocentre"
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Server:
    """The centre's server as the window sees it: one this command started (``command`` set),
    which it restarts when it exits, or one found running, which it only waits for."""

    url: str
    command: list[str] | None = None
    process: subprocess.Popen | None = None
    start_timeout: float = 60
    restarts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def start(self) -> None:
        """Start the server process and wait until it answers; ServerStartError if it exits
        first (its own message is on stderr, which it shares with this command)."""
        with self._lock:
            self.process = subprocess.Popen(self.command)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise ServerStartError(self.process.returncode)
                if answers(self.url):
                    return
                time.sleep(0.2)
            raise ServerStartError(None)

    def is_up(self) -> bool:
        if self.process is not None and self.command is not None:
            return self.process.poll() is None  # cheap: no request every second
        return answers(self.url)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # `serve` closes cleanly on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def open_server(url: str, command: list[str] | None) -> Server:
    """Use the server answering at ``url`` (a running `infocentre serve`, as a service of its
    own), else start it with ``command``; None: a centre's server on another PC, which this
    window can only wait for."""
    server = Server(url, command)
    if command is not None and not answers(url):
        server.start()
    return server


class Watcher:
    """Keeps the window on a live server: restarts one this command started, shows a waiting
    page while the server is down, and loads the home page again once it is back."""

    def __init__(self, server: Server, window, messages: Messages, interval: float = 1.0,
                 say=print):
        self.server, self.window, self.messages = server, window, messages
        self.interval, self.say = interval, say
        self.stopped = threading.Event()
        self.down = False

    def run(self) -> None:
        backoff = self.interval
        while not self.stopped.wait(backoff if self.down else self.interval):
            if self.server.is_up():
                continue
            if not self.down:
                self.down = True
                self.window.load_html(waiting_page(self.messages), self.server.url)
            try:
                if self.server.command is None:
                    if not answers(self.server.url):
                        continue
                elif not answers(self.server.url):  # a server found running may be back
                    self.say(self.messages.restarting)
                    self.server.restarts += 1
                    self.server.start()
            except ServerStartError:
                self.say(self.messages.not_restarted)
                backoff = min(backoff * 2, 30)  # a server that cannot start is not hammered
                continue
            self.down, backoff = False, self.interval
            self.window.load_url(self.server.url)


def waiting_page(messages: Messages) -> str:
    from html import escape

    return (f"<!doctype html><title>{escape(messages.title)}</title>"
            f'<body style="font:2rem sans-serif;display:grid;place-items:center;height:90vh">'
            f"<p role=status>{escape(messages.waiting)}</p>")


def refusal_script(messages: Messages) -> str:
    """JavaScript that shows the refusal in the page's own language, over the page."""
    texts = json.dumps(messages.refused)
    default = json.dumps(messages.refused_default)
    return f"""(function () {{
  var texts = {texts}, lang = document.documentElement.lang || '';
  var old = document.querySelector('[{REFUSED_MARK}]'); if (old) old.remove();
  var box = document.createElement('div');
  box.setAttribute('{REFUSED_MARK}', ''); box.setAttribute('role', 'alert');
  box.textContent = texts[lang] || texts[lang.split('-')[0]] || {default};
  box.style.cssText = 'position:fixed;z-index:2147483647;top:1rem;left:50%;'
    + 'transform:translateX(-50%);max-width:90vw;padding:1rem 1.5rem;font-size:1.4rem;'
    + 'background:#fff3cd;color:#3d2e00;border:3px solid #8a6d00;border-radius:.5rem';
  box.addEventListener('click', function () {{ box.remove(); }});
  document.body.appendChild(box);
  setTimeout(function () {{ box.remove(); }}, 10000);
}})();"""


def _prepare_gtk(window, base: str, messages: Messages) -> None:
    """Refuse, in WebKitGTK itself, every navigation away from ``base`` (links, scripts, forms,
    new windows); keep the zoom keys from zooming; close on SIGTERM (a service manager, a PC
    shutting down) so that the server this window started stops too. Runs on the GTK thread
    before the first page loads."""
    import gi

    _require_webkit(gi)
    from gi.repository import Gdk, GLib, WebKit2

    script = refusal_script(messages)

    def decide(_view, decision, _kind):
        if not isinstance(decision, WebKit2.NavigationPolicyDecision):
            return False  # responses (downloads, MIME types) stay pywebview's business
        uri = decision.get_navigation_action().get_request().get_uri()
        if is_inside(uri, base):
            return False
        decision.ignore()
        # run_js waits for the GTK thread, which is this one: show it from another. (Not
        # evaluate_js: it wraps the script in eval(), which the pages' CSP forbids.)
        threading.Thread(target=window.run_js, args=(script,), daemon=True).start()
        return True

    view = _find(window.native, WebKit2.WebView)
    view.connect("decide-policy", decide)
    zoom_keys = {Gdk.KEY_plus, Gdk.KEY_minus, Gdk.KEY_equal, Gdk.KEY_0, Gdk.KEY_KP_Add,
                 Gdk.KEY_KP_Subtract, Gdk.KEY_KP_0}

    def key(_widget, event):
        return bool(event.state & Gdk.ModifierType.CONTROL_MASK and event.keyval in zoom_keys)

    window.native.connect("key-press-event", key)

    def close():
        window.native.close()
        return GLib.SOURCE_REMOVE

    # The GTK main loop leaves Python's signal handlers unrun until an event arrives.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, close)


def _find(widget, kind):
    if isinstance(widget, kind):
        return widget
    for child in getattr(widget, "get_children", list)():
        found = _find(child, kind)
        if found is not None:
            return found
    return None


def run_window(server: Server, messages: Messages, *, storage: Path, fullscreen: bool = True,
               on_ready=None, say=print) -> None:
    """Open the window on ``server`` and block until it closes. ``on_ready(window, watcher)``
    runs on its own thread once the GUI is up (tests drive the window from it)."""
    import webview

    # Outside links would otherwise open in the system's browser, out of the kiosk.
    webview.settings["OPEN_EXTERNAL_LINKS_IN_BROWSER"] = False
    # zoomable=False also stops Ctrl+wheel and pinch zoom; text_select=True leaves selection
    # as the pages have it (pywebview turns it off by default).
    window = webview.create_window(messages.title, server.url, fullscreen=fullscreen,
                                   zoomable=False, text_select=True, width=1024, height=700)
    window.events.before_show += lambda: _prepare_gtk(window, server.url, messages)
    watcher = Watcher(server, window, messages, say=say)

    def started():
        threading.Thread(target=watcher.run, daemon=True, name="kiosk-watcher").start()
        if on_ready is not None:
            on_ready(window, watcher)

    storage.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # Not private: the "recent names at this terminal" cookie must outlive the window.
        webview.start(started, gui="gtk", private_mode=False, storage_path=str(storage))
    finally:
        watcher.stopped.set()


def serve_command(data_dir: Path, host: str, port: int) -> list[str]:
    """The ``infocentre serve`` this window starts: the same Python, as a child process, so
    that a crash of the server never takes the window with it."""
    return [sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), "serve", "--host", host,
            "--port", str(port)]


def open_kiosk(data_dir: Path, *, url: str | None, host: str, port: int, fullscreen: bool,
               locales_dir: Path, say=print, on_ready=None) -> None:
    """``infocentre desktop``: the window on ``url`` (a centre's server on another PC), or on
    this PC's server, started unless one answers already; blocks until the window closes.
    Raises ServerStartError when the server this command starts does not come up."""
    text = messages(locales_dir)
    # Until the window takes over SIGTERM (_prepare_gtk), end as for Ctrl+C: through the
    # `finally` below, which stops the server this command started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if url is None:
        server = open_server(f"http://127.0.0.1:{port}/", serve_command(data_dir, host, port))
    else:
        server = open_server(url if url.endswith("/") else url + "/", None)
    try:
        run_window(server, text, storage=data_dir / "window", fullscreen=fullscreen,
                   on_ready=on_ready, say=say)
    finally:
        server.stop()
