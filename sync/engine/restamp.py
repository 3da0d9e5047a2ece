"""Correcting a node's stamps when its clock turns out to be wrong (DESIGN property 5;
sync/README.md, "Clocks").

A node stamps its changes with its clock plus the offset to the hub it last measured. When the
hub's time shows that the clock ran ahead by some amount (the *skew*), the node's changes that
the hub cannot have applied move back by that amount, so an edit keeps its true place in time:
a PC a year fast that edited offline does not beat the honest edits made before its next sync.
Shifting keeps their order, never goes below a stamp that can no longer move (``fixed_hlc``:
applied from others, or acknowledged), and never leaves a stamp past the hub's time.

The batch in flight may already be at the hub (its reply lost), so it keeps its stamps; the
correction it would need is kept (``owed_ms``) and applied if the hub refuses it. All of this
runs only when a clock was wrong: in the common case a reply costs one read of ``_sync_state``.
"""

from __future__ import annotations

import contextlib
import json

from sqlite_utils import Database

from .changes import is_int
from .clock import MAX_AHEAD_MS, OFFSET_TOLERANCE_MS, pack, physical_ms
from .state import immediate, read_state

SHIFT_CHUNK = 5000


def is_time(value) -> bool:
    return is_int(value) and 0 < value < 2**47  # milliseconds since 1970


def note_hub_time(db: Database, hub_time: int, wall_ms: int, *, refused: bool = False,
                  transaction: bool = True, measured: bool = True) -> bool:
    """Learn the offset to the hub's clock, and correct the stamps of this node's changes the
    hub cannot have applied. Returns whether any moved.

    :param refused: the hub refused the batch in flight as stamped ahead (clock_ahead): it
        applied none of it, so its stamps move too, by what they are owed.
    :param measured: ``hub_time`` is the hub's time now (a reply); False for a bundle's, which
        is as old as the bundle: it moves the offset forward only, and corrects nothing but
        stamps past it.
    """
    if not is_time(hub_time):
        from ..errors import Malformed

        raise Malformed("the hub's time is not understood")
    with immediate(db) if transaction else contextlib.nullcontext():
        state = read_state(db)
        old = state["offset_ms"]
        offset = hub_time - wall_ms
        if abs(offset - old) <= OFFSET_TOLERANCE_MS or (not measured and offset < old):
            offset = old
        skew = old - offset  # > 0: this node's stamps ran ahead by that much
        inflight = json.loads(state["inflight"]) if state["inflight"] else None
        owed = state["owed_ms"]
        shifts = []  # (after seq, up to seq or None, milliseconds back)
        if inflight and not refused:
            floor = inflight["to"]
            if skew > 0:
                owed += skew
                shifts.append((floor, None, skew))
        else:
            floor = state["acked"]
            if inflight and owed + max(skew, 0) > 0:
                shifts.append((state["acked"], inflight["to"], owed + max(skew, 0)))
            if skew > 0:
                shifts.append((inflight["to"] if inflight else state["acked"], None, skew))
            owed = 0
        if offset != old or owed != state["owed_ms"]:
            db.execute("UPDATE _sync_state SET offset_ms = ?, owed_ms = ? WHERE id = 1",
                       [offset, owed])
        node = state["node_idx"]
        margin = MAX_AHEAD_MS if refused else MAX_AHEAD_MS // 2
        # This node's unsent stamps rise with their sequence: the last one is the latest.
        last = db.execute("SELECT hlc FROM _sync_clock WHERE seq > ? AND node = ? ORDER BY seq "
                          "DESC LIMIT 1", [floor, node]).fetchone()
        ahead = last is not None and physical_ms(last[0]) - max(skew, 0) > hub_time + margin
        if not (shifts or ahead):
            return False
        for after, upto, ms in shifts:
            db.execute("UPDATE _sync_clock SET hlc = hlc - ? WHERE seq > ? AND seq <= ? "
                       "AND node = ?", [pack(ms), after, upto or 2**62, node])
        if ahead:
            _cap(db, node, floor, hub_time, margin)
        start = state["acked"] if refused or not inflight else inflight["to"]
        raise_floor(db, node, start, read_state(db)["fixed_hlc"])
        _settle_clock(db, node, state["acked"])
        return True


def _cap(db: Database, node: int, floor: int, hub_time: int, margin: int) -> None:
    """Changes still stamped past the hub's time (the clock was put right before this sync, so
    no skew shows): those from the first one ahead on move back together, the last landing at
    the hub's time."""
    threshold = pack(hub_time + margin)
    first = db.execute("SELECT min(seq) FROM _sync_clock WHERE seq > ? AND node = ? AND hlc > ?",
                       [floor, node, threshold]).fetchone()[0]
    if first is None:
        return
    top = db.execute("SELECT max(hlc) FROM _sync_clock WHERE seq >= ? AND node = ?",
                     [first, node]).fetchone()[0]
    db.execute("UPDATE _sync_clock SET hlc = hlc - ? WHERE seq >= ? AND node = ?",
               [top - pack(hub_time), first, node])
    # They stay after the change before them.
    before = db.execute("SELECT seq, hlc FROM _sync_clock WHERE seq > ? AND seq < ? AND node = ? "
                        "ORDER BY seq DESC LIMIT 1", [floor, first, node]).fetchone()
    if before:
        raise_floor(db, node, before[0], before[1])


def raise_floor(db: Database, node: int, after: int, fixed: int) -> None:
    """Keep this node's stamps after sequence ``after`` above ``fixed`` and in their order
    (one stamp per sequence number, as captured)."""
    previous = fixed
    while True:
        groups = db.execute("SELECT seq, max(hlc) FROM _sync_clock WHERE seq > ? AND node = ? "
                            "GROUP BY seq ORDER BY seq LIMIT ?",
                            [after, node, SHIFT_CHUNK]).fetchall()
        updates = []
        for seq, hlc in groups:
            if hlc > previous:
                break
            previous += 1
            updates.append((previous, seq, node))
        else:
            if updates:
                db.conn.executemany("UPDATE _sync_clock SET hlc = ? WHERE seq = ? AND node = ?",
                                    updates)
            if len(groups) == SHIFT_CHUNK:
                after = groups[-1][0]
                continue
            return
        db.conn.executemany("UPDATE _sync_clock SET hlc = ? WHERE seq = ? AND node = ?",
                            updates)
        return


def _settle_clock(db: Database, node: int, acked: int) -> None:
    """After a correction: the clock goes on from the latest stamp that remains."""
    latest = db.execute("SELECT max(hlc) FROM _sync_clock WHERE seq > ? AND node = ?",
                        [acked, node]).fetchone()[0]
    db.execute("UPDATE _sync_state SET hlc = max(fixed_hlc, ?) WHERE id = 1", [latest or 0])


def note_acked(db: Database, node: int, after: int, upto: int) -> bool:
    """The hub acknowledged this node's changes after ``after`` up to ``upto``: their stamps
    can no longer move, and the changes that follow stay above them (returns whether any of
    those moved). Call inside a transaction."""
    top = db.execute("SELECT max(hlc) FROM _sync_clock WHERE seq > ? AND seq <= ? AND node = ?",
                     [after, upto, node]).fetchone()[0]
    if top is None:
        return False
    db.execute("UPDATE _sync_state SET fixed_hlc = max(fixed_hlc, ?) WHERE id = 1", [top])
    following = db.execute("SELECT hlc FROM _sync_clock WHERE seq > ? AND node = ? ORDER BY seq "
                           "LIMIT 1", [upto, node]).fetchone()
    if following and following[0] <= top:
        raise_floor(db, node, upto, read_state(db)["fixed_hlc"])
        return True
    return False
