"""The engine's rules one by one (DESIGN, "Sync: the properties that matter"), in-process."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time

import pytest

from sync.engine import build_request, pending, process_reply, purge, serve_exchange
from sync.engine.clock import physical_ms, wall_ms
from sync.errors import ClockAhead, ForgedOrigin, Malformed, SchemaTooOld

from .sync_world import World, clone_db


def nodes(world):
    return list(world.nodes.values())


def clock(replica, pk):
    return {col: (hlc, seq) for col, hlc, seq in replica.db.execute(
        "SELECT col, hlc, seq FROM _sync_clock WHERE pk = ?", [pk])}


# Property 1: nothing escapes capture; applied changes are not captured again.


def test_inserts_updates_and_deletes_are_captured_per_column(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title, body) VALUES ('n', ?, 't', 'b')",
                 [a.node_id])
    assert set(clock(a, "n")) == {0}  # one row version for an insert
    a.db.execute("UPDATE notes SET body = 'b2' WHERE id = 'n'")
    assert len(clock(a, "n")) == 2  # and one for the changed column only
    a.db.execute("UPDATE notes SET body = 'b2' WHERE id = 'n'")  # no change, nothing recorded
    assert pending(a.db) == 2
    a.db.execute("DELETE FROM notes WHERE id = 'n'")
    assert set(clock(a, "n")) == {-1}  # a tombstone, and nothing else


def test_a_write_made_with_the_sqlite3_command_line_tool_is_captured(world):
    if not shutil.which("sqlite3"):
        pytest.skip("the sqlite3 command-line tool is not installed")
    a, b = nodes(world)[:2]
    a.db.close()
    subprocess.run(["sqlite3", str(a.path), "INSERT INTO notes (id, centre_id, title) VALUES "
                    f"('cli', '{a.node_id}', 'typed at the prompt');"], check=True)
    a.reopen()
    assert pending(a.db) == 1
    world.sync(a)
    world.sync(b)
    assert b.rows("notes")["cli"][1] == "typed at the prompt"


def test_changes_applied_from_the_hub_are_not_captured_again(world):
    a, b = nodes(world)[:2]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    world.sync(a)
    world.sync(b)
    assert b.rows("notes") and pending(b.db) == 0


def test_insert_or_replace_cannot_turn_a_row_into_a_tombstone(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'first')",
                 [a.node_id])
    # sqlite-utils turns recursive triggers on: REPLACE deletes (a tombstone) then inserts.
    # The insert is refused, so the row is never deleted everywhere by accident.
    with pytest.raises(sqlite3.IntegrityError, match="never INSERT OR REPLACE"):
        a.db.execute("INSERT OR REPLACE INTO notes (id, centre_id, title) VALUES ('n', ?, 'x')",
                     [a.node_id])
    assert a.rows("notes")["n"][1] == "first" and -1 not in clock(a, "n")
    # Without recursive triggers (the sqlite3 tool's default) REPLACE is a whole-row update.
    a.db.execute("PRAGMA recursive_triggers = off")
    a.db.execute("INSERT OR REPLACE INTO notes (id, centre_id, title) VALUES ('n', ?, 'second')",
                 [a.node_id])
    assert a.rows("notes")["n"][1] == "second" and -1 not in clock(a, "n")


def test_ids_never_change_and_deleted_ids_never_come_back(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id) VALUES ('n', ?)", [a.node_id])
    with pytest.raises(sqlite3.IntegrityError, match="cannot change"):
        a.db.execute("UPDATE notes SET id = 'm' WHERE id = 'n'")
    a.db.execute("DELETE FROM notes WHERE id = 'n'")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be used again"):
        a.db.execute("INSERT INTO notes (id, centre_id) VALUES ('n', ?)", [a.node_id])


def test_a_centre_cannot_change_another_centres_rows(world):
    a, b = nodes(world)[:2]
    a.db.execute("INSERT INTO tales (id, centre_id, text, consent) VALUES ('s', ?, 'mine', "
                 "'public')", [a.node_id])
    world.sync(a)
    world.sync(b)
    assert "s" in b.rows("tales")
    with pytest.raises(sqlite3.IntegrityError, match="another centre"):
        b.db.execute("UPDATE tales SET text = 'changed' WHERE id = 's'")
    with pytest.raises(sqlite3.IntegrityError, match="another centre"):
        b.db.execute("INSERT INTO diary (id, centre_id) VALUES ('d', ?)", [a.node_id])


def test_local_columns_never_leave_the_centre(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO tales (id, centre_id, text, secret) VALUES ('s', ?, 't', "
                 "'only here')", [a.node_id])
    request = build_request(a.db, a.catalog, schema=1)
    assert "only here" not in json.dumps(request)
    world.sync(a)
    assert world.hub.db.execute("SELECT secret FROM tales").fetchone() == (None,)


# Properties 3 and 4: no lost writes; deletes stick.


def test_concurrent_edits_to_different_fields_both_survive(world):
    a, b, c = nodes(world)
    a.db.execute("INSERT INTO notes (id, centre_id, title, body) VALUES ('n', ?, 't', 'b')",
                 [a.node_id])
    world.sync_all()
    a.db.execute("UPDATE notes SET title = 'from A' WHERE id = 'n'")
    b.db.execute("UPDATE notes SET body = 'from B' WHERE id = 'n'")
    world.sync_all()
    for replica in (a, b, c, world.hub):
        assert replica.rows("notes")["n"][1:3] == ("from A", "from B")


def test_same_field_edits_get_the_same_winner_whatever_the_order(template, tmp_path):
    winners = set()
    for order in ((0, 1), (1, 0)):
        root = tmp_path / f"order{order[0]}"
        root.mkdir()
        world = World.create(root, template, 2)
        a, b = nodes(world)
        a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')",
                     [a.node_id])
        world.sync_all()
        a.db.execute("UPDATE notes SET title = 'A' WHERE id = 'n'")
        time.sleep(0.01)  # within one millisecond the two are concurrent: node ids decide
        b.db.execute("UPDATE notes SET title = 'B' WHERE id = 'n'")
        for i in order:
            world.sync(nodes(world)[i])
        world.sync_all()
        values = {r.rows("notes")["n"][1] for r in (a, b, world.hub)}
        assert len(values) == 1
        winners |= values
        world.close()
    assert winners == {"B"}  # B wrote last: the later clock wins, in either sync order


def test_a_delete_wins_over_any_edit_whatever_its_clock(world):
    a, b, c = nodes(world)
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    world.sync_all()
    a.db.execute("DELETE FROM notes WHERE id = 'n'")
    b.db.execute("UPDATE _sync_state SET offset_ms = 240000")  # four minutes fast
    b.db.execute("UPDATE notes SET title = 'edited after the delete' WHERE id = 'n'")
    world.sync(b)
    world.sync(a)
    world.sync_all()
    for replica in (a, b, c, world.hub):
        assert "n" not in replica.rows("notes")


# Property 6: idempotent, resumable, atomic; restores and clones.


def test_a_batch_applied_twice_is_answered_with_its_original_acknowledgement(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    request = build_request(a.db, a.catalog, schema=1)
    first = world.exchange(a, request)
    seq_before = world.hub.db.execute("SELECT seq FROM _sync_state").fetchone()[0]
    again = world.exchange(a, request)
    assert again["ack"] == first["ack"]
    assert world.hub.db.execute("SELECT seq FROM _sync_state").fetchone()[0] == seq_before
    assert world.hub.db.execute("SELECT replays FROM _sync_batches").fetchone() == (1,)


def test_a_lost_reply_resends_the_same_batch_only(world):
    a = nodes(world)[0]
    for i in range(20):
        a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES (?, ?, 't')",
                     [f"n{i}", a.node_id])
    world.sync(a, lose_reply_at=2)  # batches of 7: the second reply is lost
    batches = world.hub.db.execute("SELECT count(*), sum(replays) FROM _sync_batches").fetchone()
    assert batches == (3, 1)  # three batches; the second sent twice, applied once
    assert len(world.hub.rows("notes")) == 20


def test_a_batch_acknowledged_before_the_hub_noted_senders_is_still_a_replay(world):
    """A hub upgraded while a centre's reply was lost: the batches it stored before it noted
    which copy sent each one (m0006) are replays for the centre that sends them again, not a
    sign of a clone (which would cost it a new identity and a full resynchronisation)."""
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    world.sync(a, lose_reply_at=1, cut_after=1)
    world.hub.db.execute("UPDATE _sync_batches SET instance = NULL")  # stored before m0006
    world.sync(a)
    assert world.hub.db.execute("SELECT count(*), sum(replays) FROM _sync_batches").fetchone() \
        == (1, 1)
    assert "renew_instance" not in world.events
    assert list(world.hub.rows("notes")) == ["n"] and pending(a.db) == 0


def test_a_restored_backup_gets_a_new_instance_and_loses_nothing(world):
    a, b = nodes(world)[:2]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('old', ?, 'before')",
                 [a.node_id])
    world.sync(a)
    clone_db(a.path, a.path.with_suffix(".backup"))
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('new', ?, 'after backup')",
                 [a.node_id])
    world.sync(a)
    old_instance = a.db.execute("SELECT instance_id FROM _sync_state").fetchone()[0]
    a.db.close()
    clone_db(a.path.with_suffix(".backup"), a.path)  # the disk died; the backup comes back
    a.reopen()
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('newer', ?, 'after restore')",
                 [a.node_id])
    world.sync(a)
    world.sync(b)
    assert a.db.execute("SELECT instance_id FROM _sync_state").fetchone()[0] != old_instance
    for replica in (a, b, world.hub):
        assert set(replica.rows("notes")) == {"old", "new", "newer"}


# Property 5: wrong clocks are survivable.


def test_stamps_too_far_ahead_are_refused_and_leave_the_hub_unchanged(world):
    a = nodes(world)[0]
    a.db.execute("UPDATE _sync_state SET offset_ms = ?", [3_600_000])  # an hour fast
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    request = build_request(a.db, a.catalog, schema=1)
    before = world.hub.db.execute("SELECT count(*) FROM _sync_clock").fetchone()
    with pytest.raises(ClockAhead) as refused:
        world.exchange(a, request)
    assert abs(refused.value.extra["hub_time"] - wall_ms()) < 5000
    assert world.hub.db.execute("SELECT count(*) FROM _sync_clock").fetchone() == before
    world.sync(a)  # re-stamped at the hub's time, then accepted
    assert "n" in world.hub.rows("notes")
    stamped = world.hub.db.execute("SELECT max(hlc) FROM _sync_clock").fetchone()[0]
    assert physical_ms(stamped) <= wall_ms() + 5 * 60_000


# Property 7: scoped.


def test_scopes_decide_who_receives_what(world):
    a, b, _ = nodes(world)
    a.db.execute("INSERT INTO notes (id, centre_id) VALUES ('region', ?)", [a.node_id])
    a.db.execute("INSERT INTO diary (id, centre_id, entry) VALUES ('mine', ?, 'private')",
                 [a.node_id])
    a.db.execute("INSERT INTO tales (id, centre_id, text) VALUES ('s', ?, 'kept home')",
                 [a.node_id])
    world.sync_all()
    assert set(b.rows("notes")) == {"region"}
    assert b.rows("diary") == {} and b.rows("tales") == {}
    assert set(world.hub.rows("diary")) == {"mine"}  # learning records reach the hub


def test_a_story_entering_scope_arrives_whole_and_leaving_it_goes_without_a_tombstone(world):
    a, b, _ = nodes(world)
    a.db.execute("INSERT INTO tales (id, centre_id, text) VALUES ('s', ?, 'a memory')",
                 [a.node_id])
    world.sync_all()
    a.db.execute("UPDATE tales SET text = 'a memory, retold' WHERE id = 's'")
    world.sync_all()
    a.db.execute("UPDATE tales SET consent = 'public' WHERE id = 's'")
    world.sync_all()
    assert b.rows("tales")["s"][1:] == ("a memory, retold", "public")  # whole
    a.db.execute("UPDATE tales SET consent = 'private' WHERE id = 's'")
    world.sync_all()
    assert b.rows("tales") == {}
    assert b.db.execute("SELECT count(*) FROM _sync_clock WHERE pk = 's'").fetchone() == (0,)
    assert "s" in a.rows("tales") and "s" in world.hub.rows("tales")


def test_a_node_is_not_sent_back_what_it_sent(world):
    a = nodes(world)[0]
    for i in range(10):
        a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES (?, ?, 't')",
                     [f"n{i}", a.node_id])
    world.sync(a)
    request = build_request(a.db, a.catalog, schema=1)
    reply = world.exchange(a, request)
    assert reply["pull"]["changes"]["tables"] == []


# Properties 6 and 8: apply never stalls; refusals change nothing.


def test_a_row_that_cannot_be_applied_is_quarantined_and_the_rest_goes_on(template, tmp_path):
    world = World.create(tmp_path, template, 2)
    a, b = nodes(world)
    # Node b's copy of the table refuses empty titles (an older or stricter schema).
    b.db.execute("CREATE TRIGGER strict BEFORE INSERT ON notes WHEN NEW.title = '' BEGIN "
                 "SELECT RAISE(ABORT, 'empty title'); END")
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('bad', ?, '')", [a.node_id])
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('good', ?, 'ok')",
                 [a.node_id])
    world.sync(a)
    world.sync(b)
    assert set(b.rows("notes")) == {"good"}
    assert b.db.execute("SELECT table_name, pk, reason FROM _sync_quarantine").fetchone()[:2] == (
        "notes", "bad")
    assert pending(b.db) == 0 and world.sync(b) == 1  # not retried for ever
    world.close()


def test_a_row_claimed_by_two_centres_is_quarantined_at_the_hub(world):
    a, b, _ = nodes(world)
    a.db.execute("INSERT INTO diary (id, centre_id, entry) VALUES ('same', ?, 'a')", [a.node_id])
    b.db.execute("INSERT INTO diary (id, centre_id, entry) VALUES ('same', ?, 'b')", [b.node_id])
    world.sync(a)
    world.sync(b)
    assert world.hub.rows("diary")["same"][0] == a.node_id
    reason = world.hub.db.execute("SELECT reason FROM _sync_quarantine").fetchone()[0]
    assert "may not change" in reason


@pytest.mark.parametrize("tamper, error", [
    (lambda r: r.update(schema=0), SchemaTooOld),
    (lambda r: r.update(node="someone-else"), ForgedOrigin),
    (lambda r: r["batch"]["changes"].update(nodes=["someone-else"]), ForgedOrigin),
    (lambda r: r["batch"]["changes"]["tables"][0].update(name="accounts"), Malformed),
    (lambda r: r["batch"]["changes"]["tables"][0].update(columns=["secret"]), Malformed),
    (lambda r: r.update(cursor=-1), Malformed),
    (lambda r: r["batch"].update(to="many"), Malformed),
])
def test_refused_requests_change_nothing_at_the_hub(world, tamper, error):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO tales (id, centre_id, text) VALUES ('s', ?, 't')", [a.node_id])
    request = json.loads(json.dumps(build_request(a.db, a.catalog, schema=1)))
    tamper(request)
    before = world.hub.db.execute("SELECT seq, (SELECT count(*) FROM _sync_clock) FROM "
                                  "_sync_state").fetchone()
    with pytest.raises(error):
        serve_exchange(world.hub.db, world.hub.catalog, request, node_id=a.node_id,
                       now_ms=wall_ms(), min_schema=1)
    assert world.hub.db.execute("SELECT seq, (SELECT count(*) FROM _sync_clock) FROM "
                                "_sync_state").fetchone() == before
    assert world.hub.db.execute("SELECT count(*) FROM _sync_batches").fetchone() == (0,)


# Purge.


def test_purge_keeps_deleted_ids_for_ever_and_never_drops_unsent_tombstones(world):
    a, b, _ = nodes(world)
    a.db.execute("INSERT INTO notes (id, centre_id) VALUES ('gone', ?)", [a.node_id])
    world.sync_all()
    a.db.execute("DELETE FROM notes WHERE id = 'gone'")
    later = wall_ms() + 100 * 24 * 3600 * 1000
    assert purge(a.db, now_ms=later)["tombstones"] == 0  # not acknowledged yet: kept
    world.sync(a)
    assert purge(a.db, now_ms=later)["tombstones"] == 1
    assert purge(world.hub.db, now_ms=later)["tombstones"] == 1
    assert world.hub.db.execute("SELECT pk FROM _sync_deleted").fetchall() == [("gone",)]
    world.sync(b)  # b was behind the purge: pushes, then resynchronises fully
    assert "resync" in world.events and "gone" not in b.rows("notes")
    with pytest.raises(sqlite3.IntegrityError, match="cannot be used again"):
        world.hub.db.execute("INSERT INTO notes (id, centre_id) VALUES ('gone', 'x')")


# Upgrades: the hub is upgraded before its centres, and centres one by one.


def notes_with_mood(replica):
    return dict(replica.db.execute("SELECT id, mood FROM notes"))


def test_a_centre_one_version_behind_the_hub_keeps_syncing_and_catches_up_when_upgraded(world):
    a, b, c = nodes(world)
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n1', ?, 'first')", [a.node_id])
    world.sync_all()

    # A centre upgraded before its hub is refused clearly and keeps its change.
    c.upgrade()
    c.db.execute("INSERT INTO notes (id, centre_id, title, mood) VALUES ('n3', ?, 'c', 'sunny')",
                 [c.node_id])
    hub_seq = world.hub.db.execute("SELECT seq FROM _sync_state").fetchone()[0]
    with pytest.raises(Malformed, match="Upgrade the hub"):
        world.sync(c)
    assert world.hub.db.execute("SELECT seq FROM _sync_state").fetchone()[0] == hub_seq

    world.hub.upgrade()
    world.hub.db.execute("UPDATE notes SET mood = 'happy' WHERE id = 'n1'")
    world.hub.db.execute("INSERT INTO notes (id, centre_id, title, mood) VALUES "
                         "('n2', 'hub', 'second', 'calm')")
    world.hub.db.execute("INSERT INTO events (id, centre_id, what) VALUES ('e1', 'hub', 'fair')")
    world.sync(c)  # now the hub knows moods

    # Centre a is still on the old version: it receives what it understands, and goes on.
    world.sync(a)
    assert set(a.rows("notes")) == {"n1", "n2", "n3"}
    a.db.execute("UPDATE notes SET title = 'first, edited' WHERE id = 'n1'")
    world.sync(a)

    a.upgrade()
    assert a.db.execute("SELECT cursor, fresh FROM _sync_state").fetchone() == (
        0, '{"notes": ["mood"]}')
    world.sync(a)
    assert notes_with_mood(a) == {"n1": "happy", "n2": "calm", "n3": "sunny"}
    assert a.db.execute("SELECT what FROM events").fetchall() == [("fair",)]
    assert a.db.execute("SELECT fresh FROM _sync_state").fetchone() == (None,)

    # From now on a mood written at the centre is an ordinary edit that wins by its clock.
    a.db.execute("UPDATE notes SET mood = 'tired' WHERE id = 'n2'")
    b.upgrade()
    world.sync_all()
    for replica in (a, b, c):
        assert notes_with_mood(replica) == notes_with_mood(world.hub) == {
            "n1": "happy", "n2": "tired", "n3": "sunny"}
        assert replica.rows("notes")["n1"][1] == "first, edited"
        assert replica.integrity() == "ok"


def test_a_hub_answer_the_centre_cannot_read_changes_nothing_there(world):
    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 't')", [a.node_id])
    request = build_request(a.db, a.catalog, schema=1)
    before = a.db.execute("SELECT acked, cursor, inflight FROM _sync_state").fetchone()
    for reply in ({"ok": True}, {"ok": True, "hub_time": "soon"}, {"ok": True, "hub_time": 1,
                  "ack": "yes"}, {"ok": True, "hub_time": wall_ms(), "ack": None,
                                  "pull": {"cursor": 5, "changes": {"tables": [{"name": 3}]}}}):
        with pytest.raises(Malformed):
            process_reply(a.db, a.catalog, request, reply, wall_ms=wall_ms())
        assert a.db.execute("SELECT acked, cursor, inflight FROM _sync_state").fetchone() == before


def test_a_whole_row_whose_column_versions_are_older_than_the_batch_still_travels(world):
    """A row sent whole carries its columns' own versions; one older than every entry of the
    batch (moved back when a fast clock was put right) was encoded as a negative difference,
    and the hub refused the batch as malformed for ever (found by the stateful test)."""
    from sync.engine.changes import Entry, decode, encode

    a = nodes(world)[0]
    a.db.execute("INSERT INTO notes (id, centre_id, title) VALUES ('n', ?, 'uno')", [a.node_id])
    a.db.execute("UPDATE notes SET score = 3 WHERE id = 'n'")
    tid = a.catalog.table_ids["notes"]
    row_hlc = a.db.execute("SELECT hlc FROM _sync_clock WHERE tbl = ? AND pk = 'n' AND col = 0",
                           [tid]).fetchone()[0]
    a.db.execute("UPDATE _sync_clock SET hlc = ? WHERE tbl = ? AND pk = 'n' AND col > 0",
                 [row_hlc - (1 << 20), tid])
    node_idx, seq = a.db.execute("SELECT node, seq FROM _sync_clock WHERE tbl = ? AND pk = 'n' "
                                 "AND col = 0", [tid]).fetchone()
    changeset = encode(a.db, a.catalog, [Entry(tid, "n", 0, row_hlc, node_idx, seq)])
    [change] = decode(json.loads(json.dumps(changeset)), a.catalog)
    assert change.pk == "n"
    world.sync(a)
    assert "n" in world.hub.rows("notes")

