"""A centre's learning, counted at the hub for the regional staff: lessons finished and
certificates (courses completed) per month, and each learner's totals. The hub holds every
centre's records, each with the owning centre's ``centre_id``.

Imports sqlite-utils only. Months are local months, given as the UTC times they start at.
"""

from __future__ import annotations

from sqlite_utils import Database


def per_month(db: Database, centre_id: str, bounds: list[str]) -> list[dict]:
    """The centre's lessons finished and certificates issued between each pair of
    consecutive ``bounds`` (UTC times as ISO text, as ``*_at`` columns hold them: the starts of
    local months, and the end of the last): ``[{"lessons": n, "certificates": n}, ...]``.
    Each is a range of an index by centre and time (``m0003_by_centre``), so the cost follows
    the centre's rows of those months, with nothing computed per row."""
    found = [{"lessons": 0, "certificates": 0} for _ in bounds[1:]]
    for key, table, column in (("lessons", "progress", "done_at"),
                               ("certificates", "certificates", "issued_at")):
        sql = (f"SELECT count(*) FROM {table} WHERE centre_id = ? AND {column} >= ? AND "
               f"{column} < ?")
        for i, (start, end) in enumerate(zip(bounds, bounds[1:])):
            found[i][key] = db.execute(sql, [centre_id, start, end]).fetchone()[0]
    return found


def totals(db: Database, centre_id: str) -> dict:
    """The centre's lessons finished and certificates, all time."""
    lessons = db.execute("SELECT count(*) FROM progress WHERE centre_id = ? AND done_at > ''",
                         [centre_id]).fetchone()[0]  # one range of the index: set times only
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
