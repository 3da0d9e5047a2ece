"""USB bundles (DESIGN property 10): a centre's changes to the hub and the hub's back, on a file,
with no network. The engine's side in-process on real SQLite files; the commands as real
``infocentre`` processes."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3

import pytest

from sync.bundle import export_at_node, export_for_node, import_at_hub, import_at_node
from sync.engine import build_request, pending, purge
from sync.engine.clock import MAX_AHEAD_MS, physical_ms, wall_ms
from sync.engine.purge import DAY_MS
from sync.errors import BundleError, ClockAhead
from sync.signing import derive_secret, make_token

from .live import db_rows, infocentre, join_centre
from .sync_world import Replica, clone_db

KEY = "the hub's secret key, for these tests only"
ENGINE_TABLES = ("notes", "diary", "tales", "_sync_state", "_sync_clock", "_sync_batches",
                 "_sync_instances", "_sync_quarantine", "_sync_members", "_sync_exits")


def token(node) -> str:
    return make_token(node.node_id, derive_secret(KEY, node.node_id, 1))


def export(node, path, batch_limit=7, progress=None):
    return export_at_node(node.db, node.tables, path, token=token(node), schema=1,
                          batch_limit=batch_limit, wall_ms=wall_ms(), progress=progress)


def hub_import(world, path, progress=None):
    return import_at_hub(world.hub.db, world.hub.tables, path, hub_key=KEY,
                         now_ms=world.hub_now(), progress=progress)


def hub_export(world, node, path):
    return export_for_node(world.hub.db, world.hub.tables, path, node_id=node.node_id,
                           hub_key=KEY, hub_id=world.hub.node_id, now_ms=world.hub_now(),
                           page_limit=50)


def node_import(node, path):
    return import_at_node(node.db, node.tables, path, token=token(node), wall_ms=wall_ms())


def carry(world, node, folder, name="trip"):
    """One trip of the USB stick: the centre's bundle to the hub, the hub's back."""
    export(node, folder / f"{name}-up.bundle")
    up = hub_import(world, folder / f"{name}-up.bundle")
    hub_export(world, node, folder / f"{name}-down.bundle")
    return up, node_import(node, folder / f"{name}-down.bundle")


def snapshot(replica) -> dict:
    """Every row of the synced tables and of the engine's bookkeeping."""
    return {t: sorted(map(repr, replica.db.execute(f"SELECT * FROM {t}"))) for t in ENGINE_TABLES}


def write_notes(node, count, prefix="n", **extra):
    node.db.conn.executemany(
        "INSERT INTO notes (id, centre_id, title, body, score) VALUES (?, ?, ?, ?, ?)",
        [(f"{prefix}-{node.node_id[:4]}-{i}", node.node_id, f"Minga {i}",
          extra.get("body", f"La comunidad se reúne el sábado {i}."), i) for i in range(count)])
    node.db.conn.commit()


def nodes(world):
    return list(world.nodes.values())


# The round trip.


def test_a_centres_changes_reach_the_hub_and_another_centre_by_bundles_alone(world, tmp_path):
    a, b, c = nodes(world)
    write_notes(a, 40)
    a.db.execute("UPDATE notes SET body = 'cambiado' WHERE score < 5")
    a.db.execute("DELETE FROM notes WHERE score = 39")
    a.db.execute("INSERT INTO diary (id, centre_id, day, entry) VALUES ('d1', ?, 'lunes', "
                 "'solo para el hub')", [a.node_id])
    a.db.execute("INSERT INTO tales (id, centre_id, text, consent, secret) VALUES "
                 "('s1', ?, 'pública', 'public', 'no sale'), ('s2', ?, 'privada', 'private', "
                 "NULL)", [a.node_id, a.node_id])
    write_notes(b, 12, prefix="b")
    steps, waiting = [], pending(a.db)
    export(a, tmp_path / "a.bundle", progress=lambda *step: steps.append(step))
    assert steps[-1][0] == "batch" and steps[-1][1] == steps[-1][2] > 1  # "batch 7/7"
    up = hub_import(world, tmp_path / "a.bundle")
    assert up.problem is None and up.applied == up.entries > 1 and up.changes == waiting
    carry(world, b, tmp_path, "b")
    for node in (a, b, c):
        carry(world, node, tmp_path, f"back-{node.path.stem}")
    hub = world.hub
    assert len(hub.rows("notes")) == 39 + 12
    for node in (a, b, c):
        assert node.rows("notes") == hub.rows("notes")
        assert node.rows("tales") == {k: v for k, v in hub.rows("tales").items()
                                        if v[2] == "public" or v[0] == node.node_id}
        assert node.integrity() == "ok"
    assert hub.rows("diary") == a.rows("diary") and c.rows("diary") == {}
    assert hub.db.execute("SELECT secret FROM tales").fetchall() == [(None,), (None,)]
    assert pending(a.db) == pending(b.db) == 0  # every batch acknowledged by a bundle


def test_importing_a_bundle_twice_changes_nothing_the_second_time(world, tmp_path):
    a = nodes(world)[0]
    write_notes(a, 20)
    export(a, tmp_path / "up.bundle")
    export(a, tmp_path / "up-again.bundle")  # made again before the hub's answer came back
    first = hub_import(world, tmp_path / "up.bundle")
    before = snapshot(world.hub)
    for path in ("up.bundle", "up-again.bundle"):
        again = hub_import(world, tmp_path / path)
        assert again.nothing_new and again.skipped == 3 and snapshot(world.hub) == before
    assert first.applied == 3 and not first.nothing_new
    hub_export(world, a, tmp_path / "down.bundle")
    assert node_import(a, tmp_path / "down.bundle").acks == 3
    before = snapshot(a)
    assert node_import(a, tmp_path / "down.bundle").nothing_new
    assert snapshot(a) == before


def test_a_bundle_with_nothing_to_send_still_travels_and_changes_nothing(world, tmp_path):
    a = nodes(world)[0]
    made = export(a, tmp_path / "empty.bundle")
    assert made.entries == made.changes == 0 and made.bytes < 400
    before = snapshot(world.hub)
    assert hub_import(world, tmp_path / "empty.bundle").nothing_new
    assert snapshot(world.hub) == before
    hub_export(world, a, tmp_path / "down.bundle")
    node_import(a, tmp_path / "down.bundle")  # the first meets the hub's epoch
    hub_export(world, a, tmp_path / "down2.bundle")
    before = snapshot(a)
    assert node_import(a, tmp_path / "down2.bundle").nothing_new
    assert snapshot(a) == before


# Refusals: nothing of a refused bundle is applied.


@pytest.fixture
def small_bundle(world, tmp_path):
    a = nodes(world)[0]
    write_notes(a, 3)
    export(a, tmp_path / "good.bundle")
    return tmp_path / "good.bundle"


def refused(world, path) -> str:
    with pytest.raises(BundleError) as caught:
        hub_import(world, path)
    return caught.value.reason


def test_any_byte_altered_or_any_cut_is_refused_and_changes_nothing(world, small_bundle):
    good = small_bundle.read_bytes()
    before = snapshot(world.hub)
    bad = small_bundle.with_name("bad.bundle")
    reasons = set()
    for i in range(len(good)):
        bad.write_bytes(good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1:])
        reasons.add(refused(world, bad))
    assert reasons <= {"damaged", "cut_short"} and "damaged" in reasons
    for length in range(2, len(good)):
        bad.write_bytes(good[:length])
        assert refused(world, bad) == "cut_short", length
    assert snapshot(world.hub) == before and world.hub.integrity() == "ok"
    assert hub_import(world, small_bundle).applied == 1  # the good one still goes in


@pytest.mark.parametrize("content, reason", [
    (b"", "not_bundle"),
    (b"Acta de la minga del 12 de marzo\n", "not_bundle"),
    (gzip.compress(b'{"bundle":"infocentre","format":1}\n'), "not_bundle"),
])
def test_a_file_that_is_not_a_bundle_is_refused(world, tmp_path, content, reason):
    (tmp_path / "other").write_bytes(content)
    assert refused(world, tmp_path / "other") == reason
    assert refused(world, tmp_path / "missing") == "unreadable"


def test_a_bundle_for_another_centre_or_the_other_way_is_refused(world, tmp_path):
    a, b = nodes(world)[:2]
    write_notes(a, 3)
    export(a, tmp_path / "a-up.bundle")
    hub_import(world, tmp_path / "a-up.bundle")
    hub_export(world, a, tmp_path / "a-down.bundle")
    before = snapshot(b)
    for path, reason in [("a-down.bundle", "other_centre"), ("a-up.bundle", "wrong_way")]:
        with pytest.raises(BundleError) as caught:
            node_import(b, tmp_path / path)
        assert caught.value.reason == reason
    assert refused(world, tmp_path / "a-down.bundle") == "wrong_way"
    assert snapshot(b) == before
    # Signed with another hub's key for this very centre: not this hub's bundle.
    export_for_node(world.hub.db, world.hub.tables, tmp_path / "forged.bundle",
                    node_id=a.node_id, hub_key="another hub", hub_id="x", now_ms=wall_ms())
    with pytest.raises(BundleError) as caught:
        node_import(a, tmp_path / "forged.bundle")
    assert caught.value.reason == "damaged"


def test_a_revoked_centres_bundle_is_refused_at_the_hub(world, small_bundle):
    a = nodes(world)[0]
    world.hub.db.execute("UPDATE _sync_nodes SET revoked_at = datetime('now') WHERE node_id = ?",
                         [a.node_id])
    before = snapshot(world.hub)
    assert refused(world, small_bundle) == "revoked"
    with pytest.raises(BundleError) as caught:
        hub_export(world, a, small_bundle.with_name("down.bundle"))
    assert caught.value.reason == "revoked"
    assert snapshot(world.hub) == before


def test_a_hub_bundle_that_follows_one_not_imported_is_refused_until_that_one_is(world,
                                                                              tmp_path):
    a, b = nodes(world)[:2]
    write_notes(b, 10, prefix="b")
    carry(world, b, tmp_path, "b1")
    carry(world, a, tmp_path, "a1")
    clone_db(a.path, tmp_path / "backup.db")  # the centre's backup, before the next trip
    write_notes(b, 10, prefix="b2")
    carry(world, b, tmp_path, "b2")
    carry(world, a, tmp_path, "a2")
    export(a, tmp_path / "a3-up.bundle")  # tells the hub what a2-down brought
    hub_import(world, tmp_path / "a3-up.bundle")
    write_notes(b, 10, prefix="b3")
    carry(world, b, tmp_path, "b3")
    hub_export(world, a, tmp_path / "a3-down.bundle")
    a.db.close()  # the backup comes back: it has never seen a2-down
    shutil.copyfile(tmp_path / "backup.db", a.path)
    a.reopen()
    before = snapshot(a)
    with pytest.raises(BundleError) as caught:
        node_import(a, tmp_path / "a3-down.bundle")
    assert caught.value.reason == "gap" and snapshot(a) == before
    assert node_import(a, tmp_path / "a2-down.bundle").applied
    assert node_import(a, tmp_path / "a3-down.bundle").applied
    assert a.rows("notes") == world.hub.rows("notes") and len(a.rows("notes")) == 30


# Bundles and online syncs mixed.


def test_a_centre_that_also_syncs_online_before_its_bundle_arrives_loses_nothing(world,
                                                                                tmp_path):
    a, b = nodes(world)[:2]
    write_notes(a, 30)
    export(a, tmp_path / "stale.bundle")
    a.db.execute("UPDATE notes SET title = 'editado después' WHERE score < 10")
    a.db.execute("DELETE FROM notes WHERE score >= 25")
    write_notes(a, 5, prefix="late")
    world.sync(a)  # online: everything reaches the hub before the stick does
    expected = a.rows("notes")
    up = hub_import(world, tmp_path / "stale.bundle")
    # Online, the centre sent the bundle's batches under their ids: each is applied once.
    assert up.problem is None and up.skipped == up.entries
    assert world.hub.rows("notes") == expected and len(expected) == 30  # no duplicate, no loss
    assert world.hub.db.execute(
        "SELECT count(*) FROM notes WHERE title = 'editado después'").fetchone()[0] == 10
    hub_export(world, a, tmp_path / "down.bundle")
    down = node_import(a, tmp_path / "down.bundle")
    assert not down.renewed and a.rows("notes") == expected and pending(a.db) == 0
    world.sync(b)
    assert b.rows("notes") == expected


def test_a_restored_centre_takes_a_new_identity_and_gets_back_what_it_lost(world, tmp_path):
    a = nodes(world)[0]
    write_notes(a, 5, prefix="early")
    carry(world, a, tmp_path, "t1")
    clone_db(a.path, tmp_path / "backup.db")
    write_notes(a, 8, prefix="lost")  # made after the backup, then the disk dies
    carry(world, a, tmp_path, "t2")
    a.db.close()
    shutil.copyfile(tmp_path / "backup.db", a.path)
    a.reopen()
    hub_export(world, a, tmp_path / "t3-down.bundle")
    assert node_import(a, tmp_path / "t3-down.bundle").renewed
    carry(world, a, tmp_path, "t4")
    assert a.rows("notes") == world.hub.rows("notes") and len(a.rows("notes")) == 13


def test_a_centre_behind_the_hubs_purged_deletions_resynchronises_fully(world, tmp_path):
    a, b = nodes(world)[:2]
    write_notes(b, 10, prefix="b")
    carry(world, b, tmp_path, "b1")
    carry(world, a, tmp_path, "a1")
    export(a, tmp_path / "a2-up.bundle")  # the hub learns a's cursor
    hub_import(world, tmp_path / "a2-up.bundle")
    b.db.execute("DELETE FROM notes WHERE score < 4")
    carry(world, b, tmp_path, "b2")
    purge(world.hub.db, wall_ms() + 3 * DAY_MS, 1)  # the hub forgets those deletions
    hub_export(world, a, tmp_path / "a3-down.bundle")
    assert node_import(a, tmp_path / "a3-down.bundle").resync
    assert a.rows("notes") == world.hub.rows("notes") and len(a.rows("notes")) == 6


def test_a_clone_of_a_clone_by_bundle_does_not_take_its_twins_acknowledgement(world, tmp_path):
    """B, cloned from A, read a batch its link never sent; C was cloned from B. B sent that
    batch online under a new identity. C's bundle carries the same batch under the identity it
    shares with A: the hub must not count it as received from C, nor tell C it was, or C keeps
    A's identity and A's notes are held back from it as its own echo."""
    a = nodes(world)[0]
    world.sync(a)
    clone_db(a.path, tmp_path / "second.db")
    b = Replica(tmp_path / "second.db", a.node_id, "node")
    write_notes(b, 2, prefix="from-b")
    build_request(b.db, b.catalog, schema=1, batch_limit=7)  # the link died before it left
    clone_db(b.path, tmp_path / "third.db")
    c = Replica(tmp_path / "third.db", a.node_id, "node")
    write_notes(a, 3, prefix="from-a")
    world.sync(a)
    world.sync(b)
    export(c, tmp_path / "c1-up.bundle")
    assert hub_import(world, tmp_path / "c1-up.bundle").problem.reason == "renew"
    hub_export(world, c, tmp_path / "c1-down.bundle")
    assert node_import(c, tmp_path / "c1-down.bundle").renewed
    for trip in ("c2", "c3"):
        carry(world, c, tmp_path, trip)
    assert len(world.hub.rows("notes")) == 5
    assert c.rows("notes") == world.hub.rows("notes")
    c.db.close()
    b.db.close()


# Clocks (property 5).


def test_a_batch_stamped_ahead_is_refused_with_what_follows_then_restamped_by_bundle(world,
                                                                                    tmp_path):
    a = nodes(world)[0]
    write_notes(a, 7, prefix="on-time")  # the first batch: stamped right
    a.db.execute("UPDATE _sync_state SET offset_ms = ?", [3_600_000])  # an hour fast
    write_notes(a, 14, prefix="fast")
    export(a, tmp_path / "up1.bundle")
    up = hub_import(world, tmp_path / "up1.bundle")
    assert isinstance(up.problem, ClockAhead) and (up.applied, up.problem_at) == (1, 2)
    assert len(world.hub.rows("notes")) == 7  # nothing of the refused batch, nor of the next
    hub_export(world, a, tmp_path / "down1.bundle")
    down = node_import(a, tmp_path / "down1.bundle")
    assert down.restamped and down.acks == 1
    up = hub_import(world, tmp_path / "up1.bundle")  # the old file again: still refused
    assert isinstance(up.problem, ClockAhead)
    export(a, tmp_path / "up2.bundle")
    up = hub_import(world, tmp_path / "up2.bundle")
    assert up.problem is None and len(world.hub.rows("notes")) == 21
    newest = world.hub.db.execute("SELECT max(hlc) FROM _sync_clock").fetchone()[0]
    assert physical_ms(newest) <= world.hub_now() + MAX_AHEAD_MS
    hub_export(world, a, tmp_path / "down2.bundle")
    node_import(a, tmp_path / "down2.bundle")
    assert pending(a.db) == 0 and a.rows("notes") == world.hub.rows("notes")


# Size: within 1.1 × the gzip size of the changes as plain JSON (SYNC-NOTES goal 18).


def test_a_bundle_is_no_bigger_than_a_tenth_more_than_its_rows_gzipped_as_json(world, tmp_path):
    a = nodes(world)[0]
    a.db.conn.executemany(
        "INSERT INTO notes (id, centre_id, title, body, score) VALUES (?, ?, ?, ?, ?)",
        [(f"0193{i:04x}-7d3e-7a10-9c4b-{i * 7919 % 10**12:012d}", a.node_id,
          f"Feria de la comunidad {i % 17}",
          f"Quinua y papa chola a {i % 9 + 1} dólares la libra; mora de temporada {i}.",
          i % 50) for i in range(300)])
    a.db.conn.commit()
    made = export(a, tmp_path / "up.bundle", batch_limit=1000)
    rows = [dict(zip(("id", "centre_id", "title", "body", "score"), r))
            for r in a.db.execute("SELECT id, centre_id, title, body, score FROM notes")]
    plain = len(gzip.compress(json.dumps(rows, ensure_ascii=False).encode()))
    assert made.changes == 300 and made.bytes <= 1.1 * plain, (made.bytes, plain)


# The commands, as real processes.


def state(path):
    return db_rows(path, "SELECT * FROM _sync_state") + db_rows(
        path, "SELECT count(*) FROM accounts") + db_rows(path, "SELECT count(*) FROM _sync_clock")


def test_the_bundle_commands_carry_a_centre_to_the_hub_and_back(tmp_path):
    hub, a, b = tmp_path / "hub", tmp_path / "a", tmp_path / "b"
    infocentre(hub, "init", "--role", "hub", "--name", "Hub Sierra Centro")
    # No hub needs to answer: these centres travel by USB stick.
    ids = {path: join_centre(hub, path, name)[0]
           for path, name in [(a, "Centro San Pablo"), (b, "Centro Guamote")]}
    with sqlite3.connect(a / "infocentre.db") as db:
        db.executemany(
            "INSERT INTO accounts (id, centre_id, name, role, lang, pin_hash, created_at, "
            "updated_at) VALUES (?, ?, ?, 'villager', 'es', 'secret-hash', '2026-11-23', "
            "'2026-11-23')", [(f"acc-{i:03d}", ids[a], f"Persona {i}")
                              for i in range(250)])
    small = {"INFOCENTRE_SYNC_BATCH": "100"}
    out = infocentre(a, "bundle", "export", str(tmp_path / "a.bundle"), env=small)
    assert "250 changes in 3 batches" in out.stdout and "batch 3/3" in out.stderr
    out = infocentre(hub, "bundle", "import", str(tmp_path / "a.bundle"))
    assert "Imported 3 batches" in out.stdout and "batch 2/3" in out.stderr
    assert db_rows(hub, "SELECT count(*), count(pin_hash) FROM accounts WHERE centre_id = ?",
                [ids[a]]) == [(250, 0)]  # PIN hashes never leave the centre
    before = state(hub)
    again = infocentre(hub, "bundle", "import", str(tmp_path / "a.bundle"))
    assert "Nothing new" in again.stdout and state(hub) == before

    infocentre(hub, "bundle", "export", "--for", ids[a], str(tmp_path / "a-back"))
    assert json.loads(infocentre(a, "sync", "status", "--json").stdout)["last_success"] is None
    out = infocentre(a, "bundle", "import", str(tmp_path / "a-back"), "--json")
    assert json.loads(out.stdout)["acks"] == 3
    status = json.loads(infocentre(a, "sync", "status", "--json").stdout)
    assert status["last_success"] and status["pending_changes"] == 0  # the sync page says so
    assert db_rows(a, "SELECT count(*) FROM _sync_clock c, _sync_state s WHERE c.node = "
                   "s.node_idx AND c.seq > s.acked") == [(0,)]  # nothing left to send
    assert "Nothing new" in infocentre(a, "bundle", "import", str(tmp_path / "a-back")).stdout
    infocentre(hub, "bundle", "export", "--for", ids[b], str(tmp_path / "b-back"))
    infocentre(b, "bundle", "import", str(tmp_path / "b-back"))
    assert sorted(db_rows(b, "SELECT name FROM centres")) == sorted(db_rows(hub, "SELECT name FROM "
                                                                         "centres"))
    assert db_rows(b, "SELECT count(*) FROM accounts") == [(0,)]  # a's people stay in a's scope

    # Refusals: one line, exit 1, nothing changed.
    good = (tmp_path / "a.bundle").read_bytes()
    middle = len(good) // 2
    (tmp_path / "flipped").write_bytes(good[:middle] + bytes([good[middle] ^ 1])
                                       + good[middle + 1:])
    (tmp_path / "cut").write_bytes(good[:-20])
    (tmp_path / "notes.txt").write_text("Acta de la minga\n")
    before_hub, before_b = state(hub), state(b)
    for where, name, message in [
            (hub, "flipped", "damaged or was altered"), (hub, "cut", "incomplete"),
            (hub, "notes.txt", "not an Infocentre bundle"), (b, "a-back", "another centre"),
            (a, "a.bundle", "for the other side")]:
        result = infocentre(where, "bundle", "import", str(tmp_path / name), check=False)
        assert result.returncode == 1 and message in result.stderr, (name, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("infocentre: ")
    infocentre(hub, "hub", "revoke-node", ids[a])
    result = infocentre(hub, "bundle", "import", str(tmp_path / "a.bundle"), check=False)
    assert result.returncode == 1 and "revoked" in result.stderr
    assert state(hub) == before_hub and state(b) == before_b
    assert db_rows(hub, "PRAGMA integrity_check") == [("ok",)]
    result = infocentre(hub, "bundle", "export", str(tmp_path / "x"), check=False)
    assert result.returncode == 1 and "--for" in result.stderr


def test_the_import_command_exits_4_when_the_hub_refuses_a_batch_stamped_ahead(tmp_path):
    hub, a = tmp_path / "hub", tmp_path / "a"
    infocentre(hub, "init", "--role", "hub", "--name", "Hub")
    a_id = join_centre(hub, a, "Centro")[0]
    with sqlite3.connect(a / "infocentre.db") as db:
        db.execute("UPDATE _sync_state SET offset_ms = 86400000")  # a day fast
        db.execute("INSERT INTO accounts (id, centre_id, name, role, lang, created_at, "
                   "updated_at) VALUES ('acc', ?, 'Rosa', 'villager', 'es', '2026', '2026')",
                   [a_id])
    infocentre(a, "bundle", "export", str(tmp_path / "up"))
    result = infocentre(hub, "bundle", "import", str(tmp_path / "up"), check=False)
    assert result.returncode == 4 and "clock is ahead" in result.stderr
    assert db_rows(hub, "SELECT count(*) FROM accounts WHERE id = 'acc'") == [(0,)]
    infocentre(hub, "bundle", "export", "--for", a_id, str(tmp_path / "down"))
    assert "new times" in infocentre(a, "bundle", "import", str(tmp_path / "down")).stdout
    infocentre(a, "bundle", "export", str(tmp_path / "up2"))
    assert infocentre(hub, "bundle", "import", str(tmp_path / "up2")).returncode == 0
    assert db_rows(hub, "SELECT name FROM accounts WHERE id = 'acc'") == [("Rosa",)]
