"""Every query an exchange runs reads what it needs through an index, never a whole table, so
an exchange costs what it carries, not the size of the hub (issue 13: a scope refresh scanned
whole tables, and 2.5 times the centres cost 5.3 times the hub's CPU).

Each statement run by both sides of a push, a pull, a no-op and a bundle is traced and its
plan asked with EXPLAIN QUERY PLAN. ``SYNC_PLAN_ROWS`` sets how many rows each centre holds
(1,000,000 was checked before issue 13 was closed)."""

from __future__ import annotations

import os
import re

from sync.bundle import export_for_node

ROWS = int(os.environ.get("SYNC_PLAN_ROWS", "3000"))
# Tables whose size grows with the region: a plan may SEARCH them, never SCAN them.
BIG = re.compile(r"\bSCAN (?:TABLE )?(notes|diary|tales|_sync_clock|_sync_members|_sync_feed|"
                 r"_sync_exits|_sync_deleted|_sync_batches|_sync_instances|_sync_nonces|"
                 r"_sync_marks|_sync_seen|_sync_quarantine)\b")


def fill(node, count: int) -> None:
    node.db.conn.executemany(
        "INSERT INTO notes (id, centre_id, title, body, score) VALUES (?, ?, ?, ?, ?)",
        [(f"n-{node.node_id[:8]}-{i}", node.node_id, f"Minga {i}", "En la plaza.", i)
         for i in range(count)])
    node.db.conn.executemany(
        "INSERT INTO diary (id, centre_id, day, entry) VALUES (?, ?, ?, ?)",
        [(f"d-{node.node_id[:8]}-{i}", node.node_id, "2026-11-30", "Asistencia") for i in
         range(count)])
    node.db.conn.executemany(
        "INSERT INTO tales (id, centre_id, text, consent) VALUES (?, ?, ?, ?)",
        [(f"s-{node.node_id[:8]}-{i}", node.node_id, "Un recuerdo",
          "public" if i % 2 else "private") for i in range(count)])
    node.db.conn.commit()


def traced(replicas):
    seen: dict[str, tuple] = {}

    def tracer(replica):
        def trace(sql: str) -> None:
            first = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
            if first in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
                key = re.sub(r"'[^']*'|\b\d+\b", "?", sql)
                seen.setdefault(key, (replica, sql))
        return trace

    for replica in replicas:
        replica.db.conn.set_trace_callback(tracer(replica))
    return seen


def test_no_query_of_an_exchange_or_a_bundle_scans_a_table_that_grows(world, tmp_path):
    a, b, c = world.nodes.values()
    for node in (a, b, c):
        fill(node, ROWS)
    for node in (a, b, c, a, b, c):
        world.sync(node, batch_limit=1000, page_limit=2000)
    seen = traced([world.hub, a, b, c])
    a.db.execute("UPDATE notes SET title = 'otra' WHERE id = ?", [f"n-{a.node_id[:8]}-7"])
    a.db.execute("UPDATE tales SET consent = 'public' WHERE id = ?",
                 [f"s-{a.node_id[:8]}-8"])
    a.db.execute("DELETE FROM diary WHERE id = ?", [f"d-{a.node_id[:8]}-9"])
    world.sync(a)  # a push, the refresh of its rows' buckets, a pull
    world.sync(b)  # a pull of what a sent
    world.sync(c)  # and again
    world.sync(b)  # a no-op
    export_for_node(world.hub.db, world.hub.tables, tmp_path / "down.bundle", node_id=c.node_id,
                    hub_key="plans", hub_id=world.hub.node_id, now_ms=world.hub_now())
    for replica in (world.hub, a, b, c):
        replica.db.conn.set_trace_callback(None)
    assert len(seen) > 30, "too few statements traced: is the tracer working?"
    scans = []
    for replica, sql in seen.values():
        plan = "\n".join(r[3] for r in replica.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        if BIG.search(plan):
            scans.append(f"{sql[:160]}\n  {plan}")
    assert not scans, "queries that read whole tables:\n" + "\n".join(scans)


def test_the_tracer_catches_a_scan(world):
    """The check above can fail: a query without an index is caught."""
    hub = world.hub
    plan = "\n".join(r[3] for r in hub.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM _sync_clock WHERE hlc > 5"))
    assert BIG.search(plan)


def test_a_start_reads_no_table_whole_when_capture_is_in_place(world):
    a = list(world.nodes.values())[0]
    fill(a, 200)
    a.db.close()
    a.db = None
    seen: dict = {}
    from kiosk.data import open_db

    db = open_db(a.path)
    db.conn.set_trace_callback(lambda sql: seen.setdefault(sql, None))
    from sync.engine import install

    install(db, a.tables, node_id=a.node_id, role="node")  # what every start of the app does
    db.conn.set_trace_callback(None)
    scans = [sql for sql in seen if sql.lstrip().upper().startswith(("SELECT", "INSERT"))
             and BIG.search("\n".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}")))]
    db.close()
    a.reopen()
    assert not scans, scans


def test_rows_written_while_capture_was_missing_are_adopted_at_the_next_start(world):
    a, b = list(world.nodes.values())[:2]
    a.db.execute("DROP TRIGGER _sync_notes_insert")  # someone's maintenance script
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'uncaptured')",
                 [a.node_id])
    a.db.close()
    a.reopen()  # the next start puts capture back and adopts the row
    world.sync(a)
    world.sync(b)
    assert b.rows("notes")["n"][1] == "uncaptured"
