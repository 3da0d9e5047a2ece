"""Classes, enrolment and attendance (a facilitator's tools), as functions over the database.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n``, ``sync.engine`` and the models of the
auth area (names and sorting of accounts) and the courses area (what a class follows). No Flask
request globals. Times are passed in (``now``).
"""

from __future__ import annotations

import datetime as dt

from sqlite_utils import Database

from sync.engine import OWNER, SyncedTable

from ..auth import models as accounts
from ..courses import models as courses
from ..courses.models import stable_id
from ..data import fetch, iso, new_id, writing
from ..errors import NotFound, ValidationError
from ..i18n import _

# A class and its learning records belong to the centre and go up to the hub.
SYNCED_TABLES = [SyncedTable(name, scope=OWNER)
                 for name in ("classes", "enrolments", "class_sessions", "attendance")]

# Who may be a class's learner: the villagers, and the cooperative's members (villagers who
# also sell). Facilitators and admins teach; regional staff belong to the hub (issue 16: they
# were offered as learners of their own class).
LEARNER_ROLES = ("villager", "cooperative")
# Who may rename or archive a class besides the facilitator who made it.
CLASS_OWNER_ROLES = ("admin",)
MANY_MAX = 500  # ids in one "add the ticked learners" form; a village centre has fewer


def _name_problems(name: str) -> tuple[str, list[str]]:
    name = " ".join((name or "").split())
    if not name or len(name) > 80 or not name.isprintable() or "\ufffd" in name:
        return name, [_("Give the class a name of 1 to 80 characters.")]
    return name, []


def _clean_name(name: str) -> str:
    name, problems = _name_problems(name)
    if problems:
        raise ValidationError({"name": problems})
    return name


def create_class(db: Database, *, centre_id: str, name: str, course_id: str,
                 facilitator_id: str, now: dt.datetime) -> str:
    """A new class of an installed course that has lessons; every field is checked before the
    class is written (ValidationError names each field wrong), so nothing is half-saved."""
    name, problems = _name_problems(name)
    errors = {"name": problems} if problems else {}
    if not courses.lessons_of(db, course_id, "en"):  # not installed, or nothing to learn
        errors["course"] = [_("Choose one of the courses of the list.")]
    if errors:
        raise ValidationError(errors)
    class_id = new_id()
    db.execute("INSERT INTO classes (id, centre_id, name, course_id, facilitator_id, "
               "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [class_id, centre_id, name, course_id, facilitator_id, iso(now), iso(now)])
    return class_id


def may_change(klass: dict, user: dict | None) -> bool:
    """Whether ``user`` may rename or archive the class: its own facilitator, or an admin.
    Any facilitator may read it, take its attendance and enrol learners (a colleague stands in
    for a day); only its own may change what it is."""
    return bool(user) and (user["role"] in CLASS_OWNER_ROLES
                           or user["id"] == klass["facilitator_id"])


def rename_class(db: Database, class_id: str, name: str, now: dt.datetime) -> None:
    db.execute("UPDATE classes SET name = ?, updated_at = ? WHERE id = ?",
               [_clean_name(name), iso(now), class_id])


def archive_class(db: Database, class_id: str, archived: bool, now: dt.datetime) -> None:
    db.execute("UPDATE classes SET archived = ?, updated_at = ? WHERE id = ?",
               [int(archived), iso(now), class_id])


def get_class(db: Database, class_id: str, centre_id: str, lang: str) -> dict:
    rows = fetch(db, "SELECT id, centre_id, name, course_id, facilitator_id, archived, "
                     "created_at FROM classes WHERE id = ? AND centre_id = ?",
                 [class_id, centre_id])
    if not rows:
        raise NotFound(_("This class does not exist at this centre."))
    found = rows[0]
    found["course"] = courses.get_course(db, found["course_id"], lang)
    return found


def list_classes(db: Database, centre_id: str, lang: str, archived: bool = False) -> list[dict]:
    rows = fetch(db, "SELECT c.id, c.name, c.course_id, c.archived, c.created_at, "
                     "(SELECT count(*) FROM enrolments e WHERE e.class_id = c.id AND e.active) "
                     "AS learners, (SELECT max(held_on) FROM class_sessions s WHERE s.class_id = "
                     "c.id AND EXISTS (SELECT 1 FROM attendance a WHERE a.session_id = s.id)) "
                     "AS last_session FROM classes c WHERE c.centre_id = ? AND "
                     "c.archived = ? ORDER BY c.created_at DESC", [centre_id, int(archived)])
    # Titled through the reader's fallback languages (issue 16), each with its own lang.
    titles = courses.course_titles(db, [row["course_id"] for row in rows], lang)
    for row in rows:
        title = titles.get(row["course_id"], {"title": "", "lang": None})
        row["course_title"], row["course_lang"] = title["title"], title["lang"]
    return rows


def enrolment_id(class_id: str, learner_id: str) -> str:
    return stable_id("enrolment", class_id, learner_id)


def _enrol(db: Database, *, class_id: str, learner_id: str, centre_id: str,
           now: dt.datetime) -> bool:
    """One enrolment, checked by the caller; True if it changed anything."""
    before = db.conn.total_changes
    db.execute("INSERT INTO enrolments (id, centre_id, class_id, learner_id, active, "
               "enrolled_at) VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (id) DO UPDATE SET "
               "active = 1 WHERE active = 0",
               [enrolment_id(class_id, learner_id), centre_id, class_id, learner_id, iso(now)])
    return db.conn.total_changes != before


def _clean_ids(learner_ids) -> list[str]:
    """The ids sent, once each and in order; a form of nothing or of too many is refused."""
    ids = list(dict.fromkeys(i for i in learner_ids if i))
    if not ids:
        raise ValidationError({"learner": [_("Tick at least one person.")]})
    if len(ids) > MANY_MAX:
        raise ValidationError({"learner": [_("Too many people at once. Add them in smaller "
                                             "groups.")]})
    return ids


def enrol_many(db: Database, *, class_id: str, learner_ids, centre_id: str,
               now: dt.datetime) -> list[dict]:
    """Everyone ticked joins the class, in one transaction; returns those who were not in it
    already (a form sent twice adds nobody twice). If one of them cannot join (unknown, of
    another centre, staff), nobody is added and the message says so."""
    ids = _clean_ids(learner_ids)
    with writing(db):
        marks = ", ".join("?" for _ in ids)
        people = {r["id"]: r for r in fetch(
            db, f"SELECT id, name, role, centre_id FROM accounts WHERE id IN ({marks})", ids)}
        if any(i not in people or people[i]["centre_id"] != centre_id
               or people[i]["role"] not in LEARNER_ROLES for i in ids):
            raise ValidationError({"learner": [_("This person cannot join a class here.")
                                               if len(ids) == 1 else _(
                "Someone on the list cannot join a class here: only the centre's villagers can "
                "be learners. Nobody was added. Reload the page and try again.")]})
        return [people[i] for i in ids
                if _enrol(db, class_id=class_id, learner_id=i, centre_id=centre_id, now=now)]


def enrol(db: Database, *, class_id: str, learner_id: str, centre_id: str,
          now: dt.datetime) -> None:
    account = accounts.find_account(db, learner_id)
    if account is None or account["centre_id"] != centre_id or \
            account["role"] not in LEARNER_ROLES:
        raise ValidationError({"learner": [_("This person cannot join a class here.")]})
    _enrol(db, class_id=class_id, learner_id=learner_id, centre_id=centre_id, now=now)


def unenrol(db: Database, *, class_id: str, learner_id: str) -> None:
    db.execute("UPDATE enrolments SET active = 0 WHERE id = ? AND active = 1",
               [enrolment_id(class_id, learner_id)])


def unenrol_many(db: Database, *, class_id: str, learner_ids) -> list[dict]:
    """Everyone ticked leaves the class, in one transaction; returns who left (nobody, for the
    same form sent twice). An id that was never in the class refuses the whole form."""
    ids = _clean_ids(learner_ids)
    with writing(db):
        current = {r["id"]: r for r in learners_of(db, class_id)}
        marks = ", ".join("?" for _ in ids)
        ever = {r[0] for r in db.execute(
            f"SELECT learner_id FROM enrolments WHERE class_id = ? AND learner_id IN ({marks})",
            [class_id, *ids]).fetchall()}
        if set(ids) - ever:
            raise ValidationError({"learner": [_("This person is not in the class.")
                                               if len(ids) == 1 else _(
                "Someone on the list is not in this class. Nobody was removed. Reload the page "
                "and try again.")]})
        leaving = [current[i] for i in ids if i in current]
        for person in leaving:
            unenrol(db, class_id=class_id, learner_id=person["id"])
    return leaving


def learners_of(db: Database, class_id: str) -> list[dict]:
    rows = fetch(db, "SELECT a.id, a.name, a.photo, a.role, e.enrolled_at FROM enrolments e "
                     "JOIN accounts a ON a.id = e.learner_id WHERE e.class_id = ? AND e.active "
                     "= 1 ORDER BY folded(a.name), a.name, a.rowid", [class_id])
    for row in rows:
        row["initials"], row["colour"] = accounts.initials(row["name"]), accounts.colour(
            row["id"])
    return rows


def _candidates_sql(columns: str, query: str) -> tuple[str, list]:
    """People of the centre who could join the class, as SQL: the sort key is the name
    ``folded()`` once per row, and a name matches if it, or one of its words, starts with the
    folded query (``accounts.matches``)."""
    # NOT IN: the class's learners are listed once, not searched again for every account.
    sql = (f"SELECT {columns} FROM accounts a WHERE a.centre_id = :centre AND a.role IN "
           f"({', '.join(repr(r) for r in LEARNER_ROLES)}) AND a.id NOT IN (SELECT "
           "e.learner_id FROM enrolments e WHERE e.class_id = :class AND e.active = 1)")
    typed = accounts.sort_key(query.strip())
    if typed:
        sql += (" AND (substr(folded(a.name), 1, length(:typed)) = :typed OR (:one_word AND "
                "instr(' ' || folded(a.name), ' ' || :typed) > 0))")
    return sql, {"typed": typed, "one_word": not any(c.isspace() for c in typed)}


def candidates(db: Database, *, class_id: str, centre_id: str, query: str = "",
               limit: int = -1) -> list[dict]:
    """People of the centre who could join the class, matching the name typed, sorted by name
    (accents and case ignored); the first ``limit`` of them (all with -1)."""
    sql, params = _candidates_sql("a.id, a.centre_id, a.name, a.role, a.lang, a.photo, "
                                  "a.created_at, a.updated_at", query)
    rows = fetch(db, f"{sql} ORDER BY folded(a.name), a.name, a.rowid LIMIT :limit",
                 {**params, "centre": centre_id, "class": class_id, "limit": limit})
    for r in rows:
        r["initials"], r["colour"] = accounts.initials(r["name"]), accounts.colour(r["id"])
    return rows


def count_candidates(db: Database, *, class_id: str, centre_id: str, query: str = "") -> int:
    sql, params = _candidates_sql("count(*)", query)
    return db.execute(sql, {**params, "centre": centre_id, "class": class_id}).fetchone()[0]


def session_id(class_id: str, day: str) -> str:
    """One session per class and day, whichever terminal opens it."""
    return stable_id("session", class_id, day)


def open_session(db: Database, *, class_id: str, centre_id: str, day: dt.date,
                 now: dt.datetime) -> str:
    sid = session_id(class_id, day.isoformat())
    db.execute("INSERT INTO class_sessions (id, centre_id, class_id, held_on, created_at) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
               [sid, centre_id, class_id, day.isoformat(), iso(now)])
    return sid


def find_session(db: Database, class_id: str, day: dt.date) -> dict | None:
    """The class's session of that day, if attendance was saved (or, before issue 16, opened)."""
    rows = fetch(db, "SELECT id, class_id, held_on FROM class_sessions WHERE id = ?",
                 [session_id(class_id, day.isoformat())])
    return rows[0] if rows else None


def save_attendance(db: Database, *, class_id: str, day: dt.date, present: set[str],
                    centre_id: str, now: dt.datetime) -> tuple[str, int]:
    """The day's session and everyone's mark, in one transaction: a session exists only once
    its attendance is saved (issue 16: opening the list left a "0 present" session behind).
    Returns the session's id and how many are present."""
    with writing(db):
        sid = open_session(db, class_id=class_id, centre_id=centre_id, day=day, now=now)
        count = record_attendance(db, class_id=class_id, session_id=sid, present=present,
                                  centre_id=centre_id, now=now)
    return sid, count


def get_session(db: Database, class_id: str, sid: str) -> dict:
    rows = fetch(db, "SELECT id, class_id, held_on FROM class_sessions WHERE id = ? AND "
                     "class_id = ?", [sid, class_id])
    if not rows:
        raise NotFound(_("This session does not exist."))
    return rows[0]


def sessions_of(db: Database, class_id: str) -> list[dict]:
    """Sessions whose attendance was saved, the last first. A session opened and left without
    saving (as opening the list did before issue 16) has no marks: it was not held, and does
    not count in "attended 0 of 3" nor in the CSV."""
    return fetch(db, "SELECT s.id, s.held_on, (SELECT count(*) FROM attendance a WHERE "
                     "a.session_id = s.id AND a.present = 1) AS present FROM class_sessions s "
                     "WHERE s.class_id = ? AND EXISTS (SELECT 1 FROM attendance a WHERE "
                     "a.session_id = s.id) ORDER BY s.held_on DESC", [class_id])


def attendance_of(db: Database, sid: str) -> dict[str, bool]:
    return {r[0]: bool(r[1]) for r in db.execute(
        "SELECT learner_id, present FROM attendance WHERE session_id = ?", [sid]).fetchall()}


def attendance_id(sid: str, learner_id: str) -> str:
    return stable_id("attendance", sid, learner_id)


def mark_attendance(db: Database, *, session_id: str, learner_id: str, present: bool,
                    centre_id: str, now: dt.datetime) -> None:
    db.execute("INSERT INTO attendance (id, centre_id, session_id, learner_id, present, "
               "marked_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
               "present = excluded.present, marked_at = excluded.marked_at WHERE present IS NOT "
               "excluded.present", [attendance_id(session_id, learner_id), centre_id,
                                    session_id, learner_id, int(present), iso(now)])


def record_attendance(db: Database, *, class_id: str, session_id: str, present: set[str],
                      centre_id: str, now: dt.datetime) -> int:
    """Everyone enrolled is marked present or absent in one transaction; returns how many
    are present. Ids that are not learners of the class are refused (nothing saved)."""
    with writing(db):
        learners = {r["id"] for r in learners_of(db, class_id)}
        if present - learners:
            raise ValidationError({"present": [_("Someone on the list is not in this class. "
                                                 "Reload the page and try again.")]})
        for learner_id in learners:
            mark_attendance(db, session_id=session_id, learner_id=learner_id,
                            present=learner_id in present, centre_id=centre_id, now=now)
    return len(present)
