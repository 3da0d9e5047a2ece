"""The regional staff's pages at a province's hub: the list of centres and one centre's page,
timed against a real served hub holding every centre's learners and records.

Seeds a hub in a temporary directory (by default 200 centres, each with 1,000 learners, 20
finished lessons per learner over the last year and a certificate for one learner in four, and
a few changes waiting for each centre in its feed), serves it with `infocentre serve`, signs in
as the demo's regional staff member, then several clients at once ask for the list and for
centres' pages. Prints p50/p95 per page and the page weights as a browser gets them (gzip);
``--json`` prints one JSON object instead.

    .venv/bin/python scripts/bench_hub_centres.py [--centres 200] [--learners 1000]
        [--lessons 20] [--clients 4] [--requests 100] [--json]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import json
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

from local_server import command, environment, log, serve

REGIONAL, PASSWORD = "Patricia Vega", "region-demo-2026"


def seed(database: Path, centres: int, learners: int, lessons: int) -> list[str]:
    """Centres registered and seen at various times, their learners and records, written as
    the hub would hold them after their syncs (the capture triggers silent: these rows came
    from the centres). Returns the centres' ids."""
    rng = random.Random(16)
    now = dt.datetime.now(dt.timezone.utc)
    db = sqlite3.connect(database)
    db.execute("UPDATE _sync_state SET applying = 1 WHERE id = 1")
    ids = [str(uuid.uuid4()) for _ in range(centres)]
    hub_id = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    table = db.execute("SELECT id FROM _sync_tables WHERE name = 'progress'").fetchone()[0]
    seq = db.execute("SELECT seq FROM _sync_state").fetchone()[0]
    for number, centre in enumerate(ids):
        created = (now - dt.timedelta(days=400)).isoformat(timespec="seconds")
        seen = now - dt.timedelta(days=rng.choice([0.01, 0.2, 1, 3, 12, 40]))
        db.execute("INSERT INTO centres (id, centre_id, name, role, created_at, updated_at) "
                   "VALUES (?, ?, ?, 'node', ?, ?)",
                   [centre, hub_id, f"Centro {number + 1:03d}", created, created])
        db.execute("INSERT INTO _sync_nodes (node_id, generation, created_at, last_seen_at, "
                   "schema_version, software, waiting, cursor) VALUES (?, 1, ?, ?, 14, '0.1.0', "
                   "?, ?)", [centre, created, seen.strftime("%Y-%m-%d %H:%M:%S"),
                             rng.randrange(0, 300), seq])
        accounts, progress, certificates = [], [], []
        for i in range(learners):
            learner = str(uuid.uuid4())
            joined = now - dt.timedelta(days=rng.uniform(0, 720))
            accounts.append((learner, centre, f"Persona {i:04d} {number:03d}", "villager",
                             joined.isoformat(timespec="seconds")))
            for lesson in range(lessons):
                done = now - dt.timedelta(days=rng.uniform(0, 365))
                progress.append((str(uuid.uuid4()), centre, learner, f"course-{lesson % 3}",
                                 f"lesson-{lesson}", done.isoformat(timespec="seconds")))
            if i % 4 == 0:
                issued = now - dt.timedelta(days=rng.uniform(0, 365))
                certificates.append((str(uuid.uuid4()), centre, learner, "course-0",
                                     issued.isoformat(timespec="seconds")))
        db.executemany("INSERT INTO accounts (id, centre_id, name, role, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, ?, ?5)", accounts)
        db.executemany("INSERT INTO progress (id, centre_id, learner_id, course_id, lesson_id, "
                       "done, started_at, done_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?6, ?6, "
                       "?6)", progress)
        db.executemany("INSERT INTO certificates (id, centre_id, learner_id, course_id, "
                       "issued_at) VALUES (?, ?, ?, ?, ?)", certificates)
        # Changes for this centre that reached the hub after its last pull: its next page.
        waiting = [(f"centre:{centre}", seq + k + 1, table, progress[k][0]) for k in range(50)]
        db.executemany("INSERT INTO _sync_feed (bucket, seq, tbl, pk) VALUES (?, ?, ?, ?)",
                       waiting)
        db.executemany("INSERT INTO _sync_clock (tbl, pk, col, hlc, node, seq) VALUES "
                       "(?, ?, 0, 1, 1, ?)", [(t, pk, s) for _b, s, t, pk in waiting])
        seq += 50
        if number % 20 == 19:
            db.commit()
            log(f"seeded {number + 1} centres")
    db.execute("UPDATE _sync_state SET applying = 0, seq = ?, scoped_seq = ? WHERE id = 1",
               [seq, seq])
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return ids


def sign_in(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/language")
    response = conn.getresponse()
    token = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode()).group(1)
    cookie = _cookie(response)
    conn.request("POST", "/auth/password", body=urllib.parse.urlencode(
        {"name": REGIONAL, "password": PASSWORD, "csrf_token": token}),
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"sign-in answered {response.status}")
    return _cookie(response) or cookie


def _cookie(response) -> str:
    for header in response.msg.get_all("Set-Cookie") or []:
        if header.startswith("infocentre="):
            return header.split(";")[0]
    return ""


def fetch(port: int, path: str, cookie: str) -> tuple[float, int]:
    """One page as a browser asks for it: (seconds, bytes on the wire with headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, "Accept-Encoding": "gzip"})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    head = sum(len(f"{k}: {v}\r\n") for k, v in response.getheaders()) + 20
    return elapsed, head + len(body)


def measure(port: int, cookie: str, paths: list[str], clients: int, requests: int) -> dict:
    """``requests`` GETs of ``paths`` (taken in turn) by ``clients`` at once: p50, p95 (ms)."""
    fetch(port, paths[0], cookie)  # warm
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        timings = list(pool.map(lambda i: fetch(port, paths[i % len(paths)], cookie)[0],
                                range(requests)))
    timings.sort()
    return {"p50_ms": round(statistics.median(timings) * 1000, 1),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1] * 1000, 1),
            "requests": requests}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centres", type=int, default=200)
    parser.add_argument("--learners", type=int, default=1000, help="per centre")
    parser.add_argument("--lessons", type=int, default=20, help="finished, per learner")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="per page")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = environment()
    with tempfile.TemporaryDirectory(prefix="bench-hub-centres-") as tmp:
        hub = Path(tmp) / "hub"
        for step in (["init", "--role", "hub", "--name", "Hub Provincial"], ["demo"]):
            subprocess.run([*command(), "--data-dir", str(hub), *step], check=True, env=env,
                           capture_output=True)
        started = time.monotonic()
        ids = seed(hub / "infocentre.db", args.centres, args.learners, args.lessons)
        seeded = time.monotonic() - started
        server, url = serve(hub, env)
        try:
            port = urllib.parse.urlsplit(url).port
            cookie = sign_in(port)
            pages = {"list": ["/hub/centres"],
                     "centre": [f"/hub/centres/{i}" for i in ids[:20]],
                     "centre_csv": [f"/hub/centres/{i}/months.csv" for i in ids[:20]]}
            found = {name: {**measure(port, cookie, paths, args.clients, args.requests),
                            "kb": round(fetch(port, paths[0], cookie)[1] / 1024, 1)}
                     for name, paths in pages.items()}
        finally:
            server.terminate()
            server.wait(timeout=30)
        size_mb = (hub / "infocentre.db").stat().st_size / 1e6
    result = {"centres": args.centres, "learners_per_centre": args.learners,
              "progress_rows": args.centres * args.learners * args.lessons,
              "clients": args.clients, "database_mb": round(size_mb), "seed_s": round(seeded),
              "pages": found}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.centres} centres x {args.learners} learners, "
          f"{result['progress_rows']:,} lessons finished; database {result['database_mb']} MB "
          f"(seeded in {result['seed_s']} s); {args.clients} clients at once")
    print(f"{'page':<12} {'p50 ms':>8} {'p95 ms':>8} {'KB (gzip)':>10}")
    for name, figures in found.items():
        print(f"{name:<12} {figures['p50_ms']:>8} {figures['p95_ms']:>8} {figures['kb']:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
