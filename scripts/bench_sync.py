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
seconds, the sync process's CPU time (user + system, from the kernel's rusage of that process:
cpu_s, and cpu_us_per_record, or for the no-op leg, which has no records, cpu_us for the whole
leg) and its peak RSS (peak_rss_mb: VmHWM of the sync process's own address space, reported by
a small wrapper as it exits; None where /proc is missing. Not ru_maxrss, which on Linux counts
the benchmark's own memory inherited before exec). Also the cost of change capture: the time
to make and insert the same N rows, in the same transactions, through a connection as the kiosk
opens one, with the triggers divided by without (capture_overhead, as issue 13 measured it), and
the same for SQLite's part alone (capture_overhead_sql); gzip_json_bytes, the gzip size of the
pushed rows as plain JSON; and total_seconds, the wall-clock time of the whole run (setup and
capture measurement included). The rows are generated and inserted 10,000 at a time, so a run
of 1,000,000 does not hold them all. With --json, one object: {"push", "pull", "noop",
"edit100", "capture_overhead", "capture_overhead_sql", "gzip_json_bytes", "total_seconds"},
each leg {"records_per_s", "bytes", "requests", "seconds", "cpu_s", "cpu_us_per_record",
"peak_rss_mb"} (the no-op leg also "cpu_us"; push and pull also "cpu_us_per_record_net", their
CPU less the no-op's, which is mostly the process's start: at 10,000 records that start is most of
cpu_us_per_record).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import bench_area  # noqa: E402
from local_server import command, log, serve  # noqa: E402
from local_server import environment as clean_environment  # noqa: E402

AREAS = "kiosk.home,kiosk.auth,kiosk.admin,bench_area"
GOALS = "push and pull ≥ 10,000 records/s at 1,000,000 records; CPU µs/record at 1,000,000 " \
        "≤ 1.3 × that at 10,000; sync process peak RSS ≤ 100 MB at 1,000,000; capture ≤ 1.5 ×; " \
        "whole run at 200,000 records ≤ 200 s; ≤ 150 bytes per record and ≤ 1.5 × " \
        "gzip_json_bytes; no-op 1 request ≤ 600 bytes; 100 edits ≤ 2 requests ≤ 10 KB"
CHUNK = 10_000  # records generated, inserted and committed at a time

# `infocentre` (kiosk.cli:main, as the console script runs it) in a process that, as it exits,
# writes its peak RSS in kB (VmHWM: the high-water mark of the address space exec made, so none
# of the benchmark's memory) to the file descriptor given as its first argument. Its stdout and
# exit status stay the command's.
MEASURED = """\
import atexit, os, sys
fd = int(sys.argv.pop(1))
def peak():
    try:
        with open('/proc/self/status') as status:
            kb = next(line.split()[1] for line in status if line.startswith('VmHWM:'))
    except (OSError, StopIteration):
        kb = ''
    os.write(fd, kb.encode())
    os.close(fd)
atexit.register(peak)
sys.argv[0] = 'infocentre'
from kiosk.cli import main
sys.exit(main())
"""


def environment() -> dict:
    """Every process sees the benchmark's area (scripts/bench_area.py) too."""
    env = clean_environment(AREAS=AREAS)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "scripts"), env.get("PYTHONPATH", "")])
    return env


def run(data_dir: Path, *args: str) -> str:
    return subprocess.run([*command(), "--data-dir", str(data_dir), *args], env=environment(),
                          check=True, capture_output=True, text=True).stdout


def sync_leg(data_dir: Path, records: int | None) -> dict:
    """One `infocentre sync now` process: its report, its CPU time and its peak memory."""
    peak_read, peak_write = os.pipe()
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        try:
            # -P: no script folder or current directory on sys.path, as for the console script
            process = subprocess.Popen(
                [sys.executable, "-P", "-c", MEASURED, str(peak_write), "--data-dir",
                 str(data_dir), "sync", "now", "--json"], env=environment(),
                stdout=subprocess.PIPE, stderr=errors, pass_fds=(peak_write,))
        finally:
            os.close(peak_write)
        with process.stdout:
            out = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        with os.fdopen(peak_read, "rb") as peak:
            peak_kb = peak.read().strip()
        try:
            report = json.loads(out)
        except ValueError:
            report = {}
        if process.returncode != 0 or report.get("status") != "synced":
            errors.seek(0)
            raise SystemExit(f"sync failed (exit {process.returncode}): "
                             f"{out.decode(errors='replace')}{errors.read().decode()}")
    cpu = usage.ru_utime + usage.ru_stime
    leg = {
        "records_per_s": round(records / seconds, 1) if records else None,
        "bytes": report["bytes_sent"] + report["bytes_received"],
        "requests": report["requests"],
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 3),
        "cpu_us_per_record": round(cpu * 1e6 / records, 1) if records else None,
        "peak_rss_mb": round(int(peak_kb) / 1024, 1) if peak_kb else None,
        "changes": report["sent"] + report["received"],
    }
    if not records:
        leg["cpu_us"] = round(cpu * 1e6)
    return leg


def record_chunks(count: int, centre_id: str):
    """bench_area.records(count, centre_id), the same seeded rows, in lists of up to CHUNK."""
    rows = bench_area.records(count, centre_id)
    while chunk := list(itertools.islice(rows, CHUNK)):
        yield chunk


def inserts(chunk: list[tuple]) -> list[tuple[str, list[tuple]]]:
    """(INSERT statement, its parameter rows) for each table of a chunk."""
    by_table: dict[str, list[dict]] = {}
    for table, row in chunk:
        by_table.setdefault(table, []).append(row)
    statements = []
    for table, rows in by_table.items():
        cols = list(rows[0])
        statements.append((f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                           f"({', '.join('?' * len(cols))})", [tuple(r.values()) for r in rows]))
    return statements


def insert_records(path: Path, centre_id: str, count: int, each_chunk=None) -> tuple:
    """Insert the `count` seeded records, one transaction per CHUNK, through a connection as
    the kiosk opens one (kiosk.data.open_db); calls each_chunk(chunk) on each list of
    (table, row) first. Returns (seconds in all, seconds spent in SQLite): making the rows is
    what an application does for every write; the second leaves it out."""
    from kiosk.data import open_db

    spent = 0.0
    started_all = time.perf_counter()
    db = open_db(path)
    try:
        for chunk in record_chunks(count, centre_id):
            if each_chunk:
                each_chunk(chunk)
            statements = inserts(chunk)
            started = time.perf_counter()
            with db.conn:
                for sql, rows in statements:
                    db.conn.executemany(sql, rows)
            spent += time.perf_counter() - started
    finally:
        db.close()
    return time.perf_counter() - started_all, spent


class GzipJson:
    """len(gzip.compress(json.dumps(rows, ensure_ascii=False).encode(), 6)), fed a chunk of
    (table, row) pairs at a time (the same deflate stream, so the same size)."""

    def __init__(self):
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip header and trailer
        self.size = len(self.deflate.compress(b"["))
        self.separator = ""

    def add(self, chunk: list[tuple]) -> None:
        text = self.separator + ", ".join(json.dumps(r, ensure_ascii=False) for _, r in chunk)
        self.size += len(self.deflate.compress(text.encode()))
        self.separator = ", "

    def finish(self) -> int:
        return self.size + len(self.deflate.compress(b"]")) + len(self.deflate.flush())


def capture_overhead(template: Path, tmp: Path, centre_id: str, count: int) -> tuple:
    """Insert the same rows into two copies of a centre's database, with and without the
    capture triggers, in the same transactions: (the ratio of the whole inserts, rows made in
    Python included, as issue 13 measured it; the ratio of the seconds SQLite takes)."""
    timings = []
    for triggers in (True, False):
        copy = tmp / f"capture-{triggers}.db"
        with closing(sqlite3.connect(template)) as src, closing(sqlite3.connect(copy)) as dst:
            src.backup(dst)
        db = sqlite3.connect(copy)
        db.execute("PRAGMA journal_mode = wal")
        if not triggers:
            names = db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                               "AND name LIKE '_sync_%'").fetchall()
            if not names:
                raise SystemExit("no capture triggers found to drop")
            for (name,) in names:
                db.execute(f'DROP TRIGGER "{name}"')
            db.commit()
        db.close()
        timings.append(insert_records(copy, centre_id, count))
        for suffix in ("", "-wal", "-shm"):  # a million rows take room; the next copy needs it
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
    (whole_with, sql_with), (whole_without, sql_without) = timings
    return round(whole_with / whole_without, 2), round(sql_with / sql_without, 2)


def main() -> int:
    run_started = time.monotonic()
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
            with closing(sqlite3.connect(a / "infocentre.db")) as src, \
                    closing(sqlite3.connect(template)) as dst:
                src.backup(dst)
            log(f"creating {n} records on centre A ...")
            gzip_json = GzipJson()
            listings = []  # the first 100 listings' ids, edited by the edit100 leg

            def observe(chunk: list[tuple]) -> None:
                gzip_json.add(chunk)
                listings.extend(r["id"] for t, r in chunk if t == "bench_listings")
                del listings[100:]

            insert_records(a / "infocentre.db", ids[a], n, observe)
            gzip_json = gzip_json.finish()
            log("push leg ...")
            push = sync_leg(a, n)
            log("pull leg ...")
            pull = sync_leg(b, n)
            log("no-op leg ...")
            noop = sync_leg(a, None)
            log(f"{len(listings)} edits ...")
            with closing(sqlite3.connect(a / "infocentre.db")) as db, db:
                db.executemany("UPDATE bench_listings SET stock = stock + 1 WHERE id = ?",
                               [(i,) for i in listings])
            edit100 = sync_leg(a, len(listings))
            log("capture cost ...")
            overhead, overhead_sql = capture_overhead(template, tmp, ids[a], n)
        finally:
            server.terminate()
            server.wait(10)

    figures = {"push": push, "pull": pull, "noop": noop, "edit100": edit100,
               "capture_overhead": overhead, "capture_overhead_sql": overhead_sql,
               "gzip_json_bytes": gzip_json}
    for leg, count in (("push", n), ("pull", n), ("noop", 0), ("edit100", len(listings))):
        if figures[leg].pop("changes") != count:
            log(f"note: the {leg} leg moved a different number of changes than {count} records")
        if leg in ("push", "pull"):  # the records' own cost, without the process's start,
            # which the no-op pays (for 100 edits the difference is within the noise)
            figures[leg]["cpu_us_per_record_net"] = round(
                (figures[leg]["cpu_s"] - noop["cpu_s"]) * 1e6 / count, 1)
    figures["total_seconds"] = round(time.monotonic() - run_started, 1)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{'leg':<9} {'records/s':>10} {'bytes':>10} {'B/record':>9} {'requests':>9} "
          f"{'seconds':>8} {'CPU s':>8} {'CPU µs/record':>14} {'net µs/record':>14} "
          f"{'peak RSS MB':>12}")
    for leg, count in (("push", n), ("pull", n), ("noop", None), ("edit100", len(listings))):
        f = figures[leg]
        per = f"{f['bytes'] / count:.0f}" if count else "-"
        rate = f"{f['records_per_s']:,.0f}" if f["records_per_s"] else "-"
        cpu = f"{f['cpu_us_per_record']:,.1f}" if f["cpu_us_per_record"] is not None else "-"
        rss = f["peak_rss_mb"] if f["peak_rss_mb"] is not None else "-"
        net = f"{f['cpu_us_per_record_net']:,.1f}" if "cpu_us_per_record_net" in f else "-"
        print(f"{leg:<9} {rate:>10} {f['bytes']:>10,} {per:>9} {f['requests']:>9} "
              f"{f['seconds']:>8} {f['cpu_s']:>8.2f} {cpu:>14} {net:>14} {rss:>12}")
    print(f"no-op CPU: {noop['cpu_us']:,} µs")
    print(f"gzip of the pushed rows as JSON: {gzip_json:,} bytes; push bytes / that: "
          f"{push['bytes'] / gzip_json:.2f}")
    print(f"capture overhead (insert with triggers / without): {overhead} × (rows made and "
          f"inserted), {overhead_sql} × (SQLite's part alone)")
    print(f"whole run: {figures['total_seconds']} s")
    print(f"goals: {GOALS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
