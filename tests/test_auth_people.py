"""Facilitators and admins create accounts and give new PINs; permissions are checked on the
server for every page and action."""

import pytest

from kiosk.auth import models as accounts

from .conftest import SignIn
from .factories import PIN, count, make_account

PAGES = ["/auth/people", "/auth/people/new"]


@pytest.fixture
def people(app, db):
    centre = app.config["CENTRE_ID"]
    return {role: make_account(db, centre, role=role, name=f"Una {role}")
            for role in ("villager", "facilitator", "cooperative", "admin", "regional")}


def signed_in(app, account):
    client = app.test_client()
    helper = SignIn(client)
    if account["role"] == "regional":
        helper.password(account["name"], "a-long-staff-password")
    else:
        helper.pin(account, PIN)
    return client, helper


@pytest.mark.parametrize("role, status", [
    ("villager", 403), ("cooperative", 403), ("regional", 403),
    ("facilitator", 200), ("admin", 200),
])
@pytest.mark.parametrize("path", PAGES)
def test_only_facilitators_and_admins_reach_the_people_pages(app, people, role, status, path):
    client, _ = signed_in(app, people[role])
    assert client.get(path).status_code == status


@pytest.mark.parametrize("path", PAGES)
def test_guests_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/signin?next=")


def test_villager_cannot_create_an_account_by_posting_directly(app, people, db):
    client, helper = signed_in(app, people["villager"])
    before = count(db, "accounts")
    response = client.post("/auth/people/new", data={
        "name": "Intruso", "role": "admin", "pin": "1357", "confirm": "1357",
        "csrf_token": helper.token()})
    assert response.status_code == 403 and count(db, "accounts") == before


def test_facilitator_adds_a_villager_who_can_then_sign_in(app, people, db):
    client, helper = signed_in(app, people["facilitator"])
    response = client.post("/auth/people/new", data={
        "name": "  Luz   María  Pilco ", "role": "villager", "lang": "qu_EC", "pin": "1357",
        "confirm": "1357", "csrf_token": helper.token()})
    assert response.status_code == 302
    assert "Luz María Pilco can now sign in" in client.get("/auth/people").get_data(
        as_text=True)
    [luz] = accounts.find_by_name(db, "Luz María Pilco")
    assert luz["lang"] == "qu_EC" and luz["centre_id"] == app.config["CENTRE_ID"]
    assert SignIn(app.test_client()).pin(luz, "1357").status_code == 302


def test_facilitator_cannot_make_staff_accounts(app, people, db):
    client, helper = signed_in(app, people["facilitator"])
    before = count(db, "accounts")
    for role in ("facilitator", "admin", "regional"):
        response = client.post("/auth/people/new", data={
            "name": f"Nuevo {role}", "role": role, "pin": "1357", "confirm": "1357",
            "csrf_token": helper.token()})
        assert response.status_code == 400
        assert "Choose one of the roles offered." in response.get_data(as_text=True)
    assert count(db, "accounts") == before


def test_admin_can_make_a_facilitator(app, people, db):
    client, helper = signed_in(app, people["admin"])
    response = client.post("/auth/people/new", data={
        "name": "Nueva Facilitadora", "role": "facilitator", "pin": "1357", "confirm": "1357",
        "csrf_token": helper.token()})
    assert response.status_code == 302
    assert accounts.find_by_name(db, "Nueva Facilitadora")[0]["role"] == "facilitator"


def test_a_second_person_with_the_same_name_is_refused(app, people, db):
    client, helper = signed_in(app, people["facilitator"])
    make_account(db, app.config["CENTRE_ID"], name="María Chimbo")
    before = count(db, "accounts")
    response = client.post("/auth/people/new", data={
        "name": "maria chimbo", "role": "villager", "pin": "1357", "confirm": "1357",
        "csrf_token": helper.token()})
    assert response.status_code == 400
    assert "already has this name" in response.get_data(as_text=True)
    assert count(db, "accounts") == before


def test_facilitator_gives_a_locked_villager_a_new_pin_which_unlocks(app, people, db, clock):
    villager = people["villager"]
    guest = SignIn(app.test_client())
    for _ in range(5):
        guest.pin(villager, "0000")
    assert accounts.lock_state(db, villager["id"], clock()) is not None

    client, helper = signed_in(app, people["facilitator"])
    listing = client.get("/auth/people").get_data(as_text=True)
    assert "Locked" in listing
    response = client.post(f"/auth/people/{villager['id']}", data={
        "pin": "8642", "confirm": "8642", "csrf_token": helper.token()})
    assert response.status_code == 302
    assert accounts.lock_state(db, villager["id"], clock()) is None
    assert SignIn(app.test_client()).pin(villager, "8642").status_code == 302


@pytest.mark.parametrize("target", ["admin", "facilitator", "regional"])
def test_facilitator_cannot_reset_staff_pins(app, people, target):
    client, helper = signed_in(app, people["facilitator"])
    assert client.get(f"/auth/people/{people[target]['id']}").status_code == 403
    response = client.post(f"/auth/people/{people[target]['id']}", data={
        "pin": "8642", "confirm": "8642", "csrf_token": helper.token()})
    assert response.status_code == 403


def test_nobody_resets_accounts_of_another_centre(app, people, db):
    stranger = make_account(db, "another-centre")
    client, _ = signed_in(app, people["admin"])
    assert client.get(f"/auth/people/{stranger['id']}").status_code == 404


def test_people_pages_do_not_exist_at_the_hub(hub_app, hub_db):
    staff = make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional")
    client, _ = signed_in(hub_app, staff)
    assert client.get("/auth/people").status_code == 404


def test_person_changes_their_own_pin_after_giving_the_current_one(app, people, db):
    client, helper = signed_in(app, people["villager"])
    wrong = client.post("/auth/me/secret", data={
        "current": "0000", "new": "5555", "confirm": "5555", "csrf_token": helper.token()})
    assert wrong.status_code == 400 and "current PIN is not right" in wrong.get_data(
        as_text=True)
    right = client.post("/auth/me/secret", data={
        "current": PIN, "new": "5555", "confirm": "5555", "csrf_token": helper.token()})
    assert right.status_code == 302
    assert SignIn(app.test_client()).pin(people["villager"], "5555").status_code == 302


def test_staff_change_their_password(app, people):
    client, helper = signed_in(app, people["regional"])
    response = client.post("/auth/me/secret", data={
        "current": "a-long-staff-password", "new": "another-long-password",
        "confirm": "another-long-password", "csrf_token": helper.token()})
    assert response.status_code == 302
    assert SignIn(app.test_client()).password(
        people["regional"]["name"], "another-long-password").status_code == 302


def test_home_offers_people_only_to_those_allowed(app, people):
    facilitator, _ = signed_in(app, people["facilitator"])
    villager, _ = signed_in(app, people["villager"])
    assert 'href="/auth/people"' in facilitator.get("/").get_data(as_text=True)
    assert 'href="/auth/people"' not in villager.get("/").get_data(as_text=True)
