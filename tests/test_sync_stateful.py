"""A stateful property test of the whole sync against a real hub (issue 13).

Hypothesis drives centres' PCs that write, delete, go offline, get clocks a year wrong, restore
backups, get cloned onto a second PC, and sync, with writes landing *during* syncs (between two
exchanges, and between the reads of one batch), against a real hub app served by waitress on
127.0.0.1 and reached with the real signed client. Syncs are cut before a request or after the
hub applied it. The hub itself may be put back from a backup. After a quiet round every replica
equals the hub within its scope, and the hub equals the model:

- no acknowledged write is lost (what a restore legitimately loses: a PC's writes the hub never
  acknowledged, made after the backup that came back);
- no deleted row is back;
- the latest honest edit of each field is kept: only an edit made after it may take its place
  (or within half a second before it: a corrected clock is only as precise as a round trip, so
  edits that close are concurrent), never a year-fast edit made earlier.

200 examples by default; ``HYPOTHESIS_PROFILE=thorough`` runs 2,000.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from sync.client import HubClient, sync_now
from sync.engine import purge
from sync.engine.clock import physical_ms, wall_ms
from sync.engine.purge import DAY_MS
from sync.errors import Unreachable

from .sync_world import COLUMNS, TABLES, Replica, clone_db
from .thread_hub import Hub, templates

pytestmark = pytest.mark.live

YEAR_MS = 365 * DAY_MS
KEYS = ["k0", "k1", "k2", "k3"]  # a small pool: centres collide on ids (natural keys)
OWNED = ("diary", "tales")  # ids there belong to one centre, as the data model says
# Text for text columns, numbers for the number column (SQLite would turn 3 into '3' in a text
# column, which is not what a model of the values would say).
TEXTS = st.one_of(st.none(), st.sampled_from(["a", "b", "ñu", "دال", "", "3"]))
NUMBERS = st.one_of(st.none(), st.integers(-3, 3))
VALUES = st.tuples(TEXTS, NUMBERS)
EXAMPLES = int(os.environ.get("SYNC_MACHINE_EXAMPLES", 0)) or (
    2000 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 200)
NOISE_MS = 500  # a corrected clock lands within this of the truth (a round trip: milliseconds)


# The world: a hub served for real (tests/thread_hub.py), and PCs.


class FaultyClient(HubClient):
    """The real client, whose link dies at one exchange (``cut_at``, counted from 1): before the
    request leaves (``lose`` False) or after the hub answered it (``lose`` True)."""

    def __init__(self, *args, cut_at=None, lose=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.cut_at, self.lose, self.count = cut_at, lose, 0

    def exchange(self, payload, time_ms, packed=None):
        self.count += 1
        if self.count == self.cut_at and not self.lose:
            raise Unreachable("cut before sending", reason="no_answer")
        reply = super().exchange(payload, time_ms, packed)
        if self.count == self.cut_at:
            raise Unreachable("the reply was lost", reason="no_answer")
        return reply


@dataclass(eq=False)
class Edit:
    """One write, as the model sees it: where it is held, and whether the hub has it."""

    pc: str
    table: str
    pk: str
    kind: str  # insert, update, delete
    values: dict
    at: int  # real time, ms
    honest: bool  # made with a right clock, not dragged ahead
    seq: int | None  # the PC's sequence number after it (None at the hub)
    holders: set = field(default_factory=set)  # PCs whose database has it
    acked_at: int | None = None  # the step at which the hub acknowledged it

    @property
    def lost(self) -> bool:
        """Neither at the hub nor on any PC: a restore took it, legitimately."""
        return self.acked_at is None and not self.holders


@dataclass
class PC:
    name: str
    replica: Replica
    owner: int  # the centre's number (a clone shares it)
    backup: Path | None = None
    backup_holds: set = field(default_factory=set)  # the edits its backup holds


def pick(column: str, value: tuple):
    """The value a write puts in ``column``, of the column's type."""
    text, number = value
    if column == "consent":
        return "public" if text else "private"
    return number if column == "score" else text


def owned_key(table: str, key: str, owner: int) -> str:
    return f"{owner}-{key}" if table in OWNED else key


class SyncMachine(RuleBasedStateMachine):
    pcs = Bundle("pcs")

    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="sync-machine-"))
        self.hub = Hub(self.tmp / "hub")
        self.template = templates()["node"]
        self.centres: list[tuple[str, str]] = []  # (node id, token) of each centre
        self.all_pcs: list[PC] = []
        self.edits: list[Edit] = []
        self.hub_backup: Path | None = None
        self.hub_mode = None  # "edits" or "restores": a restored hub loses its own edits
        self.last_ms = 0
        self.waited = False
        self.unnoticed_restore = None  # the epoch of a restored hub that has not noticed yet
        self.step = 0  # counts the rules run: when things happened, for the model
        self.hub_backup_step = 0

    @invariant()
    def tick(self):
        self.step += 1

    # Set-up.

    @rule(target=pcs)
    @precondition(lambda self: len(self.centres) < 3 and self.hub_backup is None)
    def new_centre(self):
        number = len(self.centres)
        node_id, token = self.hub.register(f"Centro {number}")
        self.centres.append((node_id, token))
        path = self.tmp / f"pc{len(self.all_pcs)}.db"
        shutil.copyfile(self.template, path)
        pc = PC(path.stem, Replica(path, node_id, "node"), number)
        self.all_pcs.append(pc)
        return pc

    @rule(target=pcs, source=pcs)
    @precondition(lambda self: 0 < len(self.all_pcs) < 5)
    def clone_pc(self, source):
        """A second PC of the centre, set up from the first one's disk."""
        path = self.tmp / f"pc{len(self.all_pcs)}.db"
        clone_db(source.replica.path, path)
        pc = PC(path.stem, Replica(path, source.replica.node_id, "node"), source.owner)
        for edit in self.edits:  # the copy holds what the disk held
            if source.name in edit.holders:
                edit.holders.add(pc.name)
        self.all_pcs.append(pc)
        return pc

    # Writes.

    def _now(self) -> int:
        """Real time for the next write, at least 2 ms after the last one (an order)."""
        while wall_ms() < self.last_ms + 2:
            time.sleep(0.001)
        self.last_ms = wall_ms()
        return self.last_ms

    @staticmethod
    def _honest(db) -> bool:
        offset, hlc = db.execute("SELECT offset_ms, hlc FROM _sync_state").fetchone()
        return abs(offset) < 2000 and physical_ms(hlc) <= wall_ms() + 200

    def write(self, pc: PC, table: str, key: str, owner: int, column: int, value,
              db=None) -> None:
        pk = owned_key(table, key, owner)
        cols = COLUMNS[table]
        col = cols[column % len(cols)]
        value = pick(col, value)
        db = db or pc.replica.db.conn
        honest, at = self._honest(db), self._now()
        exists = db.execute(f"SELECT 1 FROM {table} WHERE id = ?", [pk]).fetchone()
        try:
            if exists:
                # Writing the value a field already holds changes nothing, so it is no edit
                # (the capture triggers record only what changed): it must not beat another
                # centre's real edit.
                if not db.execute(f"UPDATE {table} SET {col} = ? WHERE id = ? AND {col} IS NOT ?",
                                  [value, pk, value]).rowcount:
                    db.rollback()
                    return
                kind, values = "update", {col: value}
            else:
                # An insert writes every column: those it does not name take their default.
                values = {"centre_id": pc.replica.node_id, **dict.fromkeys(cols),
                          **({"consent": "private"} if table == "tales" else {}), col: value}
                db.execute(f"INSERT INTO {table} (id, {', '.join(values)}) VALUES "
                           f"(?{', ?' * len(values)})", [pk, *values.values()])
                kind = "insert"
            db.commit()
        except sqlite3.IntegrityError as e:
            db.rollback()
            # Refused by design: another centre's row, or an id deleted for ever.
            assert "another centre" in str(e) or "deleted" in str(e), e
            return
        self._record(pc, table, pk, kind, values, at, honest, db)

    def _record(self, pc, table, pk, kind, values, at, honest, db):
        seq = db.execute("SELECT seq FROM _sync_state").fetchone()[0]
        self.edits.append(Edit(pc.name, table, pk, kind, values, at, honest, seq, {pc.name}))

    def _note_acked(self, pc: PC) -> None:
        """The PC's edits the hub has acknowledged, as far as this PC knows (of the hub's
        current history: a PC that has not yet heard of a restored hub knows nothing)."""
        acked, epoch = pc.replica.db.execute("SELECT acked, epoch FROM _sync_state").fetchone()
        hub_epoch = self.hub.db.execute("SELECT epoch FROM _sync_state").fetchone()[0]
        if epoch != hub_epoch or hub_epoch == self.unnoticed_restore:
            return
        for edit in self.edits:
            if pc.name in edit.holders and edit.acked_at is None and edit.seq <= acked:
                edit.acked_at = self.step

    @rule(pc=pcs, table=st.sampled_from(list(COLUMNS)), key=st.sampled_from(KEYS),
          column=st.integers(0, 2), value=VALUES)
    def write_own(self, pc, table, key, column, value):
        self.write(pc, table, key, pc.owner, column, value)

    @rule(pc=pcs, key=st.sampled_from(KEYS), column=st.integers(0, 2), value=VALUES)
    def write_shared(self, pc, key, column, value):
        self.write(pc, "notes", key, pc.owner, column, value)

    @rule(pc=pcs, table=st.sampled_from(list(COLUMNS)), key=st.sampled_from(KEYS),
          owner=st.integers(0, 2))
    def delete(self, pc, table, key, owner):
        pk = owned_key(table, key, owner)
        db = pc.replica.db.conn
        honest, at = self._honest(db), self._now()
        try:
            gone = db.execute(f"DELETE FROM {table} WHERE id = ?", [pk]).rowcount
            db.commit()
        except sqlite3.IntegrityError as e:
            db.rollback()
            assert "another centre" in str(e), e
            return
        if gone:
            self._record(pc, table, pk, "delete", {}, at, honest, db)

    @rule(table=st.sampled_from(list(COLUMNS)), key=st.sampled_from(KEYS),
          owner=st.integers(0, 2), column=st.integers(0, 2), value=VALUES)
    @precondition(lambda self: self.hub_mode != "restores")
    def hub_edit(self, table, key, owner, column, value):
        """Regional staff correct a row at the hub (the hub may change any row)."""
        self.hub_mode = "edits"
        pk = owned_key(table, key, owner)
        cols = COLUMNS[table]
        col = cols[column % len(cols)]
        value = pick(col, value)
        at = self._now()
        if self.hub.db.execute(f"UPDATE {table} SET {col} = ? WHERE id = ? AND {col} IS NOT ?",
                               [value, pk, value]).rowcount:  # the same value is no edit
            self.edits.append(Edit("hub", table, pk, "update", {col: value}, at, True, None,
                                   acked_at=self.step))

    # Clocks.

    @rule(pc=pcs, error=st.sampled_from([YEAR_MS, -YEAR_MS]))
    def clock_goes_wrong(self, pc, error):
        """The PC's date goes a year wrong (a dead battery); only a sync puts it right."""
        offset = pc.replica.db.execute("SELECT offset_ms FROM _sync_state").fetchone()[0]
        if abs(offset) < 2000:
            pc.replica.db.execute("UPDATE _sync_state SET offset_ms = ?", [offset + error])

    @rule()
    @precondition(lambda self: self.edits and not self.waited)
    def time_passes(self):
        """More than the noise of a corrected clock since the last write (once an example: it
        costs up to 0.6 s)."""
        self.waited = True
        time.sleep(max(0, self.last_ms + NOISE_MS + 100 - wall_ms()) / 1000)

    # Syncing, with writes during it and faults.

    @rule(pc=pcs, fault=st.sampled_from([None, None, "cut", "lose"]), at=st.integers(1, 3),
          during=st.sampled_from([None, "between", "inside"]), key=st.sampled_from(KEYS),
          value=VALUES)
    def sync(self, pc, fault, at, during, key, value):
        node_id, token = self.centres[pc.owner]
        client = FaultyClient(self.hub.url, token, cut_at=at if fault else None,
                              lose=fault == "lose", timeout=(10, 30))
        writes = []

        def between(report):
            if during == "between" and not writes:
                writes.append(1)
                self.write(pc, "notes", key, pc.owner, 1, value)

        other = None
        if during == "inside":
            other = sqlite3.connect(pc.replica.path, timeout=10)

            def inside(sql):
                if not writes and "_sync_clock" in sql and "col > 0" in sql:
                    writes.append(1)
                    self.write(pc, "notes", key, pc.owner, 0, value, db=other)
            pc.replica.db.conn.set_trace_callback(inside)
        try:
            sync_now(pc.replica.db, TABLES, client, schema=1, batch_limit=5, page_limit=20,
                     on_step=between)
        except Unreachable:
            pass  # a cut link: the next sync goes on from where this one stopped
        finally:
            pc.replica.db.conn.set_trace_callback(None)
            client.close()
            if other:
                other.close()
        self._note_acked(pc)

    # Backups and restores.

    @rule(pc=pcs)
    def back_up(self, pc):
        pc.backup = pc.replica.path.with_suffix(".backup")
        clone_db(pc.replica.path, pc.backup)
        pc.backup_holds = {e for e in self.edits if pc.name in e.holders}

    @rule(pc=pcs)
    @precondition(lambda self: any(p.backup for p in self.all_pcs))
    def restore(self, pc):
        """The PC's disk died; its last backup comes back. What it wrote since and the hub never
        acknowledged is lost, legitimately."""
        if not pc.backup:
            return
        self._note_acked(pc)
        for edit in self.edits:
            if pc.name in edit.holders and edit not in pc.backup_holds:
                edit.holders.discard(pc.name)
        pc.replica.db.close()
        clone_db(pc.backup, pc.replica.path)
        pc.replica.reopen()

    @rule()
    @precondition(lambda self: self.hub_mode != "edits")
    def hub_backs_up(self):
        self.hub_mode = "restores"
        self.hub_backup = self.tmp / "hub.backup"
        clone_db(self.hub.root / "infocentre.db", self.hub_backup)
        self.hub_backup_step = self.step

    @rule()
    @precondition(lambda self: self.hub_backup is not None)
    def hub_is_restored(self):
        """The hub's disk died; last week's copy of its database comes back while it serves."""
        source = sqlite3.connect(self.hub_backup)
        target = sqlite3.connect(self.hub.root / "infocentre.db", timeout=30)
        source.backup(target)
        source.close()
        target.close()
        for edit in self.edits:  # what the hub had acknowledged since its backup, it lost
            if edit.acked_at is not None and edit.acked_at > self.hub_backup_step:
                edit.acked_at = None
        # Until its next exchange shows the hub it was restored (and it renews its epoch), a
        # PC's acknowledgements from before are of a history the hub no longer has.
        self.unnoticed_restore = self.hub.db.execute("SELECT epoch FROM _sync_state").fetchone()[0]

    @rule(days=st.sampled_from([100]))
    def purge_hub(self, days):
        purge(self.hub.db, now_ms=wall_ms() + days * DAY_MS)

    @rule(pc=pcs)
    def purge_pc(self, pc):
        purge(pc.replica.db, now_ms=wall_ms() + 100 * DAY_MS)

    # The end: a quiet round, then everything must agree with the model.

    def teardown(self):
        try:
            if self.all_pcs:
                self.quiet_round()
                self.check()
        finally:
            for pc in self.all_pcs:
                pc.replica.db.close()
            self.hub.close()
            shutil.rmtree(self.tmp, ignore_errors=True)

    def quiet_round(self) -> None:
        """Every PC syncs, round after round, until a round in which each one's sync was a
        single request that moved nothing: a fixed point, which more rounds would not change
        (three rounds at most)."""
        for _ in range(3):
            still = True
            for pc in self.all_pcs:
                node_id, token = self.centres[pc.owner]
                client = HubClient(self.hub.url, token, timeout=(10, 30))
                try:
                    report = sync_now(pc.replica.db, TABLES, client, schema=1, batch_limit=5,
                                      page_limit=20)
                finally:
                    client.close()
                self._note_acked(pc)
                still = still and report.requests == 1 and not (report.sent or report.received)
            if still:
                return

    def check(self) -> None:
        hub = {t: self.hub.rows(t) for t in COLUMNS}
        assert self.hub.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for pc in self.all_pcs:
            assert pc.replica.integrity() == "ok"
            assert pc.replica.db.execute(
                "SELECT count(*) FROM _sync_clock c, _sync_state s WHERE c.node = s.node_idx "
                "AND c.seq > s.acked").fetchone()[0] == 0, f"{pc.name}: changes left unsent"
            for table in COLUMNS:
                expected = {pk: r for pk, r in hub[table].items()
                            if in_scope(table, r, pc.replica.node_id)}
                assert pc.replica.rows(table) == expected, f"{pc.name}: {table} differs"
        for (table, pk), edits in group(self.edits).items():
            check_row(table, pk, edits, hub[table].get(pk))


def in_scope(table: str, row: tuple, node_id: str) -> bool:
    if table == "notes":
        return True
    if table == "tales" and row[2] == "public":
        return True
    return row[0] == node_id


def group(edits: list[Edit]) -> dict:
    out: dict = {}
    for edit in edits:
        if not edit.lost:
            out.setdefault((edit.table, edit.pk), []).append(edit)
    return out


def check_row(table: str, pk: str, edits: list[Edit], row: tuple | None) -> None:
    where = f"{table} {pk}"
    if any(e.kind == "delete" for e in edits):
        assert row is None, f"{where}: a deleted row is back"
        return
    if not any(e.kind == "insert" for e in edits):
        return  # only edits of a row that was never acknowledged anywhere
    assert row is not None, f"{where}: an acknowledged row was lost"
    names = ["centre_id", *COLUMNS[table]]
    for at, name in enumerate(names):
        touched = [e for e in edits if name in e.values]
        if not touched:
            continue
        honest = [e for e in touched if e.honest]
        if honest:
            # Edits less than NOISE_MS apart are concurrent: a corrected clock is only that
            # precise, so either may win, whoever's clock was wrong before.
            latest = max(honest, key=lambda e: e.at)
            allowed = [e.values[name] for e in touched if e.at >= latest.at - NOISE_MS]
        else:
            allowed = [e.values[name] for e in touched]
        assert row[at] in allowed, (
            f"{where}.{name} = {row[at]!r}; the latest honest edit, or a later one made with a "
            f"wrong clock, was expected: {allowed!r}\n" + "\n".join(map(repr, touched)))


def test_every_replica_ends_as_the_model_says():
    run_state_machine_as_test(SyncMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=25, deadline=None,
        suppress_health_check=list(HealthCheck), print_blob=True))
