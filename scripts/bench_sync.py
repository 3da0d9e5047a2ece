#!/usr/bin/env python3
"""Measure syncing through a real hub server on 127.0.0.1 (issue 4's benchmark).

    .venv/bin/python scripts/bench_sync.py [--records N] [--json]

Sets up a hub and two centres in a temporary directory, with three region-wide tables of
realistic records (scripts/bench_area.py). Creates N records (default 10,000, seeded) on centre A
and measures, each leg as the real `infocentre sync now` process:
  push     A sends its N records to the hub;
  pull     B receives them from the hub;
  noop     A syncs again with nothing to do;
  edit100  A changes one field of 100 records and sends them.
For each leg: records/s, bytes on the wire (both directions, headers included), requests,
seconds and the sync process's peak RSS. Also the cost of change capture (time to insert N rows
with the triggers divided by without) and gzip_json_bytes, the gzip size of the pushed rows as
plain JSON. With --json, one object: {"push", "pull", "noop", "edit100", "capture_overhead",
"gzip_json_bytes"}.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import bench_area  # noqa: E402
from local_server import command, log, serve  # noqa: E402
from local_server import environment as clean_environment  # noqa: E402

AREAS = "kiosk.home,kiosk.auth,kiosk.admin,bench_area"
GOALS = "≥ 5,000 records/s per leg; ≤ 150 bytes per record and ≤ 1.5 × gzip_json_bytes; " \
        "no-op 1 request ≤ 600 bytes; 100 edits ≤ 2 requests ≤ 10 KB; peak RSS ≤ 100 MB; " \
        "capture ≤ 2 ×"


def environment() -> dict:
    """Every process sees the benchmark's area (scripts/bench_area.py) too."""
    env = clean_environment(AREAS=AREAS)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])
    return env


def run(data_dir: Path, *args: str) -> str:
    return subprocess.run([*command(), "--data-dir", str(data_dir), *args], env=environment(),
                          check=True, capture_output=True, text=True).stdout


def sync_leg(data_dir: Path, records: int | None) -> dict:
    """One `infocentre sync now` process: its report, and its peak memory from the kernel."""
    started = time.monotonic()
    process = subprocess.Popen([*command(), "--data-dir", str(data_dir), "sync", "now", "--json"],
                               env=environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    report = json.loads(out)
    if report["status"] != "synced":
        raise SystemExit(f"sync failed: {process.stderr.read().decode()}")
    return {
        "records_per_s": round(records / seconds, 1) if records else None,
        "bytes": report["bytes_sent"] + report["bytes_received"],
        "requests": report["requests"],
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "changes": report["sent"] + report["received"],
    }


def insert_records(path: Path, centre_id: str, count: int) -> list[tuple]:
    rows = list(bench_area.records(count, centre_id))
    with sqlite3.connect(path) as db:
        for table in {t for t, _ in rows}:
            batch = [r for t, r in rows if t == table]
            cols = list(batch[0])
            db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                           f"({', '.join('?' * len(cols))})", [list(r.values()) for r in batch])
    return rows


def capture_overhead(template: Path, tmp: Path, centre_id: str, count: int) -> float:
    """Insert the same rows into two copies of a centre's database, with and without triggers."""
    timings = []
    for triggers in (True, False):
        copy = tmp / f"capture-{triggers}.db"
        with sqlite3.connect(template) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)
        with sqlite3.connect(copy) as db:
            db.execute("PRAGMA journal_mode = wal")
            if not triggers:
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                          "AND name LIKE '_sync_%'").fetchall():
                    db.execute(f'DROP TRIGGER "{name}"')
        started = time.perf_counter()
        insert_records(copy, centre_id, count)
        timings.append(time.perf_counter() - started)
    return round(timings[0] / timings[1], 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    n = args.records

    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        tmp = Path(tmp)
        hub, a, b = tmp / "hub", tmp / "a", tmp / "b"
        log("setting up a hub and two centres ...")
        run(hub, "init", "--role", "hub", "--name", "Hub")
        server, url = serve(hub, environment())
        try:
            ids = {}
            for path, name in ((a, "A"), (b, "B")):
                made = json.loads(run(hub, "hub", "add-node", name, "--json"))
                run(path, "init", "--role", "node", "--name", name, "--hub", url, "--token",
                    made["token"])
                ids[path] = made["node_id"]
            run(a, "sync", "now")  # the hub's centres rows, so the legs below are only records
            run(b, "sync", "now")
            template = tmp / "template.db"
            with sqlite3.connect(a / "infocentre.db") as src, sqlite3.connect(template) as dst:
                src.backup(dst)
            log(f"creating {n} records on centre A ...")
            rows = insert_records(a / "infocentre.db", ids[a], n)
            plain = json.dumps([r for _, r in rows], ensure_ascii=False).encode()
            gzip_json = len(gzip.compress(plain, 6))
            log("push leg ...")
            push = sync_leg(a, n)
            log("pull leg ...")
            pull = sync_leg(b, n)
            log("no-op leg ...")
            noop = sync_leg(a, None)
            log("100 edits ...")
            with sqlite3.connect(a / "infocentre.db") as db:
                listings = [r for t, r in rows if t == "bench_listings"][:100]
                db.executemany("UPDATE bench_listings SET stock = stock + 1 WHERE id = ?",
                               [(r["id"],) for r in listings])
            edit100 = sync_leg(a, len(listings))
            log("capture cost ...")
            overhead = capture_overhead(template, tmp, ids[a], n)
        finally:
            server.terminate()
            server.wait(10)

    figures = {"push": push, "pull": pull, "noop": noop, "edit100": edit100,
               "capture_overhead": overhead, "gzip_json_bytes": gzip_json}
    for leg in ("push", "pull", "noop", "edit100"):
        figures[leg].pop("changes")
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'leg':<9} {'records/s':>10} {'bytes':>10} {'B/record':>9} {'requests':>9} "
          f"{'seconds':>8} {'peak RSS MB':>12}")
    for leg, count in (("push", n), ("pull", n), ("noop", None), ("edit100", 100)):
        f = figures[leg]
        per = f"{f['bytes'] / count:.0f}" if count else "-"
        rate = f"{f['records_per_s']:,.0f}" if f["records_per_s"] else "-"
        print(f"{leg:<9} {rate:>10} {f['bytes']:>10,} {per:>9} {f['requests']:>9} "
              f"{f['seconds']:>8} {f['peak_rss_mb']:>12}")
    print(f"gzip of the pushed rows as JSON: {gzip_json:,} bytes; push bytes / that: "
          f"{push['bytes'] / gzip_json:.2f}")
    print(f"capture overhead (insert with triggers / without): {overhead} ×")
    print(f"goals: {GOALS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
