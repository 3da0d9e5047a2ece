"""A learner's open try of a quiz outlives a pack update that changes the quiz under it."""

from __future__ import annotations

import pytest

from kiosk.courses import packs

from .conftest import SignIn
from .factories import PIN, make_account
from .live import db_rows
from .packs import install, write_pack

COURSE = packs.course_id("first-steps")
QUIZ = packs.lesson_id("first-steps", "final-quiz")


def question(n: int) -> str:
    return packs.question_id("first-steps", f"q{n}")


@pytest.fixture
def update(app, db, data_dir, tmp_path):
    """Install version ``version`` of the pack, with ``questions`` questions in its quiz."""

    def install_version(version: int, questions: int) -> None:
        folder = write_pack(tmp_path / f"pack-{version}", version=version, questions=questions)
        assert install(db, folder, centre_id=app.config["CENTRE_ID"], data_dir=data_dir)

    install_version(1, 4)
    return install_version


@pytest.fixture
def signed(app, db, client, update):
    learner = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="en")
    sign_in = SignIn(client)
    sign_in.pin(learner, PIN)
    return sign_in


def answer(client, token, n, *choices):
    return client.post(f"/courses/{COURSE}/quiz/{QUIZ}", data={
        "csrf_token": token, "question": question(n), "choice": list(choices)})


def test_a_try_whose_unanswered_questions_were_retired_is_scored_over_those_left(
        client, signed, update, data_dir):
    token = signed.token()
    assert "Very good" in answer(client, token, 1, "b").get_data(as_text=True)
    # wants a and c: one right answer chosen, not all of them
    assert "Not all of it is right" in answer(client, token, 2, "a").get_data(as_text=True)

    update(2, 2)  # the regional office drops questions 3 and 4, which Rosa had not reached
    assert db_rows(data_dir, "SELECT count(*) FROM questions WHERE retired = 1") == [(2,)]

    result = client.get(f"/courses/{COURSE}/quiz/{QUIZ}")
    assert result.status_code == 200
    page = result.get_data(as_text=True)
    assert "50%" in page and "1 right answers out of 2." in page and "Not passed yet" in page
    assert db_rows(data_dir, "SELECT score, passed, finished_at IS NOT NULL FROM "
                             "quiz_attempts") == [(50, 0, 1)]
    assert db_rows(data_dir, "SELECT score, done FROM progress WHERE lesson_id = ?",
                   [QUIZ]) == [(50, 0)]

    again = client.get(f"/courses/{COURSE}/quiz/{QUIZ}?again=1").get_data(as_text=True)
    assert "Question 1 of 2" in again  # a new try, over the questions that remain
    answer(client, token, 1, "b")
    assert "See my result" in answer(client, token, 2, "a", "c").get_data(as_text=True)
    assert "100%" in client.get(f"/courses/{COURSE}/quiz/{QUIZ}").get_data(as_text=True)
    assert db_rows(data_dir, "SELECT score, done FROM progress WHERE lesson_id = ?",
                   [QUIZ]) == [(100, 1)]


def test_a_try_goes_on_with_the_questions_left_when_one_it_answered_is_retired(
        client, signed, update, data_dir):
    token = signed.token()
    answer(client, token, 1, "b")
    answer(client, token, 2, "a", "c")
    answer(client, token, 3, "a")  # wrong: question 3 wants c

    update(2, 2)  # question 3, answered, goes; so does 4, not yet reached
    result = client.get(f"/courses/{COURSE}/quiz/{QUIZ}").get_data(as_text=True)
    assert "100%" in result and "You passed" in result  # the wrong answer no longer counts
    assert db_rows(data_dir, "SELECT score, passed FROM quiz_attempts") == [(100, 1)]


def test_a_try_is_not_finished_while_questions_remain(client, signed, update, data_dir):
    token = signed.token()
    answer(client, token, 1, "b")
    update(2, 3)  # only question 4 goes; 2 and 3 still wait
    page = client.get(f"/courses/{COURSE}/quiz/{QUIZ}").get_data(as_text=True)
    assert "Question 2 of 3" in page
    assert db_rows(data_dir, "SELECT finished_at FROM quiz_attempts") == [(None,)]
