"""Drives the kiosk window for tests/test_desktop_window.py, in a process of its own (GTK wants
the main thread): ``python -m tests.desktop_driver DATA_DIR PORT OUT_DIR``.

Opens the window as ``infocentre desktop`` does (``kiosk.desktop.open_kiosk``), then from its
ready hook: reads the home page, tries to leave the centre three ways, kills the server the
window started and waits for the home page again, closes the window. Writes what it saw to
OUT_DIR/seen.json and screenshots beside it; the test asserts on them.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from PIL import ImageGrab

from kiosk import desktop
from kiosk.config import LOCALES_DIR
from kiosk.i18n import use_language


def page(window) -> dict:
    # run_js, not evaluate_js: the pages' CSP forbids the eval() that evaluate_js wraps around.
    return window.run_js(
        "JSON.stringify({href: location.href, title: document.title, lang: "
        "document.documentElement.lang, ready: document.readyState, h1: "
        "(document.querySelector('h1') || {}).textContent || null, mark: !!window.kioskMark, "
        "refused: (document.querySelector('[data-kiosk-refused]') || {}).textContent || null})")


def painted(image) -> bool:
    return len(image.getcolors(1 << 16) or ()) > 50


def header_painted(image) -> bool:
    """The home page's dark header, not the white "server not answering" page: WebKit paints
    a new page a moment after its document is complete."""
    return painted(image) and sum(image.convert("RGB").getpixel((2, 2))) < 300


def shot(out: Path, name: str, until=painted, timeout: float = 15) -> str:
    """A screenshot of the whole display, once ``until(image)`` holds (or after timeout)."""
    path = out / f"{name}.png"
    deadline = time.monotonic() + timeout
    while True:
        image = ImageGrab.grab(xdisplay=os.environ["DISPLAY"])
        if until(image) or time.monotonic() > deadline:
            image.save(path)
            return str(path)
        time.sleep(0.3)


def checks(window, watcher, base: str, out: Path, seen: dict) -> None:
    # Refused before any request is made; nothing listens there anyway (the server listens on
    # 127.0.0.1). Not port 9: WebKit itself blocks the "bad ports" before asking the policy.
    outside = base.replace("127.0.0.1", "127.0.0.2")
    def home(p):
        return p and p["href"] == base and p["ready"] == "complete" and p["h1"]

    seen["home"] = poll_page(window, home)
    seen["home_shot"] = shot(out, "home", header_painted)

    attempts = {
        "script": f"window.kioskMark = 1; location.href = '{outside}'; 1",
        "link": f"var a = document.createElement('a'); a.href = '{outside}link'; "
                "document.body.appendChild(a); a.click(); 1",
        "new_window": f"var a = document.createElement('a'); a.href = '{outside}tab'; "
                      "a.target = '_blank'; document.body.appendChild(a); a.click(); 1",
    }
    for how, script in attempts.items():
        window.run_js("var r = document.querySelector('[data-kiosk-refused]'); "
                           "if (r) r.remove(); 1")
        window.run_js(script)
        time.sleep(1)  # a navigation that was let through would have started by now
        seen[f"refused_{how}"] = poll_page(window, lambda p: p and p["refused"], timeout=10)
    seen["refused_shot"] = shot(out, "refused")

    window.run_js(f"location.href = '{base}?inside=1'; 1")
    seen["inside"] = poll_page(window, lambda p: p and p["href"].endswith("?inside=1"))

    server = watcher.server
    first = server.process.pid
    seen["server_pid"] = first
    window.run_js("window.kioskMark = 1; 1")
    os.kill(first, signal.SIGKILL)
    # Back on the home page, loaded again: the mark set on the old page is gone.
    seen["after_restart"] = poll_page(
        window, lambda p: home(p) and not p["mark"], timeout=60)
    seen["restarted_pid"] = server.process.pid
    seen["restarts"] = server.restarts
    seen["restart_shot"] = shot(out, "restarted", header_painted)


def poll_page(window, until, timeout: float = 30):
    """The page's state, read until ``until(state)`` is true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = json.loads(page(window) or "null")
        except ValueError:
            value = None
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def main(data_dir: Path, port: int, out: Path) -> None:
    use_language(LOCALES_DIR, "en")
    seen: dict = {"started": time.monotonic()}
    base = f"http://127.0.0.1:{port}/"

    def on_ready(window, watcher):
        try:
            window.events.loaded.wait(60)
            seen["loaded_after"] = round(time.monotonic() - seen["started"], 2)
            checks(window, watcher, base, out, seen)
        except Exception:
            seen["error"] = traceback.format_exc()
        finally:
            window.destroy()

    desktop.open_kiosk(data_dir, url=None, host="127.0.0.1", port=port, fullscreen=True,
                       locales_dir=LOCALES_DIR, on_ready=on_ready)
    seen["server_left_running"] = desktop.answers(base, timeout=1)
    (out / "seen.json").write_text(json.dumps(seen, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))
