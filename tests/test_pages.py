"""Every page, rendered as each kind of visitor would see it: nothing loads from the internet,
every page carries the strict Content-Security-Policy, and guests can browse public pages."""

import re

import pytest

from .conftest import SignIn
from .factories import PASSWORD, PIN, make_account

# An attribute or CSS url() that points at another host (scheme-relative URLs included).
EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|action|poster|srcset|data|formaction|content)\s*=\s*["']?\s*"""
    r"""|url\(\s*["']?|@import\s+["']?)(?:[a-z][a-z0-9+.-]*:)?//(?!127\.0\.0\.1|localhost)""",
    re.IGNORECASE)


def visit_every_page(app, hub_app, db, hub_db):
    """(label, status, html) for every page of a centre and of the hub, as each role sees it."""
    centre = app.config["CENTRE_ID"]
    villager = make_account(db, centre, name="Rosa Quishpe")
    facilitator = make_account(db, centre, role="facilitator", name="Lucía Andrango")
    staff = make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional",
                         name="Patricia Vega")

    guest = app.test_client()
    pages = [("/", 200), ("/language", 200), ("/auth/signin", 200), ("/auth/signin?q=zz", 200),
             (f"/auth/signin/{villager['id']}", 200), ("/auth/password", 200),
             ("/no-such-page", 404)]
    for path, status in pages:
        yield f"guest {path}", guest.get(path)

    rosa = app.test_client()
    SignIn(rosa).pin(villager, PIN)
    for path in ("/", "/auth/me", "/auth/people"):
        yield f"villager {path}", rosa.get(path)

    lucia = app.test_client()
    SignIn(lucia).pin(facilitator, PIN)
    for path in ("/", "/auth/people", "/auth/people?q=ros", "/auth/people/new",
                 f"/auth/people/{villager['id']}"):
        yield f"facilitator {path}", lucia.get(path)

    hub_guest = hub_app.test_client()
    for path in ("/", "/auth/signin", "/language"):
        yield f"hub guest {path}", hub_guest.get(path)
    patricia = hub_app.test_client()
    SignIn(patricia).password(staff["name"], PASSWORD)
    for path in ("/", "/auth/me"):
        yield f"hub staff {path}", patricia.get(path)


@pytest.fixture
def every_page(app, hub_app, db, hub_db):
    return list(visit_every_page(app, hub_app, db, hub_db))


def test_guests_browse_public_pages_without_signing_in(every_page):
    statuses = {label: r.status_code for label, r in every_page if label.startswith("guest")}
    assert statuses["guest /"] == statuses["guest /language"] == statuses[
        "guest /auth/signin"] == 200


def test_no_page_loads_anything_from_the_internet(every_page):
    for label, response in every_page:
        html = response.get_data(as_text=True)
        assert "<html" in html, label
        found = EXTERNAL.findall(html)
        assert not found, f"{label} refers to another host: {found}"


def test_every_page_has_a_content_security_policy_allowing_only_this_server(every_page):
    for label, response in every_page:
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "http" not in policy, label
        assert "'unsafe-inline'" not in policy


def test_static_files_refer_to_no_other_host(client):
    from pathlib import Path

    static = Path(client.application.static_folder)
    for path in static.rglob("*"):
        if path.suffix in (".css", ".js", ".svg", ".html"):
            text = path.read_text(encoding="utf-8")
            text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
            assert not EXTERNAL.findall(text), path.name
            assert "http://" not in text and "https://" not in text, path.name


def test_the_offline_check_would_catch_an_external_asset():
    for bad in ('<script src="https://cdn.example/x.js">', "<link href='//fonts.example/css'>",
                "background: url(https://x.example/a.png)", '@import "//x.example/y.css"'):
        assert EXTERNAL.search(bad), bad
    assert not EXTERNAL.search('<a href="/auth/signin">')


def test_every_page_has_one_sign_out_button_when_signed_in(every_page):
    for label, response in every_page:
        html = response.get_data(as_text=True)
        signed_in = not label.startswith(("guest", "hub guest"))
        assert html.count('id="signout-form"') == (1 if signed_in else 0), label
