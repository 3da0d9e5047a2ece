#!/usr/bin/env python3
"""Measure one real hub process serving many centres that all sync at once.

    .venv/bin/python scripts/bench_hub.py --centres N [--rows R] [--json]

Starts a hub as production does (`infocentre serve`, waitress, on 127.0.0.1) in a temporary
directory, registers N centres at it, and sets up N centres each holding R rows (default 3,000;
scripts/bench_area.py's tables and seeded realistic records, the same R records at every centre
under ids of its own). Then all N centres sync at once, in three rounds:
  first    every centre's first sync (its R rows up, the region's centres rows down);
  noop     every centre syncs again with nothing to do;
  edit100  every centre changes one field of 100 of its rows, then all sync.
For each round: wall-clock seconds (from the start signal until the last centre is done), the
hub process's CPU seconds (user + system, from /proc, until the hub is idle again: requests
whose centres gave up still cost it), CPU ms per centre, requests, and
failures (a centre's sync that raised, or did not finish within --round-timeout); also the
hub's peak RSS, the set-up and the total seconds. With --json, one object: {"centres",
"failures", "rounds": {"first", "noop", "edit100"}, "hub_peak_rss_mb", ...}, with
"failure_reasons" (a count per reason) when there were failures.

The centres' side is set up in-process, never with one `infocentre` process per centre: the
centres are registered in the hub's database (what `infocentre hub add-node` does), one centre
is initialised with `init_installation` and its fresh database is copied for the others, each
then started once with `kiosk.create_app` (its first start: migrations, change capture and its
own sync identity). The centres run in --workers forked processes, one thread per centre, and
sync with `sync.client.sync_now`, as `infocentre sync now` does. Only the hub's figures matter:
the centres' CPU is not counted.

By default the rows are owned by their centre and reach no other centre (OWNER scope,
scripts/bench_hub_area.py); `--scope region` uses bench_area's region-wide tables, where every
centre also receives every other centre's rows (so the work per centre grows with N, and the
"noop" round brings what others sent after a centre's first sync).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from local_server import environment as clean_environment  # noqa: E402
from local_server import log, serve  # noqa: E402

AREA_OF_SCOPE = {"owner": "bench_hub_area", "region": "bench_area"}
BASE_AREAS = ["kiosk.home", "kiosk.auth", "kiosk.admin"]
BENCH_TABLES = ("bench_listings", "bench_lessons", "bench_stories")
# What edit100 changes: one field of each row, rows taken table by table.
EDITED = (("bench_listings", "stock"), ("bench_lessons", "minutes"), ("bench_stories", "year"))
EDITS = 100
ROUNDS = ("first", "noop", "edit100")
BATCH_LIMIT, PAGE_LIMIT = 1000, 2000  # the SYNC_BATCH and SYNC_PAGE defaults
GOALS = ("0 failures at 200 centres; hub CPU per centre at 200 ≤ 1.3 × that at 20; hub peak "
         "RSS ≤ 150 MB; no-op round ≤ 10 ms of hub CPU per centre")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def areas(scope: str) -> list[str]:
    return [*BASE_AREAS, AREA_OF_SCOPE[scope]]


def environment(scope: str) -> dict:
    """The hub's environment: the shell's INFOCENTRE_* settings dropped, the benchmark's area
    added (as scripts/bench_sync.py does)."""
    env = clean_environment(AREAS=",".join(areas(scope)))
    # This tree's code, as in this process, whatever copy of Infocentre the venv installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "scripts"), str(ROOT),
                                                      env.get("PYTHONPATH")]))
    return env


# The hub process, seen from /proc.


def _descendants(pid: int) -> list[int]:
    found = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(k) for k in children.read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *_descendants(kid)]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process, its waited-for children and its live descendants."""
    ticks = 0
    for each in [pid, *_descendants(pid)]:
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after the name, field 3 is at index 0
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / CLOCK_TICKS


def settle(pid: int, limit: float = 300, step: float = 0.5) -> tuple[float, float]:
    """Wait until the hub is idle (it may still be working on requests whose centres gave
    up): its CPU seconds then, and how long it kept working."""
    started = time.monotonic()
    cpu = cpu_seconds(pid)
    while time.monotonic() - started < limit:
        time.sleep(step)
        now = cpu_seconds(pid)
        if now - cpu < 0.05 * step:
            return now, max(0.0, time.monotonic() - started - step)
        cpu = now
    return cpu, time.monotonic() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$")


def hub_errors(log_path: Path, start: int) -> tuple[Counter, int]:
    """Exceptions the hub logged from byte ``start`` of its log (their last traceback line),
    and where the log ends now."""
    with log_path.open("rb") as f:
        f.seek(start)
        text = f.read()
    found = Counter()
    for line in text.decode(errors="replace").splitlines():
        match = ERROR_LINE.match(line.strip())
        if match and not match[1].startswith("werkzeug."):  # the 500 that wraps the cause
            found[f"{match[1]}: {match[2][:100]}"] += 1
    return found, start + len(text)


# The centres' side: runs in the worker processes (forked), one thread per centre.


def failure_reason(error: BaseException) -> str:
    from sync.errors import Refused, Unreachable

    if isinstance(error, Unreachable):
        return f"unreachable:{error.reason} ({error})"
    if isinstance(error, Refused):
        return f"refused:{error.code} ({error})"
    return f"{type(error).__name__}: {str(error)[:100]}"


def row_content(rows: int) -> dict[str, tuple[list[str], list[list]]]:
    """bench_area's seeded records, made once: {table: (columns, values)}, without their id and
    centre_id, which each centre gives its own (making the records is most of a set-up)."""
    import bench_area

    content: dict[str, tuple[list[str], list[list]]] = {}
    for table, row in bench_area.records(rows, "", seed=2026):
        columns, values = content.setdefault(
            table, ([c for c in row if c not in ("id", "centre_id")], []))
        values.append([row[c] for c in columns])
    return content


def set_up_centre(centre: dict, template: Path, url: str, scope: str, content: dict) -> None:
    """A centre as `infocentre init --hub URL --token TOKEN` makes it (its database a copy of a
    fresh one), started once, then holding the rows of ``content`` as its own."""
    import kiosk
    from kiosk import config as config_module
    from kiosk.data import open_db

    data_dir = Path(centre["dir"])
    data_dir.mkdir(parents=True)
    shutil.copyfile(template, data_dir / config_module.DATABASE_FILE)
    # What init_installation writes besides the database: config, secret key, token.
    config_module.write_new(data_dir, "node", centre["name"], centre["node_id"],
                            default_language="es", currency="USD", hub_url=url)
    config_module.write_token(data_dir, centre["token"])
    # Its first start: the area's migrations, change capture, a sync identity of its own.
    kiosk.create_app({"DATA_DIR": str(data_dir), "AREAS": areas(scope)})
    import bench_area

    db = open_db(data_dir / config_module.DATABASE_FILE)
    rng = random.Random(centre["seed"])
    try:
        with db.conn:  # one transaction; the capture triggers record every row
            for table, (columns, values) in content.items():
                names = ["id", "centre_id", *columns]
                db.conn.executemany(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES "
                    f"({', '.join('?' * len(names))})",
                    ([bench_area.row_id(rng, bench_area.BORN_MS + i * 1000),
                      centre["node_id"], *v] for i, v in enumerate(values)))
    finally:
        db.close()


def edit_rows(db, node_id: str, count: int) -> int:
    """Change one field of ``count`` of the centre's own rows (plain SQL, captured by the
    triggers); returns how many rows changed."""
    left = count
    with db.conn:
        for table, column in EDITED:
            if left <= 0:
                break
            left -= db.conn.execute(
                f"UPDATE {table} SET {column} = {column} + 1 WHERE id IN (SELECT id FROM "
                f"{table} WHERE centre_id = ? ORDER BY id LIMIT ?)", [node_id, left]).rowcount
    return count - left


def sync_centre(centre: dict, round_name: str, url: str, tables: list, timeout: float,
                prepared: threading.Barrier, go: threading.Event, out: dict) -> None:
    """One centre's sync in one round, started by ``go``; the outcome goes into ``out``."""
    from kiosk import config as config_module
    from kiosk.data import open_db, schema_version
    from sync.client import HubClient, SyncReport, sync_now

    db = client = None
    report = SyncReport()  # what a sync moved counts even when it fails later
    try:
        try:  # getting ready is not the hub's cost: before the start signal
            db = open_db(Path(centre["dir"]) / config_module.DATABASE_FILE)
            if round_name == "edit100":
                out["edited"] = edit_rows(db, centre["node_id"], EDITS)
            schema = schema_version(db)
            client = HubClient(url, centre["token"], timeout=(timeout, timeout))
        finally:
            prepared.wait()
        go.wait()
        started = time.monotonic()
        sync_now(db, tables, client, schema=schema, batch_limit=BATCH_LIMIT,
                 page_limit=PAGE_LIMIT, report=report)
        out.update(ok=True, seconds=round(time.monotonic() - started, 3))
    except BaseException as e:  # every failure is counted; none stops the round
        out.update(ok=False, reason=failure_reason(e))
    finally:
        out.update(sent=report.sent, received=report.received)
        if client is not None:
            out["requests"] = client.requests
            client.close()
        if db is not None:
            db.close()


def worker(conn, centres: list[dict], template: str, url: str, scope: str, content: dict,
           timeout: float, round_timeout: float) -> None:
    """A client process: sets up its centres, then runs each round it is told to."""
    try:
        import kiosk

        for centre in centres:
            set_up_centre(centre, Path(template), url, scope, content)
        tables = [t for area in kiosk.areas(areas(scope)) for t in area.SYNCED_TABLES if
                  hasattr(area, "SYNCED_TABLES")]
        conn.send(("ready",))
        stuck: set[str] = set()  # centres whose sync of an earlier round never finished
        while True:
            message = conn.recv()
            if message[0] == "stop":
                return
            round_name = message[1]
            taking_part = [c for c in centres if c["node_id"] not in stuck]
            prepared = threading.Barrier(len(taking_part) + 1)
            go = threading.Event()
            outcomes = [{"node_id": c["node_id"], "requests": 0} for c in taking_part]
            threads = [threading.Thread(target=sync_centre, daemon=True, args=(
                c, round_name, url, tables, timeout, prepared, go, out))
                for c, out in zip(taking_part, outcomes)]
            for thread in threads:
                thread.start()
            prepared.wait(timeout=600)
            conn.send(("prepared",))
            if conn.recv()[0] != "go":
                return
            go.set()
            deadline = time.monotonic() + round_timeout
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            results = []
            for thread, out in zip(threads, outcomes):
                if thread.is_alive():
                    stuck.add(out["node_id"])
                    results.append({**out, "ok": False, "reason": "did not finish"})
                else:
                    results.append(dict(out))
            conn.send(("done", results))
    except (KeyboardInterrupt, SystemExit):
        return
    except BaseException:  # reported to the main process, which stops
        conn.send(("error", traceback.format_exc()))


# The main process: the hub, the registry, the rounds.


def expect(conn, kind: str, timeout: float):
    if not conn.poll(timeout):
        raise SystemExit(f"a client process did not answer ({kind}) within {timeout:.0f} s")
    try:
        message = conn.recv()
    except EOFError:
        raise SystemExit("a client process ended unexpectedly") from None
    if message[0] == "error":
        raise SystemExit(f"a client process failed:\n{message[1]}")
    if message[0] != kind:
        raise SystemExit(f"a client process said {message[0]!r} instead of {kind!r}")
    return message


def register_centres(hub_dir: Path, count: int) -> list[dict]:
    """What `infocentre hub add-node NAME` does, for ``count`` centres, in-process: a centres
    row and a registration in the hub's database, and the token made from the hub's key."""
    from kiosk import config as config_module
    from kiosk.admin import models
    from kiosk.data import open_db, utcnow
    from sync import signing

    hub_config = config_module.read_file(hub_dir)
    hub_key = config_module.read_secret(hub_dir)
    db = open_db(hub_dir / config_module.DATABASE_FILE)
    centres = []
    try:
        for i in range(count):
            name = f"Centro {i + 1:03d}"
            node = models.register_node(db, name=name, hub_id=hub_config["CENTRE_ID"],
                                        now=utcnow())
            token = signing.make_token(node["node_id"], signing.derive_secret(
                hub_key, node["node_id"], node["generation"]))
            centres.append({"name": name, "node_id": node["node_id"], "token": token,
                            "seed": 2026 + i})
    finally:
        db.close()
    return centres


def make_template(tmp: Path, url: str, token: str) -> Path:
    """A fresh centre's database, as `infocentre init --role node --hub --token` leaves it."""
    from kiosk import config as config_module
    from kiosk.installation import init_installation

    made = tmp / "template"
    init_installation(made, role="node", name="Template", hub_url=url, token=token)
    template = tmp / "template.db"
    src, dst = sqlite3.connect(made / config_module.DATABASE_FILE), sqlite3.connect(template)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return template


def hub_rows(hub_dir: Path) -> int:
    from kiosk import config as config_module

    uri = (hub_dir / config_module.DATABASE_FILE).resolve().as_uri() + "?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in BENCH_TABLES)
    finally:
        db.close()


def run_round(name: str, pipes: list, pid: int, log_path: Path, log_at: int,
              round_timeout: float) -> tuple[dict, Counter, Counter, int]:
    for conn in pipes:
        conn.send(("round", name))
    for conn in pipes:
        expect(conn, "prepared", 900)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    for conn in pipes:
        conn.send(("go",))
    results = []
    for conn in pipes:
        results += expect(conn, "done", round_timeout + 120)[1]
    seconds = time.monotonic() - started
    cpu_after, busy_after = settle(pid)
    cpu = cpu_after - cpu_before
    reasons = Counter(r["reason"] for r in results if not r.get("ok"))
    logged, log_at = hub_errors(log_path, log_at)
    figures = {
        "seconds": round(seconds, 2),
        "hub_cpu_s": round(cpu, 2),
        "hub_cpu_ms_per_centre": round(cpu * 1000 / max(1, len(results)), 1),
        "requests": sum(r.get("requests", 0) for r in results),
        "failures": sum(reasons.values()),
        "sent": sum(r.get("sent", 0) for r in results),
        "received": sum(r.get("received", 0) for r in results),
        # Seconds the hub kept working after the last centre was done (abandoned requests);
        # their CPU counts in this round.
        "hub_busy_after_s": round(busy_after, 1),
    }
    if name == "edit100":
        figures["edited"] = sum(r.get("edited", 0) for r in results)
    return figures, reasons, logged, log_at


def benchmark(args, tmp: Path, started: float, processes: list, pipes: list,
              hold: dict) -> dict:
    from kiosk.installation import init_installation

    env = environment(args.scope)
    hub_dir = tmp / "hub"
    log(f"setting up a hub and {args.centres} centres of {args.rows:,} rows ...")
    init_installation(hub_dir, role="hub", name="Hub Sierra Centro")
    server, url = serve(hub_dir, env)  # its first start installs the area and change capture
    hold["server"] = server
    centres = register_centres(hub_dir, args.centres)
    template = make_template(tmp, url, centres[0]["token"])
    for i, centre in enumerate(centres):
        centre["dir"] = str(tmp / "centres" / f"c{i:03d}")
    content = row_content(args.rows)
    workers = max(1, min(args.workers, args.centres))
    context = multiprocessing.get_context("fork")  # the workers share content, unpickled
    for w in range(workers):
        mine, theirs = context.Pipe()
        process = context.Process(target=worker, daemon=True, args=(
            theirs, centres[w::workers], str(template), url, args.scope, content,
            args.timeout, args.round_timeout))
        process.start()
        theirs.close()
        processes.append(process)
        pipes.append(mine)
    for conn in pipes:
        expect(conn, "ready", 3600)
    setup_seconds = time.monotonic() - started
    log(f"set up in {setup_seconds:.1f} s")

    log_path = hub_dir / "server.log"
    _, log_at = hub_errors(log_path, 0)  # what the hub logged while starting is not counted
    rounds, reasons, logged = {}, Counter(), Counter()
    for name in ROUNDS:
        log(f"round {name}: {args.centres} centres at once ...")
        rounds[name], round_reasons, round_logged, log_at = run_round(
            name, pipes, server.pid, log_path, log_at, args.round_timeout)
        reasons += round_reasons
        logged += round_logged
        if server.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise SystemExit(f"the hub stopped (exit status {server.returncode}):\n{tail}")
        log(f"  {rounds[name]['seconds']} s, hub CPU {rounds[name]['hub_cpu_s']} s, "
            f"{rounds[name]['failures']} failures")
    figures = {
        "centres": args.centres,
        "rows": args.rows,
        "scope": args.scope,
        "workers": workers,
        "failures": sum(reasons.values()),
    }
    if reasons:
        figures["failure_reasons"] = dict(reasons.most_common())
    figures["rounds"] = rounds
    figures["hub_peak_rss_mb"] = peak_rss_mb(server.pid)
    figures["hub_rows"] = hub_rows(hub_dir)
    figures["expected_hub_rows"] = args.centres * args.rows
    if logged:
        figures["hub_logged_errors"] = dict(logged.most_common())
    figures["setup_seconds"] = round(setup_seconds, 1)
    return figures


def stop(processes: list, pipes: list, server) -> None:
    for conn in pipes:
        try:
            conn.send(("stop",))
        except OSError:
            pass
    for process in processes:
        process.join(2)
        if process.is_alive():
            process.terminate()
            process.join(5)
        if process.is_alive():
            process.kill()
            process.join()
    if server is not None and server.poll() is None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def print_table(f: dict) -> None:
    print(f"hub with {f['centres']} centres × {f['rows']:,} rows ({f['scope']}-scoped "
          f"tables), centres in {f['workers']} client processes")
    print(f"{'round':<8} {'seconds':>8} {'hub CPU s':>10} {'ms/centre':>10} {'requests':>9} "
          f"{'failures':>9} {'sent':>9} {'received':>9} {'hub busy after s':>17}")
    for name in ROUNDS:
        r = f["rounds"][name]
        print(f"{name:<8} {r['seconds']:>8} {r['hub_cpu_s']:>10} "
              f"{r['hub_cpu_ms_per_centre']:>10} {r['requests']:>9} {r['failures']:>9} "
              f"{r['sent']:>9,} {r['received']:>9,} {r['hub_busy_after_s']:>17}")
    print(f"hub peak RSS: {f['hub_peak_rss_mb']} MB; rows at the hub: {f['hub_rows']:,} "
          f"(expected {f['expected_hub_rows']:,})")
    print(f"failures: {f['failures']}")
    for reason, n in f.get("failure_reasons", {}).items():
        print(f"  {n:>6} × {reason}")
    if f.get("hub_logged_errors"):
        print("errors in the hub's log:")
        for error, n in f["hub_logged_errors"].items():
            print(f"  {n:>6} × {error}")
    print(f"set-up {f['setup_seconds']} s; total {f['total_seconds']} s")
    print(f"goals: {GOALS}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--centres", type=int, required=True, help="centres syncing at once")
    parser.add_argument("--rows", type=int, default=3000, help="rows per centre (3,000)")
    parser.add_argument("--scope", choices=sorted(AREA_OF_SCOPE), default="owner",
                        help="who receives a centre's rows: itself only (owner, the default) "
                             "or every centre (region)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="client processes the centres are spread over")
    parser.add_argument("--timeout", type=float, default=60,
                        help="seconds a centre waits for each answer (SYNC_TIMEOUT, 60)")
    parser.add_argument("--round-timeout", type=float, default=1800,
                        help="seconds after which a centre's sync counts as not finished")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.centres < 1 or args.rows < 0 or args.workers < 1:
        parser.error("--centres and --workers must be at least 1, --rows at least 0")

    # The in-process centres must not see the shell's settings either, nor reach the hub on
    # 127.0.0.1 through a proxy.
    for key in [k for k in os.environ if k.startswith("INFOCENTRE_")]:
        del os.environ[key]
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"),
                                                    "127.0.0.1", "localhost"]))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C

    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    processes, pipes, hold = [], [], {}
    try:
        try:
            figures = benchmark(args, tmp, started, processes, pipes, hold)
        finally:
            stop(processes, pipes, hold.get("server"))
            shutil.rmtree(tmp, ignore_errors=True)
    except KeyboardInterrupt:
        log("interrupted: the hub and the centres were stopped, their files removed")
        return 130
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
