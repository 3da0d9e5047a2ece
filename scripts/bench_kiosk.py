#!/usr/bin/env python3
"""Measure the kiosk's speed and memory on a fresh demo centre (issue 3's benchmark).

    .venv/bin/python scripts/bench_kiosk.py [--seconds S] [--json] [--village]

Starts `infocentre serve` on a new demo centre in a temporary directory, then measures:
- one client, sequential GETs of the home page over one kept-alive connection: p50 latency;
- 20 concurrent closed-loop clients with no think time, from wrk in its own process, each signed
  in once at the start (the PIN hash is slow on purpose), cycling through the home page, the
  sign-in page and a signed-in page (My account): requests/s, p50, p95;
- the server's peak RSS (VmHWM) over the whole run;
- the bytes a cold browser load of the home page transfers (HTML, CSS, JS, fonts, images: every
  response's headers and body as sent), measured with Debian's Chromium.
With --village the centre also has 1,000 villagers (one PIN hash computed once, shared), 50
classes of 40 learners each and 20,000 progress rows (issue 14), and the run adds, with every
request asking for gzip as a browser does:
- the sign-in list: its bytes on the wire (headers and compressed body) for the first screen and
  for the letter with the most names, and p95 under 20 guests cycling through the first screen
  and every letter's names (half the requests each);
- a class's progress grid (40 learners): bytes on the wire, and p95 under 20 signed-in
  facilitators cycling through the 50 classes.
Prints a table, or with --json one JSON object:
{"p50_1_client_ms", "requests_per_s", "p50_ms", "p95_ms", "peak_rss_mb", "home_page_kb"}, and with
--village also "signin_list_kb", "signin_letter_kb", "signin_list_p95_ms", "class_grid_kb",
"class_grid_p95_ms".
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
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from local_server import command, environment, log, peak_rss_mb, serve

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"p50_1_client_ms": ("<=", 10), "p95_ms": ("<=", 100), "peak_rss_mb": ("<=", 80),
         "home_page_kb": ("<=", 100), "signin_list_kb": ("<=", 60),
         "signin_list_p95_ms": ("<=", 150), "class_grid_p95_ms": ("<=", 150)}
PAGES = ["/", "/auth/signin", "/auth/me"]
BROWSER_ENCODINGS = "gzip, deflate, br, zstd"  # what Chromium sends
WRK_SCRIPT = """
local cookies = {%(cookies)s}
local paths = {%(paths)s}
local encodings = %(encodings)s
local counter = 0
local threads = {}
function setup(thread)
  thread:set("cookie", cookies[#threads + 1])
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1],
                    {["Cookie"] = cookie, ["Accept-Encoding"] = encodings})
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


def start_server(data_dir: Path, threads: int | None,
                 village: bool = False) -> tuple[subprocess.Popen, int]:
    """A demo centre (a village with ``village``), served: (process, port)."""
    env = environment(**({"THREADS": threads} if threads else {}))
    for args in (["init", "--role", "node", "--name", "Centro de Medición"], ["demo"]):
        subprocess.run([*command(), "--data-dir", str(data_dir), *args], check=True, env=env,
                       capture_output=True)
    if village:
        seed_village(data_dir / "infocentre.db")
    server, url = serve(data_dir, env)
    return server, int(url.rsplit(":", 1)[1])


FIRST_NAMES = ["Rosa", "Manuel", "Tránsito", "Ángel", "María", "José", "Lucía", "Segundo",
               "Carmen", "Luis", "Ana", "Pedro", "Dolores", "Juan", "Mercedes", "Efraín",
               "Nina", "Killa", "Ñusta", "Sisa", "Inti", "Wayra", "Olga", "Fanny", "Héctor",
               "Gloria", "Bertha", "Zoila", "Vicente", "Urcu", "Yupanqui", "Isabel", "Teresa",
               "Fausto", "Edwin", "Carlos", "Blanca", "Gladys", "Raúl", "Quilla"]
FAMILY_NAMES = ["Quishpe", "Guamán", "Lema", "Yupanqui", "Chimbo", "Cuji", "Andrango",
                "Tenemaza", "Paucar", "Caiza", "Toaquiza", "Pilco", "Tigse", "Ati", "Chicaiza",
                "Morocho", "Sisalema", "Pupiales", "Farinango", "Cachimuel", "Lligalo",
                "Masaquiza", "Ushiña", "Quinatoa", "Álvarez", "Guaminga", "Cabascango"]
VILLAGERS, CLASSES, CLASS_SIZE = 1000, 50, 40


def seed_village(database: Path) -> None:
    """1,000 villagers, 50 classes of 40 and 20,000 progress rows, written straight into the
    demo centre's database (with the sync triggers capturing them, as at a real centre). One
    PIN hash is computed and shared: a thousand would take minutes."""
    import datetime as dt

    from kiosk.auth import models as accounts
    from kiosk.classes import models as classes
    from kiosk.courses import models as courses
    from kiosk.data import iso, new_id, open_db, writing

    log("seeding a village: 1,000 villagers, 50 classes, 20,000 progress rows ...")
    db = open_db(database)
    centre = db.execute("SELECT centre_id FROM accounts WHERE role = 'facilitator'").fetchone()[0]
    facilitator = db.execute("SELECT id FROM accounts WHERE role = 'facilitator'").fetchone()[0]
    lessons = db.execute("SELECT course_id, id, kind FROM lessons WHERE retired = 0 "
                         "ORDER BY course_id, position").fetchall()
    course_ids = sorted({course for course, _lesson, _kind in lessons})
    pin_hash = accounts.hash_secret("1234")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    demo = {name for (name,) in db.execute("SELECT name FROM accounts")}
    names = [f"{first} {family}" for family in FAMILY_NAMES for first in FIRST_NAMES
             if f"{first} {family}" not in demo][:VILLAGERS]
    people = [new_id() for _ in range(VILLAGERS)]
    with writing(db):
        db.conn.executemany(
            "INSERT INTO accounts (id, centre_id, name, role, pin_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, 'villager', ?, ?, ?)",
            [(pid, centre, name, pin_hash, iso(now), iso(now))
             for pid, name in zip(people, names)])
        progress, attempts = [], []
        for n, learner in enumerate(people):
            for course in course_ids:
                of_course = [(lesson, kind) for c, lesson, kind in lessons if c == course]
                done = (n * 7 + len(course)) % (len(of_course) + 1)
                for position, (lesson, kind) in enumerate(of_course):
                    when = iso(now - dt.timedelta(days=(n + position) % 30))
                    finished = position < done
                    progress.append((courses.progress_id(learner, lesson), centre, learner,
                                     course, lesson, 0 if finished else 1, int(finished),
                                     (80 if finished else 40) if kind == "quiz" else None,
                                     when, when if finished else None, when))
                    if kind == "quiz" and not finished and n % 6 == 0:  # stuck: two tries
                        attempts += [(new_id(), centre, learner, course, lesson, score, when,
                                      when) for score in (20, 40)]
        db.conn.executemany(
            "INSERT INTO progress (id, centre_id, learner_id, course_id, lesson_id, page, done, "
            "score, started_at, done_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            progress)
        db.conn.executemany(
            "INSERT INTO quiz_attempts (id, centre_id, learner_id, course_id, lesson_id, score, "
            "passed, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)", attempts)
        for k in range(CLASSES):
            class_id = new_id()
            db.execute("INSERT INTO classes (id, centre_id, name, course_id, facilitator_id, "
                       "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       [class_id, centre, f"Clase {k + 1}", course_ids[k % len(course_ids)],
                        facilitator, iso(now), iso(now)])
            learners = [people[(k * CLASS_SIZE + i) % VILLAGERS] for i in range(CLASS_SIZE)]
            db.conn.executemany(
                "INSERT INTO enrolments (id, centre_id, class_id, learner_id, active, "
                "enrolled_at) VALUES (?, ?, ?, ?, 1, ?)",
                [(classes.enrolment_id(class_id, p), centre, class_id, p, iso(now))
                 for p in learners])
            for week in range(3):
                day = (now - dt.timedelta(days=7 * week)).date()
                sid = classes.session_id(class_id, day.isoformat())
                db.execute("INSERT INTO class_sessions (id, centre_id, class_id, held_on, "
                           "created_at) VALUES (?, ?, ?, ?, ?)",
                           [sid, centre, class_id, day.isoformat(), iso(now)])
                db.conn.executemany(
                    "INSERT INTO attendance (id, centre_id, session_id, learner_id, present, "
                    "marked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [(classes.attendance_id(sid, p), centre, sid, p, int((i + week) % 4 != 0),
                      iso(now)) for i, p in enumerate(learners)])
    counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("accounts", "classes", "progress")}
    db.close()
    log(f"village seeded: {counts}")


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


def session_cookie(response, kept: str = "") -> str:
    """The session cookie this answer sets ("infocentre=..."), else the one ``kept``; other
    cookies (the terminal's recent names) are not what signs a client in."""
    for header in response.msg.get_all("Set-Cookie") or []:
        pair = header.split(";")[0]
        if pair.startswith("infocentre="):
            return pair
    return kept


def sign_in(port: int, account_path: str, pin: str) -> str:
    """Sign in through the real pages; returns the session cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/language")
    response = conn.getresponse()
    html = response.read().decode()
    cookie = session_cookie(response)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"pin": pin, "csrf_token": token})
    conn.request("POST", account_path, body=body, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in answered {response.status}")
    cookie = session_cookie(response, cookie)
    # Follow the redirect as a browser would, keeping the cookie the first page completes.
    conn.request("GET", response.getheader("Location"), headers={"Cookie": cookie})
    response = conn.getresponse()
    response.read()
    return session_cookie(response, cookie)


def pin_pages(port: int, roles=("villager", "facilitator", "cooperative", "admin")
              ) -> list[tuple[str, str]]:
    """(PIN page, PIN) of the demo accounts of these roles, each found by its name on the
    sign-in page (a village lists letters first)."""
    pins = {p["name"]: p["pin"] for p in json.loads(
        (ROOT / "content" / "demo" / "accounts.json").read_text("utf-8"))
        if "pin" in p and p["role"] in roles}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    found = []
    for name, pin in pins.items():
        conn.request("GET", "/auth/signin?" + urllib.parse.urlencode({"q": name}))
        html = conn.getresponse().read().decode()
        found += [(path, pin) for path, shown in re.findall(
            r'href="(/auth/signin/[0-9a-f-]+)[^"]*">.*?<span>([^<]+)</span>', html)
            if shown == name]
    conn.close()
    return found


def wire_kb(port: int, path: str, cookie: str = "") -> float:
    """Bytes of one answer as a browser gets it (asking for gzip): status line, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", path, headers={"Accept-Encoding": BROWSER_ENCODINGS,
                                       **({"Cookie": cookie} if cookie else {})})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + sum(
        len(f"{k}: {v}\r\n") for k, v in response.getheaders()) + 2
    conn.close()
    return (head + len(body)) / 1024


def ensure_wrk() -> str | None:
    if shutil.which("wrk"):
        return shutil.which("wrk")
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk with apt-get ...")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    return shutil.which("wrk")


def load_test(port: int, seconds: float, cookies: list[str], paths=PAGES,
              encodings: str = "") -> dict | None:
    """20 clients (one per cookie) cycling through ``paths``: wrk's figures."""
    wrk = ensure_wrk()
    if not wrk:
        log("wrk is not available: the 20-client figures are left out")
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % {"cookies": ", ".join(json.dumps(c) for c in cookies),
                              "paths": ", ".join(json.dumps(p) for p in paths),
                              "encodings": json.dumps(encodings)})
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


def village_figures(port: int, seconds: float, database: Path) -> dict:
    """The sign-in list and a class's grid at a village, as a browser gets them (gzip)."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/auth/signin")
    letters = re.findall(r'href="/auth/signin\?letter=([^"&]+)"', conn.getresponse().read()
                         .decode())
    conn.close()
    letter_pages = [f"/auth/signin?letter={letter}" for letter in letters]
    figures = {"signin_list_kb": wire_kb(port, "/auth/signin"),
               "signin_letter_kb": max(wire_kb(port, path) for path in letter_pages)}
    log(f"20 guests on the sign-in list for {seconds:g} s with wrk ...")
    mixed = [page for path in letter_pages for page in ("/auth/signin", path)]
    load = load_test(port, seconds, [""] * 20, mixed, BROWSER_ENCODINGS)
    figures["signin_list_p95_ms"] = load["p95_us"] / 1000 if load else None

    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        classes = [f"/courses/classes/{cid}" for (cid,) in db.execute(
            "SELECT id FROM classes WHERE name LIKE 'Clase %' ORDER BY name")]
    log("signing in 20 facilitators at once ...")
    facilitator = pin_pages(port, roles=("facilitator",))[0]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        cookies = list(pool.map(lambda _i: sign_in(port, *facilitator), range(20)))
    figures["class_grid_kb"] = wire_kb(port, classes[0], cookies[0])
    log(f"20 facilitators on class grids for {seconds:g} s with wrk ...")
    load = load_test(port, seconds, cookies, classes, BROWSER_ENCODINGS)
    figures["class_grid_p95_ms"] = load["p95_us"] / 1000 if load else None
    return {k: round(v, 1) if v is not None else None for k, v in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20,
                        help="length of the 20-client run (the 1-client run takes half)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--threads", type=int, help="server threads (default: the setting's)")
    parser.add_argument("--village", action="store_true",
                        help="1,000 villagers, 50 classes, 20,000 progress rows (issue 14)")
    args = parser.parse_args()

    village = {}
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        log("setting up a demo centre and starting `infocentre serve` ...")
        data_dir = Path(tmp) / "centre"
        server, port = start_server(data_dir, args.threads, village=args.village)
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
            if args.village:
                village = village_figures(port, args.seconds, data_dir / "infocentre.db")
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
        **village,
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
        "signin_list_kb": "village: sign-in list (KB)",
        "signin_letter_kb": "village: biggest letter (KB)",
        "signin_list_p95_ms": "village: sign-in p95 (ms)",
        "class_grid_kb": "village: class grid (KB)",
        "class_grid_p95_ms": "village: class grid p95 (ms)",
    }
    print(f"{'figure':<28} {'value':>10}  goal")
    for key, label in labels.items():
        if key not in figures:
            continue
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
