"""A centre's learning, counted at the hub for the regional staff: lessons finished and
certificates (courses completed) per month, and each learner's totals. The hub holds every
centre's records, each with the owning centre's ``centre_id``.

Imports sqlite-utils only. Months are local months: ``shift`` is an SQLite modifier (``"-300
minutes"``) moving UTC times into the installation's time zone.
"""

from __future__ import annotations

from sqlite_utils import Database


def per_month(db: Database, centre_id: str, since: str, shift: str) -> dict[str, dict]:
    """``{"YYYY-MM": {"lessons": n, "certificates": n}}`` for the months with any, from the
    UTC time ``since`` (ISO text, as ``*_at`` columns hold it). Indexed by centre and time
    (``m0002_by_centre``): the cost follows the centre's rows of those months."""
    found: dict[str, dict] = {}
    for key, table, column in (("lessons", "progress", "done_at"),
                               ("certificates", "certificates", "issued_at")):
        for month, count in db.execute(
                f"SELECT strftime('%Y-%m', {column}, ?) AS month, count(*) FROM {table} "
                f"WHERE centre_id = ? AND {column} >= ? GROUP BY month", [shift, centre_id, since]):
            found.setdefault(month, {"lessons": 0, "certificates": 0})[key] = count
    return found


def totals(db: Database, centre_id: str) -> dict:
    """The centre's lessons finished and certificates, all time."""
    lessons = db.execute("SELECT count(*) FROM progress WHERE centre_id = ? AND done_at IS NOT "
                         "NULL AND done_at != ''", [centre_id]).fetchone()[0]
    certificates = db.execute("SELECT count(*) FROM certificates WHERE centre_id = ?",
                              [centre_id]).fetchone()[0]
    return {"lessons": lessons, "certificates": certificates}


def learner_totals(db: Database, learner_ids: list[str]) -> dict[str, dict]:
    """Each learner's lessons finished and certificates: ``{id: {"lessons", "certificates"}}``."""
    found = {i: {"lessons": 0, "certificates": 0} for i in learner_ids}
    for start in range(0, len(learner_ids), 500):
        chunk = learner_ids[start:start + 500]
        marks = ",".join("?" * len(chunk))
        for key, sql in (
                ("lessons", f"SELECT learner_id, count(*) FROM progress WHERE learner_id IN "
                            f"({marks}) AND done = 1 GROUP BY learner_id"),
                ("certificates", f"SELECT learner_id, count(*) FROM certificates WHERE "
                                 f"learner_id IN ({marks}) GROUP BY learner_id")):
            for learner, count in db.execute(sql, chunk):
                found[learner][key] = count
    return found
