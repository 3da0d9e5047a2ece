"""Bad input on the sign-in and account forms: a clear message in the person's language, status
400 (or 403), and the data exactly as it was."""

import pytest

from .conftest import SignIn
from .factories import PIN, count, make_account


@pytest.fixture
def facilitator(app, db):
    account = make_account(db, app.config["CENTRE_ID"], role="facilitator", name="Lucía")
    client = app.test_client()
    helper = SignIn(client)
    helper.pin(account, PIN)
    return client, helper


def table_counts(db):
    return {t: count(db, t) for t in ("accounts", "pin_failures", "sessions")}


NEW_PERSON_CASES = [
    # (form fields, message expected)
    ({"name": "", "pin": "1357", "confirm": "1357"}, "Write a name."),
    ({"name": "   ", "pin": "1357", "confirm": "1357"}, "Write a name."),
    ({"name": "A" * 61, "pin": "1357", "confirm": "1357"}, "at most 60 letters"),
    ({"name": "x" * 100_000, "pin": "1357", "confirm": "1357"}, "at most 60 letters"),
    ({"name": "12345", "pin": "1357", "confirm": "1357"}, "at least one letter"),
    ({"name": "Ana\x00Bel", "pin": "1357", "confirm": "1357"}, "cannot be shown"),
    ({"name": "Ana\u202eBel", "pin": "1357", "confirm": "1357"}, "cannot be shown"),
    ({"name": "Ana", "pin": "", "confirm": ""}, "Enter a PIN."),
    ({"name": "Ana", "pin": "123", "confirm": "123"}, "4 to 6 digits"),
    ({"name": "Ana", "pin": "1234567", "confirm": "1234567"}, "4 to 6 digits"),
    ({"name": "Ana", "pin": "12a4", "confirm": "12a4"}, "4 to 6 digits"),
    ({"name": "Ana", "pin": "１２３４", "confirm": "１２３４"}, "4 to 6 digits"),  # full-width
    ({"name": "Ana", "pin": "1357", "confirm": "7531"}, "not the same"),
    ({"name": "Ana", "pin": "1357", "confirm": "1357", "role": "emperor"}, "roles offered"),
    ({"name": "Ana", "pin": "1357", "confirm": "1357", "lang": "xx"}, "languages offered"),
]


@pytest.mark.parametrize("fields, message", NEW_PERSON_CASES)
def test_new_person_form_refuses_bad_input_and_saves_nothing(facilitator, db, fields, message):
    client, helper = facilitator
    before = table_counts(db)
    data = {"role": "villager", "lang": "es", "csrf_token": helper.token(), **fields}
    response = client.post("/auth/people/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert table_counts(db) == before


def test_script_tags_in_a_name_are_shown_as_text(app, facilitator, db):
    client, helper = facilitator
    response = client.post("/auth/people/new", data={
        "name": "<script>alert(1)</script> Ana", "role": "villager", "lang": "es",
        "pin": "1357", "confirm": "1357", "csrf_token": helper.token()})
    assert response.status_code == 302
    for path in ("/auth/people", "/auth/signin"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; Ana" in html


def test_arabic_digits_are_read_as_a_pin(facilitator, db):
    client, helper = facilitator
    response = client.post("/auth/people/new", data={
        "name": "أمينة", "role": "villager", "lang": "ar", "pin": "١٣٥٧", "confirm": "١٣٥٧",
        "csrf_token": helper.token()})
    assert response.status_code == 302


def test_undecodable_bytes_in_a_form_are_refused(facilitator, db):
    client, helper = facilitator
    before = table_counts(db)
    body = b"name=Ana%FF%FEBel&role=villager&lang=es&pin=1357&confirm=1357&csrf_token=" + (
        helper.token().encode())
    response = client.post("/auth/people/new", data=body,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "Some letters arrived damaged" in response.get_data(as_text=True)
    assert table_counts(db) == before


def test_a_repeated_field_counts_once(facilitator, db):
    client, helper = facilitator
    response = client.post("/auth/people/new", data={
        "name": ["Ana Uno", "Ana Dos"], "role": "villager", "lang": "es", "pin": "1357",
        "confirm": "1357", "csrf_token": helper.token()})
    assert response.status_code == 302
    names = [r["name"] for r in db.query("SELECT name FROM accounts WHERE name LIKE 'Ana%'")]
    assert names == ["Ana Uno"]


def test_replaying_a_form_makes_nothing_twice(facilitator, db):
    client, helper = facilitator
    data = {"name": "Ana Pérez", "role": "villager", "lang": "es", "pin": "1357",
            "confirm": "1357", "csrf_token": helper.token()}
    assert client.post("/auth/people/new", data=data).status_code == 302
    again = client.post("/auth/people/new", data=data)
    assert again.status_code == 400 and "already has this name" in again.get_data(as_text=True)
    assert len(list(db.query("SELECT id FROM accounts WHERE name = 'Ana Pérez'"))) == 1


@pytest.mark.parametrize("token", [None, "", "forged-token", "a" * 5000])
def test_forms_without_a_valid_csrf_token_are_refused(app, facilitator, db, token):
    client, _ = facilitator
    before = table_counts(db)
    data = {"name": "Ana", "role": "villager", "pin": "1357", "confirm": "1357"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/auth/people/new", data=data)
    assert response.status_code == 400
    assert "This page has expired" in response.get_data(as_text=True)
    assert table_counts(db) == before


def test_a_token_from_another_session_is_refused(app, db, facilitator):
    client, _ = facilitator
    other_token = SignIn(app.test_client()).token()
    response = client.post("/auth/people/new", data={
        "name": "Ana", "role": "villager", "pin": "1357", "confirm": "1357",
        "csrf_token": other_token})
    assert response.status_code == 400


@pytest.mark.parametrize("pin, status, message", [
    ("", 400, "Enter a PIN."),
    ("12", 400, "4 to 6 digits"),
    ("9" * 10_000, 400, "4 to 6 digits"),
    ("<script>", 400, "4 to 6 digits"),
    ("0000", 400, "That PIN is not right"),
])
def test_pin_page_refuses_bad_input(app, db, client, sign_in, pin, status, message):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa")
    response = sign_in.pin(rosa, pin)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert count(db, "sessions") == 0


def test_malformed_pins_do_not_count_towards_the_lock(app, db, sign_in):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa")
    for _ in range(6):
        sign_in.pin(rosa, "abc")
    assert count(db, "pin_failures") == 0
    assert sign_in.pin(rosa, PIN).status_code == 302


def test_pin_form_without_csrf_is_refused_and_counts_nothing(app, db, client):
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa")
    response = client.post(f"/auth/signin/{rosa['id']}", data={"pin": "0000"})
    assert response.status_code == 400
    assert count(db, "pin_failures") == 0


@pytest.mark.parametrize("name, password", [
    ("", ""), ("Patricia", ""), ("", "a-long-staff-password"), ("x" * 100_000, "y" * 100_000),
])
def test_password_form_refuses_bad_input(hub_client, hub_sign_in, hub_db, name, password):
    response = hub_sign_in.password(name, password)
    assert response.status_code == 400
    assert count(hub_db, "sessions") == 0


def test_language_form_refuses_an_unknown_language(client, sign_in):
    response = client.post("/language", data={"lang": "<b>xx</b>", "csrf_token": sign_in.token()})
    assert response.status_code == 400
    assert "Choose one of the languages offered." in response.get_data(as_text=True)


def test_error_messages_are_in_the_persons_language(app, db):
    facilitator = make_account(db, app.config["CENTRE_ID"], role="facilitator", lang="es")
    client = app.test_client()
    helper = SignIn(client)
    helper.pin(facilitator, PIN)
    response = client.post("/auth/people/new", data={
        "name": "", "role": "villager", "lang": "es", "pin": "1", "confirm": "1",
        "csrf_token": helper.token()})
    html = response.get_data(as_text=True)
    assert "Escriba un nombre." in html
    assert "Un PIN tiene de 4 a 6 números." in html
