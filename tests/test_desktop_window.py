"""The kiosk window (``infocentre desktop``) under Xvfb: it opens full screen on the home page,
refuses pages outside the centre with a message, and brings the server back when it dies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image, ImageGrab

from kiosk import desktop
from kiosk.desktop import Messages, is_inside, refusal_script

from .live import ROOT, free_port, infocentre, start_demo_server

SCREEN = (1024, 700)
needs_display = pytest.mark.desktop


@pytest.fixture(scope="module")
def display():
    """A private X server; fails (does not skip) where Linux could run it but it is missing."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the kiosk window is tested with WebKitGTK under Xvfb, on Linux only")
    if shutil.which("Xvfb") is None or desktop.missing_backend():
        pytest.fail("the kiosk window needs Xvfb, gir1.2-webkit2-4.1 and the desktop extra: "
                    "./scripts/test installs them")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "x".join(map(str, SCREEN)) + "x24",
         "-nolisten", "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(timeout=10)


@pytest.fixture
def demo_centre(tmp_path):
    path = tmp_path / "centre"
    infocentre(path, "init", "--role", "node", "--name", "Centro Demo", "--language", "en")
    infocentre(path, "demo")
    return path


@pytest.mark.parametrize("url, inside", [
    ("http://127.0.0.1:5000/", True),
    ("http://127.0.0.1:5000/auth/sign-in?next=/", True),
    ("about:blank", True),
    ("http://127.0.0.2:9/", False),
    ("http://127.0.0.1:5001/", False),
    ("https://127.0.0.1:5000/", False),
    ("http://localhost:5000/", False),
    ("file:///etc/passwd", False),
    ("javascript:alert(1)", False),
    ("http://127.0.0.1:5000@127.0.0.2:9/", False),
    ("http://127.0.0.1:port/", False),
])
def test_only_the_centres_own_origin_is_inside(url, inside):
    assert is_inside(url, "http://127.0.0.1:5000/") is inside


def test_the_refusal_is_shown_as_text_never_as_html():
    messages = Messages(title="t", refused={"ar": "</script><b>"}, refused_default="x",
                        waiting="w", restarting="r", not_restarted="n")
    script = refusal_script(messages)
    assert "textContent" in script and "innerHTML" not in script
    assert '"</script><b>"' in script  # a JSON string, not markup


def test_without_the_desktop_extra_the_command_says_how_to_install_it(tmp_path):
    # The extra is installed here; a process where importing it fails shows the message.
    code = ("import sys; sys.modules['webview'] = None; from kiosk.cli import main; "
            f"sys.argv = ['infocentre', '--data-dir', {str(tmp_path)!r}, 'desktop']; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, env={**os.environ, "LANG": "C.UTF-8"})
    assert result.returncode == 1
    assert result.stderr.startswith("infocentre: The kiosk window needs the desktop extra")
    assert "infocentre[desktop]" in result.stderr and result.stderr.count("\n") == 1


def _wait_for_a_page(display, process, timeout=60) -> None:
    """Until the window has painted something on the display (or the process ended)."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if len(ImageGrab.grab(xdisplay=display).getcolors(1 << 16) or ()) > 50:
            return
        time.sleep(0.5)
    raise AssertionError(f"no window was painted: {process.poll()}")


def _looks_like_the_home_page(path) -> None:
    shot = Image.open(path).convert("RGB")
    assert shot.size == SCREEN
    # Full screen: the page's light background reaches the corner, not Xvfb's black root...
    assert sum(shot.getpixel((SCREEN[0] - 2, SCREEN[1] - 2))) > 600
    # ...and the page is drawn: the header's dark band at the top, text and icons below.
    assert sum(shot.getpixel((2, 2))) < 300
    assert len(shot.getcolors(1 << 16) or ()) > 50


@needs_display
def test_window_opens_on_home_refuses_outside_and_survives_the_server(display, demo_centre,
                                                                      tmp_path):
    out = tmp_path / "seen"
    out.mkdir()
    port = free_port()
    driver = subprocess.run(
        [sys.executable, "-m", "tests.desktop_driver", str(demo_centre), str(port), str(out)],
        cwd=ROOT, env={**os.environ, "DISPLAY": display}, capture_output=True, text=True,
        timeout=240)
    assert driver.returncode == 0, driver.stderr[-3000:]
    seen = json.loads((out / "seen.json").read_text())
    assert "error" not in seen, seen["error"]
    base = f"http://127.0.0.1:{port}/"

    assert seen["home"]["href"] == base and seen["home"]["h1"] == "Welcome to the infocentre"
    _looks_like_the_home_page(seen["home_shot"])

    refusal = "Only the centre's own pages open here: that page is outside the centre."
    for how in ("script", "link", "new_window"):
        assert seen[f"refused_{how}"]["href"] == base, how
        assert seen[f"refused_{how}"]["refused"] == refusal, how
    assert seen["refused_script"]["mark"]  # still the same page: nothing was loaded
    assert seen["inside"]["href"] == base + "?inside=1"

    assert seen["restarted_pid"] != seen["server_pid"] and seen["restarts"] == 1
    assert seen["after_restart"]["href"] == base and not seen["after_restart"]["mark"]
    _looks_like_the_home_page(seen["restart_shot"])
    assert "starting it again" in driver.stdout
    assert not seen["server_left_running"]  # closing the window stopped its server


@needs_display
def test_the_command_uses_a_running_server_and_closes_on_sigterm(display, tmp_path):
    server = start_demo_server(tmp_path / "centre")
    port = server.url.rsplit(":", 1)[1]
    try:
        window = subprocess.Popen(
            [sys.executable, "-m", "kiosk", "--data-dir", str(server.data_dir), "desktop",
             "--port", port], cwd=ROOT, env={**os.environ, "DISPLAY": display},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_a_page(display, window)
        window.send_signal(signal.SIGTERM)
        stdout, stderr = window.communicate(timeout=30)
        assert window.returncode == 0, stderr
        assert "is open at" not in stdout  # it started no server of its own...
        assert desktop.answers(server.url + "/")  # ...and left the running one alone
    finally:
        server.stop()


@needs_display
def test_a_terminal_waits_for_the_centres_server_given_by_url(display, tmp_path):
    port = free_port()  # nothing answers there yet
    window = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "--data-dir", str(tmp_path / "terminal"), "desktop",
         "--url", f"http://127.0.0.1:{port}"], cwd=ROOT,
        env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        _wait_for_a_page(display, window)  # the page saying the server is not answering
        assert not desktop.answers(f"http://127.0.0.1:{port}/")  # it started no server
    finally:
        window.send_signal(signal.SIGTERM)
        assert window.wait(timeout=30) == 0
