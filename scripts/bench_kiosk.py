#!/usr/bin/env python3
"""Measure the kiosk's speed and memory on a fresh demo centre (issue 3's benchmark).

    .venv/bin/python scripts/bench_kiosk.py [--seconds S] [--json]

Starts `infocentre serve` on a new demo centre in a temporary directory, then measures:
- one client, sequential GETs of the home page over one kept-alive connection: p50 latency;
- 20 concurrent closed-loop clients with no think time, from wrk in its own process, each signed
  in once at the start (the PIN hash is slow on purpose), cycling through the home page, the
  sign-in page and a signed-in page (My account): requests/s, p50, p95;
- the server's peak RSS (VmHWM) over the whole run;
- the bytes a cold browser load of the home page transfers (HTML, CSS, JS, fonts, images: every
  response's headers and body as sent), measured with Debian's Chromium.
Prints a table, or with --json one JSON object:
{"p50_1_client_ms", "requests_per_s", "p50_ms", "p95_ms", "peak_rss_mb", "home_page_kb"}.
wrk is installed with apt-get when missing (as root); a figure that cannot be measured is null.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from local_server import command, environment, log, serve

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"p50_1_client_ms": ("<=", 10), "p95_ms": ("<=", 100), "peak_rss_mb": ("<=", 80),
         "home_page_kb": ("<=", 100)}
PAGES = ["/", "/auth/signin", "/auth/me"]
WRK_SCRIPT = """
local cookies = {%(cookies)s}
local paths = {"/", "/auth/signin", "/auth/me"}
local counter = 0
local threads = {}
function setup(thread)
  thread:set("cookie", cookies[#threads + 1])
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1], {["Cookie"] = cookie})
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, '
    .. '"errors": %%d, "non_2xx": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout, summary.errors.status))
end
"""


def start_server(data_dir: Path, threads: int | None) -> tuple[subprocess.Popen, int]:
    """A demo centre, served: (process, port)."""
    env = environment(**({"THREADS": threads} if threads else {}))
    for args in (["init", "--role", "node", "--name", "Centro de Medición"], ["demo"]):
        subprocess.run([*command(), "--data-dir", str(data_dir), *args], check=True, env=env,
                       capture_output=True)
    server, url = serve(data_dir, env)
    return server, int(url.rsplit(":", 1)[1])


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def one_client_p50(port: int, seconds: float) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    timings = []
    deadline = time.monotonic() + seconds
    for i in range(100_000):
        start = time.perf_counter()
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"GET / answered {response.status}")
        if i >= 50:  # warm-up excluded
            timings.append(elapsed)
        if time.monotonic() > deadline and len(timings) >= 200:
            break
    conn.close()
    return statistics.median(timings) * 1000


def sign_in(port: int, account_path: str, pin: str) -> str:
    """Sign in through the real pages; returns the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/language")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = response.getheader("Set-Cookie").split(";")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"pin": pin, "csrf_token": token})
    conn.request("POST", account_path, body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in answered {response.status}")
    cookie = response.getheader("Set-Cookie").split(";")[0]
    # Follow the redirect as a browser would, keeping the cookie the first page completes.
    conn.request("GET", response.getheader("Location"), headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    updated = response.getheader("Set-Cookie")
    return updated.split(";")[0] if updated else cookie


def pin_pages(port: int) -> list[tuple[str, str]]:
    """(PIN page, PIN) of every demo account on the sign-in list."""
    pins = {p["name"]: p["pin"] for p in json.loads(
        (ROOT / "content" / "demo" / "accounts.json").read_text("utf-8")) if "pin" in p}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/auth/signin")
    html = conn.getresponse().read().decode()
    found = re.findall(r'href="(/auth/signin/[0-9a-f-]+)[^"]*">.*?<span>([^<]+)</span>', html)
    return [(path, pins[name]) for path, name in found if name in pins]


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk with apt-get ...")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    return shutil.which("wrk")


def load_test(port: int, seconds: float, cookies: list[str]) -> dict | None:
    wrk = ensure_wrk()
    if not wrk:
        log("wrk is not available: the 20-client figures are left out")
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % {"cookies": ", ".join(json.dumps(c) for c in cookies)})
    try:
        result = subprocess.run([wrk, "-t", str(len(cookies)), "-c", str(len(cookies)), "-d",
                                 f"{seconds:g}s", "-s", f.name, f"http://127.0.0.1:{port}"],
                                capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(f.name)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith('{"requests"'))
    figures = json.loads(line)
    if figures["errors"] or figures["non_2xx"]:
        log(f"warning: {figures['errors']} socket errors, {figures['non_2xx']} non-2xx answers")
    return figures


def home_page_kb(port: int) -> float | None:
    """Bytes of every response of a cold load of the home page, in a fresh Chromium profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        log("playwright is not installed (./scripts/test installs it): home page size left out")
        return None
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        log("Chromium is not installed: home page size left out")
        return None
    total = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_context().new_page()
        responses = []
        page.on("requestfinished", lambda request: responses.append(request))
        page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
        for request in responses:
            sizes = request.sizes()
            total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        browser.close()
    return total / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20,
                        help="length of the 20-client run (the 1-client run takes half)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--threads", type=int, help="server threads (default: the setting's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        log("setting up a demo centre and starting `infocentre serve` ...")
        server, port = start_server(Path(tmp) / "centre", args.threads)
        try:
            log("one client, sequential GETs of / ...")
            p50_one = one_client_p50(port, max(2.0, args.seconds / 2))
            pages = pin_pages(port)
            log("signing in 20 clients at once ...")
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                cookies = list(pool.map(lambda i: sign_in(port, *pages[i % len(pages)]),
                                        range(20)))
            log(f"20 clients for {args.seconds:g} s with wrk ...")
            load = load_test(port, args.seconds, cookies)
            page_kb = home_page_kb(port)
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)

    figures = {
        "p50_1_client_ms": round(p50_one, 2),
        "requests_per_s": round(load["requests"] / load["duration_us"] * 1e6, 1) if load else None,
        "p50_ms": round(load["p50_us"] / 1000, 2) if load else None,
        "p95_ms": round(load["p95_us"] / 1000, 2) if load else None,
        "peak_rss_mb": round(rss, 1),
        "home_page_kb": round(page_kb, 1) if page_kb is not None else None,
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    labels = {
        "p50_1_client_ms": "1 client, GET /, p50 (ms)",
        "requests_per_s": "20 clients, requests/s",
        "p50_ms": "20 clients, p50 (ms)",
        "p95_ms": "20 clients, p95 (ms)",
        "peak_rss_mb": "server peak RSS (MB)",
        "home_page_kb": "cold home page load (KB)",
    }
    print(f"{'figure':<28} {'value':>10}  goal")
    for key, label in labels.items():
        value = figures[key]
        goal = GOALS.get(key)
        verdict = ""
        if goal and value is not None:
            verdict = f"<= {goal[1]}  {'met' if value <= goal[1] else 'NOT met'}"
        shown = "n/a" if value is None else f"{value:g}"
        print(f"{label:<28} {shown:>10}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
