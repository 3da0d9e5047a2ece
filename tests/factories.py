"""Rows made through the areas' models, with sensible defaults (no factory library)."""

from __future__ import annotations

import datetime as dt
import itertools

from kiosk.auth import models as accounts

_numbers = itertools.count(1)
PIN = "2468"
PASSWORD = "a-long-staff-password"
WHEN = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)


def make_account(db, centre_id: str, *, role: str = "villager", name: str | None = None,
                 pin: str | None = PIN, password: str | None = None, lang: str | None = None,
                 now: dt.datetime = WHEN) -> dict:
    if role == "regional":
        pin, password = None, password or PASSWORD
    return accounts.add_account(db, centre_id=centre_id, name=name or f"Persona {next(_numbers)}",
                                role=role, pin=pin, password=password, lang=lang, now=now)


def count(db, table: str) -> int:
    return db.table(table).count
