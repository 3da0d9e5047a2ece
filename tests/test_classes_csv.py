"""Class downloads open in columns in the reader's spreadsheet, and no cell becomes a formula."""

from __future__ import annotations

import csv
import io

import pytest

from kiosk.classes import models as classes

from .conftest import SignIn
from .factories import PIN, WHEN, make_account, make_course

FORMULA = ("=", "+", "-", "@", "\t", "\r")
TRAP = "Ana;=cmd|' /C calc'!A0"  # a name a spreadsheet splitting on ";" would run
WHAT = ("progress", "attendance")


@pytest.fixture
def klass(app, db, tmp_path) -> dict:
    """A class of one learner with a dangerous name, and another, with one session held."""
    centre = app.config["CENTRE_ID"]
    course = make_course(db, tmp_path, lessons=2)
    facilitator = make_account(db, centre, role="facilitator", name="Lucía Andrango")
    class_id = classes.create_class(db, centre_id=centre, name="Martes", course_id=course["id"],
                                   facilitator_id=facilitator["id"], now=WHEN)
    people = [make_account(db, centre, name=name, pin=None) for name in (TRAP, "Beto, Bravo")]
    for person in people:
        classes.enrol(db, class_id=class_id, learner_id=person["id"], centre_id=centre, now=WHEN)
    sid = classes.open_session(db, class_id=class_id, centre_id=centre, day=WHEN.date(), now=WHEN)
    classes.record_attendance(db, class_id=class_id, session_id=sid, centre_id=centre, now=WHEN,
                             present={p["id"] for p in people})
    return {"id": class_id, "facilitator": facilitator}


def download(app, db, klass: dict, lang: str, what: str) -> bytes:
    """The file, downloaded by the facilitator with pages in ``lang``."""
    db.execute("UPDATE accounts SET lang = ? WHERE id = ?", [lang, klass["facilitator"]["id"]])
    client = app.test_client()
    assert SignIn(client).pin(klass["facilitator"], PIN).status_code == 302
    response = client.get(f"/courses/classes/{klass['id']}/{what}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return response.get_data()


def cells(body: bytes, separator: str) -> list[list[str]]:
    """What a spreadsheet splitting on ``separator`` shows."""
    assert body.startswith(b"\xef\xbb\xbf")  # the BOM: accents survive a Windows spreadsheet
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=separator))


@pytest.mark.parametrize("lang, separator", [("es", ";"), ("fr", ";"), ("qu_EC", ";"),
                                             ("en", ","), ("ar", ",")])
@pytest.mark.parametrize("what", WHAT)
def test_csv_columns_are_split_as_the_readers_spreadsheets_expect(app, db, klass, lang,
                                                                  separator, what):
    rows = cells(download(app, db, klass, lang, what), separator)
    assert len({len(row) for row in rows}) == 1 and len(rows[0]) >= 3  # in columns
    names = [row[0] for row in rows[1:]]
    assert TRAP in names and "Beto, Bravo" in names  # each name whole, in one cell


@pytest.mark.parametrize("lang", ["es", "en"])
@pytest.mark.parametrize("what", WHAT)
def test_no_cell_is_a_formula_whatever_separator_the_spreadsheet_splits_on(app, db, klass,
                                                                           lang, what):
    body = download(app, db, klass, lang, what)
    for separator in (";", ",", "\t"):
        for row in cells(body, separator):
            assert not [cell for cell in row if cell.startswith(FORMULA)], (separator, row)
