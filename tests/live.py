"""Live servers for browser and multi-process tests: ``python -m kiosk --data-dir D serve`` as a
subprocess (waitress, as in production), polled until it answers."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEMO_PIN = {"villager": "1111", "facilitator": "2222", "cooperative": "3333", "admin": "4444"}
DEMO = {
    "villager": "Rosa Quishpe",
    "facilitator": "Lucía Andrango",
    "cooperative": "Segundo Tenemaza",
    "admin": "Carmen Paucar",
    "regional": "Patricia Vega",
}
DEMO_PASSWORD = "region-demo-2026"


def sign_in_page(page, base: str, role: str, lang: str) -> None:
    """In a browser page: the demo person of ``role`` signs in with their PIN, then chooses
    ``lang``."""
    page.goto(f"{base}/auth/signin")
    page.get_by_role("link", name=DEMO[role]).click()
    page.fill("#pin", DEMO_PIN[role])
    page.locator("#pin").press("Enter")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/language")
    page.click(f"button[value='{lang}']")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def infocentre(data_dir: Path, *args: str, env: dict | None = None,
               check: bool = True) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          check=check, timeout=120)


def db_rows(data_dir: Path, sql: str, params=()) -> list[tuple]:
    """A query on an installation's database with the plain sqlite3 module, as a tool would."""
    db = sqlite3.connect(Path(data_dir) / "infocentre.db")
    try:  # closed now, not when collected: a file put back in place must be read afresh
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def join_centre(hub_dir: Path, path: Path, name: str,
                hub_url: str = "http://127.0.0.1:9") -> tuple[str, str]:
    """Register centre ``name`` at the hub of ``hub_dir`` and set it up in ``path`` with the
    token; (node id, token). The default address answers nothing: a centre that only ever
    travels by USB stick."""
    made = json.loads(infocentre(hub_dir, "hub", "add-node", name, "--json").stdout)
    infocentre(path, "init", "--role", "node", "--name", name, "--hub", hub_url, "--token",
               made["token"])
    return made["node_id"], made["token"]


@dataclass
class LiveServer:
    url: str
    data_dir: Path
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(data_dir: Path, env: dict | None = None, timeout: float = 30,
                 port: int | None = None, command: list[str] | None = None,
                 environ: dict | None = None) -> LiveServer:
    """``port``: the one a stopped server had, so its centres find it again. ``command``: how
    to run ``infocentre`` (default: ``python -m kiosk``), in ``environ`` (default: this
    process's) with ``env`` added."""
    port = port or free_port()
    # A server's daily backup starts seconds after it does: tests that want one say so.
    env = {"INFOCENTRE_BACKUP_DAILY": "0", **(env or {})}
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(
        [*(command or [sys.executable, "-m", "kiosk"]), "--data-dir", str(data_dir), "serve",
         "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
        env={**(os.environ if environ is None else environ), **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/", timeout=2):
                return LiveServer(url, data_dir, process)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server did not start:\n{(data_dir / 'server.log').read_text()}")


def start_demo_server(data_dir: Path, role: str = "node", env: dict | None = None,
                      courses: bool = True) -> LiveServer:
    """A demo centre or hub; ``courses=False`` leaves out the shipped courses (and their
    pictures, which every centre's first sync would otherwise fetch)."""
    name = "Centro Comunitario Demo" if role == "node" else "Hub Regional Demo"
    infocentre(data_dir, "init", "--role", role, "--name", name)
    demo_env = {}
    if not courses:
        content = data_dir.parent / f"{data_dir.name}-content"
        shutil.copytree(ROOT / "content" / "demo", content / "demo")
        demo_env["INFOCENTRE_CONTENT_DIR"] = str(content)
    infocentre(data_dir, "demo", env=demo_env)
    return start_server(data_dir, env=env)
