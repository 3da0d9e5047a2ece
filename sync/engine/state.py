"""The replica's own row (``_sync_state``) and the transactions the engine runs in.

Imports only the standard library and sqlite-utils. Every write the engine makes happens inside
``immediate`` (the write lock taken at once, so two processes never interleave a sync); pages and
bundles are read inside ``snapshot`` so they see one moment of the database.
"""

from __future__ import annotations

import contextlib
import secrets

from sqlite_utils import Database


@contextlib.contextmanager
def immediate(db: Database):
    """One write transaction, begun with the write lock held: committed whole or not at all."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")


@contextlib.contextmanager
def snapshot(db: Database):
    """One read transaction: every query inside sees the same moment of the database."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


@contextlib.contextmanager
def applying(db: Database):
    """Writes inside are others' changes being applied: the capture triggers stay silent."""
    db.execute("UPDATE _sync_state SET applying = 1 WHERE id = 1")
    try:
        yield
    finally:
        db.execute("UPDATE _sync_state SET applying = 0 WHERE id = 1")


def read_state(db: Database) -> dict:
    """The ``_sync_state`` row, as a dict."""
    cursor = db.execute("SELECT * FROM _sync_state WHERE id = 1")
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone()))


def reserve_seq(db: Database, n: int) -> int:
    """The first of ``n`` new sequence numbers of this replica."""
    return db.execute("UPDATE _sync_state SET seq = seq + ? WHERE id = 1 RETURNING seq",
                      [n]).fetchone()[0] - n + 1


def new_epoch() -> str:
    """A hub's epoch: short (it travels in every reply), random, only ever compared for
    equality with the one before."""
    return secrets.token_hex(4)
