"""Learners' pages answer odd addresses with a page, never an error of the server."""

from __future__ import annotations

import pytest

from kiosk.courses import packs

from .conftest import SignIn
from .factories import PIN, make_account
from .live import db_rows
from .packs import install, write_pack

COURSE = packs.course_id("first-steps")
MOUSE = packs.lesson_id("first-steps", "mouse")


@pytest.fixture
def course(app, db, data_dir, tmp_path):
    folder = write_pack(tmp_path / "pack")
    install(db, folder, centre_id=app.config["CENTRE_ID"], data_dir=data_dir)
    return folder


@pytest.fixture
def signed(app, db, client, course):
    learner = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="es")
    sign_in = SignIn(client)
    sign_in.pin(learner, PIN)
    return sign_in


@pytest.mark.parametrize("number", [
    "²",  # a digit to str.isdigit(), not to int()
    "٣",  # an Arabic-Indic three: not how our links write page numbers
    "9" * 5000,  # more digits than int() reads
    "1" + "0" * 20,
    "1.0", " 2", "+2", "", "2\x00",
])
def test_a_page_number_that_is_not_one_of_ours_opens_the_first_page(client, signed, data_dir,
                                                                    number):
    response = client.get(f"/courses/{COURSE}/lessons/{MOUSE}", query_string={"page": number})
    assert response.status_code == 302 and response.location.endswith("page=1")
    assert db_rows(data_dir, "SELECT count(*) FROM progress") == [(0,)]  # nothing remembered
    assert client.get(response.location).status_code == 200
