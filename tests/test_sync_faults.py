"""A real hub and two real centres syncing as processes through a proxy that drops, stalls, resets
and truncates their exchanges, while people keep adding, renaming and deleting accounts at the
centres and the hub adds some for them. Every sync either succeeds or says the hub is unreachable;
once the line is clean the replicas agree, nothing is lost, duplicated or resurrected, and every
database is sound."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import sqlite3
import uuid
from collections import Counter
from dataclasses import dataclass, field

import pytest

from sync.media import CHUNK, Store

from .faults import FAULTS, FaultProxy
from .live import db_rows, infocentre, join_centre, start_demo_server

pytestmark = pytest.mark.live

ROUNDS = 16  # each ends with a sync of each centre
SEED = 2026  # of the faults and of the writes
# Small batches and pages, so a sync takes several exchanges and faults land between them; a
# short timeout, so a stalled exchange costs two seconds.
ENV = {"INFOCENTRE_SYNC_BATCH": "50", "INFOCENTRE_SYNC_PAGE": "40",
       "INFOCENTRE_SYNC_TIMEOUT": "2"}
COLUMNS = ("name", "photo")  # what write_round sets and the replicas must agree on
_serial = itertools.count()


@dataclass
class Round:
    """What one round of writes left: the values of the rows added or edited, the ids deleted."""

    written: dict[str, dict] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


def write_round(path, centre_id, rng) -> Round:
    """New accounts of ``centre_id``, renames and deletes of earlier ones, straight into the
    database of ``path`` (the triggers capture them as any write). Only rows this database wrote
    are edited, so the last value written is the one every replica must keep; every name is
    unique, so a row applied twice would show."""
    label = path.name
    done = Round()
    with sqlite3.connect(path / "infocentre.db") as db:
        for _ in range(rng.randint(10, 40) if label == "hub" else rng.randint(30, 90)):
            row = {"name": f"{label} {next(_serial):06d}", "photo": None}
            if label != "hub" and rng.random() < 0.03:  # a photo of three chunks, now and then
                photo = b"\xff\xd8\xff" + rng.randbytes(2 * CHUNK + rng.randint(1, CHUNK))
                row["photo"] = Store(path / "media").add_bytes(photo).sha
            row_id = str(uuid.uuid4())
            db.execute("INSERT INTO accounts (id, centre_id, name, role, photo, created_at, "
                       "updated_at) VALUES (?, ?, ?, 'villager', ?, datetime('now'), "
                       "datetime('now'))", [row_id, centre_id, row["name"], row["photo"]])
            done.written[row_id] = row
        mine = [r[0] for r in db.execute(  # sent already or not: both are edited
            "SELECT id FROM accounts WHERE centre_id = ? AND name LIKE ? ORDER BY id",
            [centre_id, f"{label} %"])]
        for row_id in rng.sample(mine, min(len(mine), rng.randint(5, 25))):
            row = {"name": f"{label} {next(_serial):06d}"}
            db.execute("UPDATE accounts SET name = ?, updated_at = datetime('now') WHERE id = ?",
                       [row["name"], row_id])
            done.written[row_id] = {**done.written.get(row_id, {}), **row}
        for row_id in rng.sample(mine, min(len(mine), rng.randint(2, 10))):
            db.execute("DELETE FROM accounts WHERE id = ?", [row_id])
            done.written.pop(row_id, None)
            done.deleted.add(row_id)
    return done


def sync(path) -> tuple[int, dict]:
    """``infocentre sync now`` as a process: its exit code and report; never a crash."""
    result = infocentre(path, "sync", "now", "--json", env=ENV, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 3), (result.returncode, result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["status"] == ("synced" if result.returncode == 0 else "unreachable")
    return result.returncode, report


def accounts(path, centre_id) -> dict[str, dict]:
    found = db_rows(path, f"SELECT id, {', '.join(COLUMNS)} FROM accounts WHERE centre_id = ?",
                    [centre_id])
    return {r[0]: dict(zip(COLUMNS, r[1:])) for r in found}


def test_syncs_through_a_faulty_line_lose_and_duplicate_nothing(tmp_path):
    hub = start_demo_server(tmp_path / "hub", role="hub", courses=False)
    proxy = FaultProxy(int(hub.url.rsplit(":", 1)[1]), seed=SEED, every=6)
    try:
        via_proxy = f"http://127.0.0.1:{proxy.port}"
        a, b = tmp_path / "centro-a", tmp_path / "centro-b"
        a_id = join_centre(hub.data_dir, a, "centro-a", via_proxy)[0]
        b_id = join_centre(hub.data_dir, b, "centro-b", via_proxy)[0]
        rng = random.Random(SEED)
        expected = {a_id: {}, b_id: {}}  # per owner: id -> values, whoever wrote them
        deleted: set[str] = set()

        def note(centre_id, done: Round) -> None:
            for row_id, values in done.written.items():
                expected[centre_id][row_id] = {**expected[centre_id].get(row_id, {}), **values}
            for row_id in done.deleted:
                expected[centre_id].pop(row_id, None)
            deleted.update(done.deleted)

        codes = Counter()
        blob_bytes = 0  # of photos sent, chunks sent again included
        for turn in range(ROUNDS):
            note(a_id, write_round(a, a_id, rng))
            if turn % 2:
                note(b_id, write_round(b, b_id, rng))
            if turn % 3 == 1:  # the regional office adds people for a centre: they are pulled
                owner = (a_id, b_id)[turn % 2]
                note(owner, write_round(hub.data_dir, owner, rng))
            for path in (a, b):
                code, report = sync(path)
                codes[code] += 1
                blob_bytes += report["blob_bytes_sent"]
        print(f"{sum(codes.values())} syncs {dict(codes)}, {proxy.exchanges} exchanges, "
              f"faults {dict(proxy.applied)}, {proxy.lost_answers} after the hub had the request")
        assert codes[3] > 0 and codes[0] > 0, codes  # a faulty line, not a dead one
        assert set(proxy.applied) == set(FAULTS), proxy.applied

        proxy.active = False
        reports = [sync(path) for path in (a, b, a)]
        blob_bytes += sum(report["blob_bytes_sent"] for _, report in reports)
        assert [code for code, _ in reports] == [0, 0, 0]
        assert reports[-1][1]["sent"] == 0  # nothing was left

        for path, centre_id in ((a, a_id), (b, b_id)):
            assert accounts(path, centre_id) == accounts(hub.data_dir, centre_id) == \
                expected[centre_id]
            assert db_rows(path, "SELECT id, name FROM centres ORDER BY id") == db_rows(
                hub.data_dir, "SELECT id, name FROM centres ORDER BY id")
        for path in (a, b, hub.data_dir):
            marks = ",".join("?" * len(deleted))
            assert db_rows(path, f"SELECT id FROM accounts WHERE id IN ({marks})",
                           sorted(deleted)) == []
            assert db_rows(path, "SELECT name FROM accounts GROUP BY name "
                                 "HAVING count(*) > 1") == []
            assert db_rows(path, "SELECT count(*) FROM _sync_quarantine") == [(0,)]
            assert db_rows(path, "PRAGMA integrity_check") == [("ok",)]
        # Every photo a centre's rows name reached the hub whole, checked against its hash.
        photos = {v["photo"]: owner for owner, rows in expected.items() for v in rows.values()
                  if v.get("photo")}
        assert photos, "no photo was written"
        for sha, owner in photos.items():
            origin = Store((a if owner == a_id else b) / "media").path(sha).read_bytes()
            assert Store(hub.data_dir / "media").path(sha).read_bytes() == origin
            assert hashlib.sha256(origin).hexdigest() == sha
        # A cut costs at most the chunk in flight: never a photo sent over from its start.
        # (What the hub holds, whole or in part, photos of rows deleted since included.)
        held = sum(f.stat().st_size for f in (hub.data_dir / "media").rglob("*") if f.is_file())
        assert held <= blob_bytes <= held + codes[3] * CHUNK, (held, blob_bytes, codes)

        # Each batch was applied once: a batch whose answer was lost came again with its id
        # (a replay, applying nothing); no range of changes came twice under two ids.
        batches = db_rows(hub.data_dir, "SELECT node_id, json_extract(reply, '$.acked'), "
                                        "replays FROM _sync_batches")
        ranges = Counter((node, acked) for node, acked, _ in batches)
        assert ranges and max(ranges.values()) == 1, ranges.most_common(3)
        replays = sum(r for *_, r in batches)
        assert 0 < replays <= proxy.lost_answers, (len(batches), replays, proxy.lost_answers)
    finally:
        proxy.close()
        hub.stop()
