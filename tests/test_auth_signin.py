"""Signing in on a shared terminal: the name list, the PIN, lockout, and the hub's password."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kiosk.auth import models as accounts
from kiosk.data import open_db

from .conftest import SignIn
from .factories import PASSWORD, PIN, count, make_account, make_village


@pytest.fixture
def rosa(app, db):
    return make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="es")


def test_name_list_shows_people_of_this_centre_sorted_without_accents(app, db, client):
    centre = app.config["CENTRE_ID"]
    for name in ("Manuel Guamán", "Ángel Yupanqui", "Carmen Paucar"):
        make_account(db, centre, name=name)
    make_account(db, "another-centre", name="Berta Otra")
    make_account(db, centre, name="Patricia Vega", role="regional")

    html = client.get("/auth/signin").get_data(as_text=True)

    shown = [n for n in ("Ángel Yupanqui", "Carmen Paucar", "Manuel Guamán") if n in html]
    assert shown == ["Ángel Yupanqui", "Carmen Paucar", "Manuel Guamán"]
    assert html.index("Ángel") < html.index("Carmen") < html.index("Manuel")
    assert "Berta Otra" not in html  # another centre's villager
    assert "Patricia Vega" not in html  # staff sign in with a password, not from the list
    assert ">ÁY<" in html  # initials stand in for a picture


@pytest.mark.parametrize("query, shown, hidden", [
    ("man", "Manuel Guamán", "Rosa Quishpe"),
    ("guam", "Manuel Guamán", "Rosa Quishpe"),  # any word of the name
    ("ANGEL", "Ángel Yupanqui", "Manuel Guamán"),  # case and accents ignored
])
def test_name_list_filters_by_first_letters_without_javascript(app, db, client, query, shown,
                                                               hidden):
    for name in ("Manuel Guamán", "Ángel Yupanqui", "Rosa Quishpe"):
        make_account(db, app.config["CENTRE_ID"], name=name)
    html = client.get("/auth/signin", query_string={"q": query}).get_data(as_text=True)
    assert shown in html and hidden not in html


def test_letter_buttons_narrow_the_list(app, db, client):
    for name in ("Manuel Guamán", "María Chimbo", "Rosa Quishpe"):
        make_account(db, app.config["CENTRE_ID"], name=name)
    html = client.get("/auth/signin?letter=M").get_data(as_text=True)
    assert "Manuel Guamán" in html and "María Chimbo" in html and "Rosa Quishpe" not in html


FIRST = ["Ana", "Ángel", "Bertha", "Carmen", "Dolores", "Efraín", "Fanny", "Gloria", "Héctor",
         "Inés", "José", "Killa", "Luis", "Manuel", "María", "Nina", "Ñusta", "Olga", "Pedro",
         "Rosa"]
FAMILY = ["Quishpe", "Guamán", "Chimbo"]
SIXTY = [f"{first} {family}" for family in FAMILY for first in FIRST]


def name_cards(html: str) -> list[str]:
    """The names on the page that one touches to sign in."""
    return re.findall(r'class="name-card" href="[^"]+">.*?<span>([^<]+)</span>', html)


def test_with_sixty_names_every_name_shows_at_once(app, db, client):
    make_village(db, app.config["CENTRE_ID"], SIXTY)

    html = client.get("/auth/signin").get_data(as_text=True)

    assert sorted(name_cards(html)) == sorted(SIXTY)
    assert "Touch your name." in html and "data-filter-names" in html  # filtered as one types


def test_above_sixty_names_letters_come_first_then_the_names_under_one(app, db, client):
    make_village(db, app.config["CENTRE_ID"], [*SIXTY, "Zoila Tigse"])

    html = client.get("/auth/signin").get_data(as_text=True)
    assert name_cards(html) == []
    assert "Touch the first letter of your name." in html
    letters = re.findall(r'class="letter" href="/auth/signin\?letter=([^"]+)"><bdi>', html)
    assert letters == list("ABCDEFGHIJKLMNOPRZ")  # Ángel is an A, Ñusta an N
    assert "data-filter-names" not in html  # nothing to filter on the page: the form asks

    under_n = name_cards(client.get("/auth/signin?letter=N").get_data(as_text=True))
    assert under_n == ["Nina Chimbo", "Nina Guamán", "Nina Quishpe", "Ñusta Chimbo",
                       "Ñusta Guamán", "Ñusta Quishpe"]
    under_a = name_cards(client.get("/auth/signin?letter=A").get_data(as_text=True))
    assert under_a == ["Ana Chimbo", "Ana Guamán", "Ana Quishpe", "Ángel Chimbo",
                       "Ángel Guamán", "Ángel Quishpe"]


@pytest.mark.parametrize("query, shown", [
    ("tigse", ["Zoila Tigse"]),
    ("ANGEL", ["Ángel Chimbo", "Ángel Guamán", "Ángel Quishpe"]),
    ("rosa g", ["Rosa Guamán"]),
    ("zzz", []),
])
def test_above_sixty_names_typing_a_name_still_finds_it(app, db, client, query, shown):
    make_village(db, app.config["CENTRE_ID"], [*SIXTY, "Zoila Tigse"])
    html = client.get("/auth/signin", query_string={"q": query}).get_data(as_text=True)
    assert name_cards(html) == shown
    assert ('id="no-names" hidden' in html) == bool(shown)


def test_who_signed_in_here_lately_comes_first_at_this_terminal_only(app, db, client):
    people = make_village(db, app.config["CENTRE_ID"], [*SIXTY, "Zoila Tigse"])
    zoila, rosa = people[-1], people[SIXTY.index("Rosa Quishpe")]
    for person in (rosa, zoila):
        terminal = SignIn(client)
        assert terminal.pin(person, PIN).status_code == 302
        terminal.out()

    html = client.get("/auth/signin").get_data(as_text=True)
    assert name_cards(html) == ["Zoila Tigse", "Rosa Quishpe"]  # the latest first
    assert "Not there? Touch the first letter of your name." in html
    other_terminal = app.test_client().get("/auth/signin").get_data(as_text=True)
    assert name_cards(other_terminal) == []
    client.set_cookie("recent_names", "no-such-id." + zoila["id"])  # a deleted account, say
    html = client.get("/auth/signin").get_data(as_text=True)
    assert name_cards(html) == ["Zoila Tigse"]


def test_right_pin_signs_in_and_returns_to_the_page_asked_for(rosa, client, sign_in):
    response = sign_in.pin(rosa, PIN, next="/auth/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/me"
    assert "Rosa Quishpe" in client.get("/auth/me").get_data(as_text=True)


def test_next_pointing_at_another_site_is_ignored(rosa, sign_in):
    response = sign_in.pin(rosa, PIN, next="//evil.example/steal")
    assert response.headers["Location"] == "/"


def test_wrong_pin_says_how_many_tries_are_left(rosa, client, sign_in):
    response = sign_in.pin(rosa, "0000")
    assert response.status_code == 400
    assert "You can try 4 more times" in response.get_data(as_text=True)
    assert client.get("/auth/me").status_code == 302  # still a guest


def test_five_wrong_pins_lock_the_account_for_five_minutes(rosa, client, sign_in, clock, db):
    for _ in range(4):
        assert sign_in.pin(rosa, "0000").status_code == 400
    locked = sign_in.pin(rosa, "0000")
    assert locked.status_code == 403
    # The clock of the tests says 15:00 UTC; the centre's zone is America/Guayaquil (UTC-5).
    assert "opens again at 10:05\u202fAM, in 5 minutes" in locked.get_data(as_text=True)

    clock.advance(minutes=4)
    still = sign_in.pin(rosa, PIN)  # even the right PIN is refused while locked
    assert still.status_code == 403
    assert "opens again at 10:05\u202fAM, in 1 minute." in still.get_data(as_text=True)

    clock.advance(minutes=1, seconds=1)
    assert sign_in.pin(rosa, PIN).status_code == 302
    assert count(db, "pin_failures") == 0


def test_a_right_pin_resets_the_count_of_wrong_ones(rosa, sign_in, db, clock):
    for _ in range(3):
        sign_in.pin(rosa, "0000")
    assert sign_in.pin(rosa, PIN).status_code == 302
    sign_in.out()
    for _ in range(4):
        assert sign_in.pin(rosa, "0000").status_code == 400  # four more, not locked yet


def test_pin_page_of_unknown_or_foreign_account_is_not_found(app, db, client):
    stranger = make_account(db, "another-centre")
    assert client.get("/auth/signin/no-such-id").status_code == 404
    assert client.get(f"/auth/signin/{stranger['id']}").status_code == 404


def test_regional_staff_sign_in_at_a_centre_with_their_password(app, db, sign_in, client):
    make_account(db, app.config["CENTRE_ID"], role="regional", name="Patricia Vega")
    assert sign_in.password("patricia vega", PASSWORD).status_code == 302
    assert "Patricia Vega" in client.get("/auth/me").get_data(as_text=True)


def test_hub_has_no_name_list_only_name_and_password(hub_app, hub_db, hub_client, hub_sign_in):
    hub = hub_app.config["CENTRE_ID"]
    staff = make_account(hub_db, hub, role="regional", name="Patricia Vega")
    html = hub_client.get("/auth/signin").get_data(as_text=True)
    assert 'name="password"' in html and "Patricia Vega" not in html
    assert hub_client.get(f"/auth/signin/{staff['id']}").status_code == 404

    wrong = hub_sign_in.password("Patricia Vega", "not-the-password")
    assert wrong.status_code == 400 and "do not match" in wrong.get_data(as_text=True)
    assert hub_sign_in.password("Patricia Vega", PASSWORD).status_code == 302


def test_unknown_name_and_wrong_password_get_the_same_answer(hub_app, hub_db, hub_sign_in):
    make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional", name="Patricia Vega")
    unknown = hub_sign_in.password("Nadie", PASSWORD).get_data(as_text=True)
    wrong = hub_sign_in.password("Patricia Vega", "wrong-password").get_data(as_text=True)
    assert "That name and password do not match." in unknown
    assert "That name and password do not match." in wrong


def test_wrong_passwords_lock_staff_accounts_too(hub_app, hub_db, hub_sign_in):
    make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional", name="Patricia Vega")
    for _ in range(4):
        hub_sign_in.password("Patricia Vega", "wrong-password")
    assert hub_sign_in.password("Patricia Vega", "wrong-password").status_code == 403
    assert hub_sign_in.password("Patricia Vega", PASSWORD).status_code == 403


def test_a_burst_of_wrong_pins_in_parallel_compares_five_and_locks(app, rosa, clock):
    """Fifty tries at once, each on its own connection as each server thread has one: only
    five PINs are ever compared, and the account is locked afterwards (a late try used to
    erase the lock another had just set)."""
    path = app.config["DATABASE"]
    barrier = threading.Barrier(50)

    def attempt(pin):
        db = open_db(path)
        try:
            barrier.wait()
            return accounts.check_secret(db, rosa["id"], pin, clock(), max_failures=5,
                                         lock_minutes=5)
        finally:
            db.close()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(attempt, [f"{n:04d}" for n in range(50)]))
    assert sum(r.checked for r in results) == 5
    assert not any(r.ok for r in results)
    db = open_db(path)
    assert accounts.lock_state(db, rosa["id"], clock()) is not None
    right = accounts.check_secret(db, rosa["id"], PIN, clock(), max_failures=5, lock_minutes=5)
    assert not right.ok and not right.checked


def test_a_locked_name_answers_no_faster_than_an_unknown_one(hub_app, hub_db, hub_sign_in):
    make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional", name="Patricia Vega")
    for _ in range(5):
        hub_sign_in.password("Patricia Vega", "wrong-password")

    def slowest_of_three(name):
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            hub_sign_in.password(name, "wrong-password")
            timings.append(time.perf_counter() - started)
        return min(timings)

    unknown, locked = slowest_of_three("Nadie"), slowest_of_three("Patricia Vega")
    # A comparison costs a PBKDF2 hash (a tenth of a second or more); a refusal without one
    # answered in a few milliseconds.
    assert locked > unknown * 0.6, (locked, unknown)


def test_pin_hashes_are_slow_and_salted(app, db):
    one = make_account(db, app.config["CENTRE_ID"])
    two = make_account(db, app.config["CENTRE_ID"])
    hashes = [r["pin_hash"] for r in db.query("SELECT pin_hash FROM accounts WHERE id IN (?, ?)",
                                              [one["id"], two["id"]])]
    assert all(h.startswith("pbkdf2:sha256:600000$") for h in hashes)
    assert hashes[0] != hashes[1] and PIN not in hashes[0]
    assert accounts.check_secret(db, one["id"], PIN, accounts.dt.datetime.now(
        accounts.dt.timezone.utc), max_failures=5, lock_minutes=5).ok


def test_each_name_is_under_the_letter_its_folded_name_starts_with(app, db):
    centre = app.config["CENTRE_ID"]
    odd = ["Ángel Yupanqui", "A\u0301lvaro Ati", "\u0301Xavier Marca", "ßara Pilco", "Ñusta Lema",
           "ñaña Caiza", "سلمى حداد", "Ωmega Tigse", "1 Uno", "ǅemal Hodžić", "ﬁdel Ati",
           "émile Cuji"]
    make_village(db, centre, odd)

    count, firsts = accounts.sign_in_letters(db, centre)

    expected: dict[str, list[str]] = {}
    for name in sorted(odd, key=accounts.sort_key):
        expected.setdefault((accounts.sort_key(name)[:1] or "?").upper(), []).append(name)
    assert count == len(odd) and sorted(firsts) == sorted(expected)
    for letter, names in expected.items():
        found = accounts.sign_in_names(db, centre, letter=letter, firsts=firsts[letter])
        assert [p["name"] for p in found] == names, letter
