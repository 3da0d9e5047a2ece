"""Accounts, PINs and passwords, lockout after wrong PINs, and server-side sessions.

Imports ``kiosk.data`` and ``sync.engine`` only; no Flask request globals, so the CLI and tests call
these functions directly. Times are passed in (``now``) so tests can move the clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import hashlib
import json
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from sync.engine import OWNER, SyncedTable

from ..data import fetch, folded, iso, new_id, writing
from ..errors import KioskError, NotFound

ROLES = ("villager", "facilitator", "cooperative", "admin", "regional")
PIN_ROLES = ("villager", "facilitator", "cooperative", "admin")
PASSWORD_ROLES = ("regional",)

# A PIN hash never leaves its centre (DESIGN, Data): 10,000 four-digit PINs are tried against a
# stolen hash in seconds, however slow the hash.
SYNCED_TABLES = [SyncedTable("accounts", scope=OWNER, local_columns=("pin_hash",),
                             media=("photo",))]

# PBKDF2 rather than scrypt: as slow, but needs no 16-32 MB per hash, so twenty people signing in
# at once on an old centre PC cannot exhaust its memory.
HASH_METHOD = "pbkdf2:sha256:600000"
SESSION_TOUCH_SECONDS = 10  # seen_at is written at most this often per session
PUBLIC_COLUMNS = ("id, centre_id, name, role, lang, second_lang, photo, created_at, "
                  "updated_at")
DEMO_NAMESPACE = uuid.UUID("6f1d3c52-8a43-4f55-9c55-0d3e1c2b7a10")


def hash_secret(secret: str) -> str:
    return generate_password_hash(secret, method=HASH_METHOD)


# Pure functions of a name or id, memoised: the sign-in page lists every name of the centre.
def sort_key(name: str) -> str:
    """Accents and case ignored, so Ángel sorts and filters with the A's (``folded()`` in SQL)."""
    return folded(name)


@functools.lru_cache(maxsize=8192)
def initials(name: str) -> str:
    words = [w for w in name.split() if w[:1].isalnum()] or [name]
    return "".join(w[0] for w in words[:2]).upper()


@functools.lru_cache(maxsize=8192)
def colour(account_id: str) -> int:
    """One of eight avatar colours, fixed per account."""
    return int(hashlib.sha256(account_id.encode()).hexdigest()[:4], 16) % 8


# Accounts


class NameTaken(KioskError):
    """Someone at the centre already has this name (case and accents aside)."""


def add_account(db: Database, *, centre_id: str, name: str, role: str, now: dt.datetime,
                pin: str | None = None, password: str | None = None, lang: str | None = None,
                second_lang: str | None = None, account_id: str | None = None,
                unique_name: bool = False) -> dict:
    """Insert an account with already validated values; returns it without secrets.

    ``unique_name``: raise ``NameTaken`` if someone at ``centre_id`` has this name, looked up
    in the insert's own transaction, so that the same form sent from five terminals at once
    makes one account (issue 14). Accounts are synced: no unique index can hold across
    centres, so the check is the centre's.
    """
    row = {
        "id": account_id or new_id(), "centre_id": centre_id, "name": name, "role": role,
        "lang": lang, "second_lang": second_lang,
        "pin_hash": hash_secret(pin) if pin else None,
        "password_hash": hash_secret(password) if password else None,
        "created_at": iso(now), "updated_at": iso(now),
    }  # hashed first: the slow part stays outside the write lock
    with writing(db):
        if unique_name and find_by_name(db, name, centre_id=centre_id):
            raise NameTaken(name)
        db.table("accounts").insert(row)
    return get_account(db, row["id"])


def find_account(db: Database, account_id: str) -> dict | None:
    rows = list(db.query(f"SELECT {PUBLIC_COLUMNS}, pin_hash IS NOT NULL AS has_pin, "
                         "password_hash IS NOT NULL AS has_password FROM accounts WHERE id = ?",
                         [account_id]))
    return rows[0] if rows else None


def get_account(db: Database, account_id: str) -> dict:
    account = find_account(db, account_id)
    if account is None:
        raise NotFound("no such account")
    return account


def find_by_name(db: Database, name: str, *, centre_id: str | None = None) -> list[dict]:
    """Accounts with this name, ignoring case and accents (optionally at one centre)."""
    key = sort_key(name)
    rows = db.query(f"SELECT {PUBLIC_COLUMNS} FROM accounts"
                    + (" WHERE centre_id = ?" if centre_id else ""),
                    [centre_id] if centre_id else [])
    return [r for r in rows if sort_key(r["name"]) == key]


def list_accounts(db: Database, *, centre_id: str | None = None, roles=ROLES,
                  query: str = "", now: dt.datetime | None = None) -> list[dict]:
    """Accounts sorted by name; ``query`` keeps names with a word starting with it."""
    marks = ",".join("?" for _ in roles)
    sql = (f"SELECT a.id, a.centre_id, a.name, a.role, a.lang, a.second_lang, a.photo, "
           f"a.created_at, a.updated_at, "
           f"f.locked_until FROM accounts a LEFT JOIN pin_failures f ON f.account_id = a.id "
           f"WHERE a.role IN ({marks})")
    params = list(roles)
    if centre_id:
        sql += " AND a.centre_id = ?"
        params.append(centre_id)
    rows = list(db.query(sql, params))
    if query:
        rows = [r for r in rows if matches(r["name"], query)]
    for r in rows:
        r["locked"] = bool(now and r["locked_until"] and r["locked_until"] > iso(now))
        r["initials"], r["colour"] = initials(r["name"]), colour(r["id"])
    return sorted(rows, key=lambda r: sort_key(r["name"]))


def matches(name: str, query: str) -> bool:
    q = sort_key(query.strip())
    key = sort_key(name)
    return key.startswith(q) or any(w.startswith(q) for w in key.split())


def _letter(key: str) -> str:
    return (key[:1] or "?").upper()


def sign_in_letters(db: Database, centre_id: str) -> tuple[int, dict[str, list[str]]]:
    """How many people sign in here with a PIN, and the first letters of their names, each
    with the first characters (as written) of the names under it.

    Grouped by SQLite on the first character, so a thousand names cost a few dozen calls of
    ``folded()``: the letter of a name is the letter of its first character, unless that is
    a combining mark (then the whole names decide).
    """
    rows = db.execute("SELECT substr(name, 1, 1), count(*) FROM accounts WHERE centre_id = ? "
                      "AND pin_hash IS NOT NULL GROUP BY 1", [centre_id]).fetchall()
    letters: dict[str, list[str]] = {}
    for first, _count in rows:
        if folded(first) and not unicodedata.combining(first):
            letters.setdefault(_letter(folded(first)), []).append(first)
            continue
        for (name,) in db.execute("SELECT name FROM accounts WHERE centre_id = ? AND pin_hash "
                                  "IS NOT NULL AND substr(name, 1, 1) = ?", [centre_id, first]):
            under = letters.setdefault(_letter(folded(name)), [])
            if first not in under:
                under.append(first)
    return sum(count for _first, count in rows), letters


def sign_in_names(db: Database, centre_id: str, query: str = "", letter: str = "",
                  ids: list[str] | None = None, firsts: list[str] | None = None) -> list[dict]:
    """People who sign in here with a PIN, for the name list of the sign-in page, sorted by
    name: those matching ``query``, under ``letter``, or (``ids``) those accounts.
    ``firsts`` (from ``sign_in_letters``) narrows the read to names starting so."""
    sql = ("SELECT id, name, photo, folded(name) AS key FROM accounts WHERE centre_id = ? "
           "AND pin_hash IS NOT NULL")
    params: list = [centre_id]
    if ids is not None:
        sql += " AND id IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(ids))
    if firsts is not None:
        sql += " AND substr(name, 1, 1) IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(firsts))
    rows = fetch(db, sql + " ORDER BY key, name, rowid", params)
    found = []
    for r in rows:
        key = r.pop("key")
        r["letter"] = _letter(key)
        if (letter and r["letter"] != letter) or (query and not matches(r["name"], query)):
            continue
        r["initials"], r["colour"] = initials(r["name"]), colour(r["id"])
        found.append(r)
    return found


def set_pin(db: Database, account_id: str, pin: str, now: dt.datetime) -> None:
    """Give an account a new PIN; this also lifts a lock."""
    pin_hash = hash_secret(pin)
    with writing(db):
        db.execute("UPDATE accounts SET pin_hash = ?, updated_at = ? WHERE id = ?",
                   [pin_hash, iso(now), account_id])
        db.execute("DELETE FROM pin_failures WHERE account_id = ?", [account_id])


def set_photo(db: Database, account_id: str, sha: str | None, now: dt.datetime) -> None:
    """A person's photo (the SHA-256 of a stored blob), or none."""
    db.execute("UPDATE accounts SET photo = ?, updated_at = ? WHERE id = ?",
               [sha, iso(now), account_id])


def set_password(db: Database, account_id: str, password: str, now: dt.datetime) -> None:
    db.execute("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?",
               [hash_secret(password), iso(now), account_id])


def set_language(db: Database, account_id: str, lang: str, now: dt.datetime) -> None:
    db.execute("UPDATE accounts SET lang = ?, updated_at = ? WHERE id = ?",
               [lang, iso(now), account_id])


def set_second_language(db: Database, account_id: str, lang: str, now: dt.datetime) -> None:
    """The language course text falls back to for this person (already validated)."""
    db.execute("UPDATE accounts SET second_lang = ?, updated_at = ? WHERE id = ?",
               [lang, iso(now), account_id])


# Signing in


@dataclass(frozen=True)
class SecretCheck:
    ok: bool
    locked_until: str | None = None  # set when the account is (now) locked
    tries_left: int = 0
    checked: bool = False  # the secret was compared (a try was spent)


def lock_state(db: Database, account_id: str, now: dt.datetime) -> str | None:
    """When the account's lock ends, or None if it is not locked."""
    rows = fetch(db, "SELECT locked_until FROM pin_failures WHERE account_id = ?", [account_id])
    until = rows[0]["locked_until"] if rows else None
    return until if until and until > iso(now) else None


def check_secret(db: Database, account_id: str, secret: str, now: dt.datetime, *,
                 max_failures: int, lock_minutes: float, kind: str = "pin") -> SecretCheck:
    """Check a PIN (or a password, ``kind="password"``), counting wrong ones in a row.

    ``max_failures`` wrong ones lock the account for ``lock_minutes``. Each try is counted
    before the secret is compared, in a transaction that holds the write lock: requests sent in
    parallel each take a try in turn, and once the last one is taken the account is locked, so
    no more than ``max_failures`` secrets are ever compared per lock, however many arrive at
    once (counting after the comparison let a burst of fifty be checked, and a late one erase
    the lock another had set). A right secret gives its try back and clears the count. A locked
    account is refused after as long as a comparison takes, so a locked name answers no faster
    than an unknown one. The slow hash runs outside any transaction.
    """
    stamp = iso(now)
    with writing(db):
        row = db.execute("SELECT failures, locked_until FROM pin_failures WHERE account_id = ?",
                         [account_id]).fetchone()
        locked = row[1] if row and row[1] and row[1] > stamp else None
        if not locked:
            # A lock that has run out starts the count again.
            failures = (row[0] if row and not row[1] else 0) + 1
            until = iso(now + dt.timedelta(minutes=lock_minutes)) \
                if failures >= max_failures else None
            db.execute("INSERT INTO pin_failures (account_id, failures, locked_until) "
                       "VALUES (?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                       "failures = excluded.failures, locked_until = excluded.locked_until",
                       [account_id, 0 if until else failures, until])
    if locked:
        spend_hash_time(secret)
        return SecretCheck(False, locked_until=locked)
    column = "pin_hash" if kind == "pin" else "password_hash"
    rows = fetch(db, f"SELECT {column} AS hash FROM accounts WHERE id = ?", [account_id])
    stored = rows[0]["hash"] if rows else None
    if check_password_hash(stored or _dummy_hash(), secret) and stored:
        db.execute("DELETE FROM pin_failures WHERE account_id = ?", [account_id])
        return SecretCheck(True, checked=True)
    if until:
        return SecretCheck(False, locked_until=until, checked=True)
    return SecretCheck(False, tries_left=max_failures - failures, checked=True)


def unlock(db: Database, account_id: str) -> None:
    db.execute("DELETE FROM pin_failures WHERE account_id = ?", [account_id])


def find_staff(db: Database, name: str) -> dict | None:
    """The password account with this name (names of password accounts are unique)."""
    found = [a for a in find_by_name(db, name) if a["role"] in PASSWORD_ROLES]
    return found[0] if found else None


def spend_hash_time(secret: str) -> None:
    """Cost as much as a real check, so timing does not tell whether a name exists."""
    check_password_hash(_dummy_hash(), secret)


@functools.cache
def _dummy_hash() -> str:
    return hash_secret(secrets.token_hex(8))


# Sessions: the browser keeps a random token, the database its SHA-256.


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, account_id: str, now: dt.datetime) -> str:
    token = secrets.token_urlsafe(32)
    db.table("sessions").insert({"id": _token_id(token), "account_id": account_id,
                                 "created_at": iso(now), "seen_at": iso(now)})
    return token


@dataclass(frozen=True)
class SessionState:
    account: dict | None
    expired: bool = False
    seconds_left: float = 0


_SESSION_SQL = (
    f"SELECT s.seen_at, {', '.join('a.' + c for c in PUBLIC_COLUMNS.split(', '))}, "
    "a.pin_hash IS NOT NULL AS has_pin, a.password_hash IS NOT NULL AS has_password "
    "FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id WHERE s.id = ?")


def resume_session(db: Database, token: str, now: dt.datetime, idle_seconds: float,
                   touch: bool = True) -> SessionState:
    """The session's account, unless it has been idle too long (then it is ended)."""
    sid = _token_id(token)
    # One statement on every page of a signed-in person: the session and its account together.
    rows = fetch(db, _SESSION_SQL, [sid])
    if not rows:
        return SessionState(None)
    account = rows[0]
    seen = dt.datetime.fromisoformat(account.pop("seen_at"))
    idle = (now - seen).total_seconds()
    # Seen "in the future" when a first sync put a fast clock back: counting from the stored
    # time would keep the session open until the clock caught up, so idleness starts again now.
    seen_ahead = idle < 0
    if idle >= idle_seconds:
        db.execute("DELETE FROM sessions WHERE id = ?", [sid])
        return SessionState(None, expired=True)
    if account["id"] is None:
        db.execute("DELETE FROM sessions WHERE id = ?", [sid])
        return SessionState(None)
    if seen_ahead or (touch and idle >= SESSION_TOUCH_SECONDS):
        db.execute("UPDATE sessions SET seen_at = ? WHERE id = ?", [iso(now), sid])
        idle = 0
    return SessionState(account, seconds_left=idle_seconds - idle)


def touch_session(db: Database, token: str, now: dt.datetime) -> None:
    db.execute("UPDATE sessions SET seen_at = ? WHERE id = ?", [iso(now), _token_id(token)])


def end_session(db: Database, token: str) -> None:
    db.execute("DELETE FROM sessions WHERE id = ?", [_token_id(token)])


def end_sessions_of(db: Database, account_id: str) -> None:
    db.execute("DELETE FROM sessions WHERE account_id = ?", [account_id])


def purge_sessions(db: Database, now: dt.datetime, idle_seconds: float) -> int:
    cutoff = iso(now - dt.timedelta(seconds=idle_seconds))
    return db.execute("DELETE FROM sessions WHERE seen_at < ?", [cutoff]).rowcount


# Demo accounts


def demo(db: Database, *, centre_id: str, role: str, content_dir: str | Path,
         now: dt.datetime) -> list[dict]:
    """Add the demo accounts of ``content/demo/accounts.json`` that are not there yet.

    Ids are derived from the centre and the demo name, so a second run adds nothing. Returns the
    accounts with their sign-in secrets, to be printed once.
    """
    people = json.loads((Path(content_dir) / "demo" / "accounts.json").read_text("utf-8"))
    made = []
    for person in people:
        # The hub signs in staff by password only; a centre gets one account per role.
        if role == "hub" and person["role"] not in PASSWORD_ROLES:
            continue
        account_id = str(uuid.uuid5(DEMO_NAMESPACE, f"{centre_id}:{person['name']}"))
        secret = person.get("pin") or person.get("password")
        entry = {"name": person["name"], "role": person["role"], "secret": secret,
                 "new": False}
        made.append(entry)
        if find_account(db, account_id):
            continue
        with writing(db):
            add_account(db, centre_id=centre_id, name=person["name"], role=person["role"],
                        pin=person.get("pin"), password=person.get("password"),
                        lang=person.get("lang"), second_lang=person.get("second_lang"),
                        now=now, account_id=account_id)
            db.table("demo_rows").insert({"table_name": "accounts", "row_id": account_id})
        entry["new"] = True
    return made


# A centre's learners, as the hub's regional staff see them (kiosk.admin).

LEARNER_ROLES = ("villager", "cooperative")


def count_learners(db: Database, centre_id: str) -> int:
    marks = ",".join("?" * len(LEARNER_ROLES))
    return db.execute(f"SELECT count(*) FROM accounts WHERE centre_id = ? AND role IN ({marks})",
                      [centre_id, *LEARNER_ROLES]).fetchone()[0]


def learners_page(db: Database, centre_id: str, *, offset: int, limit: int) -> list[dict]:
    """Learners of a centre (id, name, created_at), by name, ``limit`` from ``offset``."""
    marks = ",".join("?" * len(LEARNER_ROLES))
    return list(db.query(
        f"SELECT id, name, created_at FROM accounts WHERE centre_id = ? AND role IN ({marks}) "
        f"ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?",
        [centre_id, *LEARNER_ROLES, limit, offset]))


def new_learners_per_month(db: Database, centre_id: str, bounds: list[str]) -> list[int]:
    """Learners added between each pair of consecutive ``bounds`` (UTC times as ISO text, in
    order): one pass over the centre's accounts (a thousand), counted here."""
    marks = ",".join("?" * len(LEARNER_ROLES))
    found = [0] * (len(bounds) - 1)
    for (created,) in db.execute(
            f"SELECT created_at FROM accounts WHERE centre_id = ? AND role IN ({marks}) AND "
            f"created_at >= ? AND created_at < ?", [centre_id, *LEARNER_ROLES, bounds[0],
                                                   bounds[-1]]):
        found[bisect.bisect_right(bounds, created) - 1] += 1
    return found
