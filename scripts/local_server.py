"""`infocentre` as separate processes, for the scripts (benchmarks, screenshots): the command,
an environment free of the shell's INFOCENTRE_* settings, a free port, and a server started
and waited for. Standard library only; the tests have their own (tests/live.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def command() -> list[str]:
    """`infocentre` of this interpreter's environment."""
    script = Path(sys.executable).with_name("infocentre")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kiosk"]


def environment(**settings) -> dict:
    """This process's environment without INFOCENTRE_* settings, plus ``settings`` as
    INFOCENTRE_<NAME>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFOCENTRE_")}
    env.update({f"INFOCENTRE_{name}": str(value) for name, value in settings.items()})
    return env


def peak_rss_mb(pid: int) -> float | None:
    """A process's peak resident memory so far (VmHWM), in MB; None once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found[1]) / 1024 if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(data_dir: Path, env: dict, timeout: float = 30) -> tuple[subprocess.Popen, str]:
    """`infocentre serve` on a free port of 127.0.0.1, once it answers: (process, address).

    Its output goes to data_dir/server.log: an unread pipe fills up under load and then blocks
    the server."""
    port = free_port()
    # The daily backup a server takes seconds after it starts would land in the measurements.
    env = {"INFOCENTRE_BACKUP_DAILY": "0", **env}
    log_path = Path(data_dir) / "server.log"
    with log_path.open("w") as log_file:
        server = subprocess.Popen([*command(), "--data-dir", str(data_dir), "serve", "--port",
                                   str(port)], stdout=log_file, stderr=subprocess.STDOUT,
                                  env=env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"the server did not start: {log_path.read_text()}")
