"""Rows made through the areas' models, with sensible defaults (no factory library)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

from kiosk.auth import models as accounts
from sync.engine.state import applying

_numbers = itertools.count(1)
PIN = "2468"
PASSWORD = "a-long-staff-password"
WHEN = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)


def make_account(db, centre_id: str, *, role: str = "villager", name: str | None = None,
                 pin: str | None = PIN, password: str | None = None, lang: str | None = None,
                 now: dt.datetime = WHEN) -> dict:
    """An account; one of another centre arrives as sync would bring it (a node may not write
    another centre's rows itself)."""
    if role == "regional":
        pin, password = None, password or PASSWORD
    with received(db, centre_id):
        return accounts.add_account(db, centre_id=centre_id,
                                    name=name or f"Persona {next(_numbers)}", role=role, pin=pin,
                                    password=password, lang=lang, now=now)


@contextlib.contextmanager
def received(db, centre_id: str):
    """Writes in this block are made as the sync engine applies rows from the hub."""
    own = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    with applying(db) if centre_id != own else contextlib.nullcontext():
        yield


def count(db, table: str) -> int:
    return db.table(table).count
