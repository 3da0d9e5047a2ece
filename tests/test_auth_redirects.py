"""Where a person is sent after signing in or choosing a language: only paths of this site, as
a browser reads them (issue 14: a fake PIN pad on a neighbour's machine)."""

import pytest

from .factories import PASSWORD, PIN, make_account

# Each is another site once a browser has dropped tabs and line breaks and read "\" as "/", or a
# value no Location header can carry.
ELSEWHERE = [
    "//evil.example/fake-pin",
    "///evil.example/fake-pin",
    "/\\evil.example/fake-pin",
    "\\\\evil.example/fake-pin",
    "/\t/evil.example/fake-pin",
    "\t//evil.example/fake-pin",
    "/\n/evil.example/fake-pin",
    " //evil.example/fake-pin",
    "https:evil.example/fake-pin",
    "https://evil.example/fake-pin",
    "javascript:alert(1)",
    "/\r\nSet-Cookie: sid=stolen",
    "/courses/\r\nSet-Cookie: sid=stolen",
    "/" + "a" * 5000,
]


@pytest.fixture
def rosa(app, db):
    return make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", lang="es")


@pytest.mark.parametrize("target", ELSEWHERE)
def test_signing_in_never_leaves_the_site(rosa, client, sign_in, target):
    page = client.get("/auth/signin", query_string={"next": target})
    assert page.status_code == 200
    assert "evil.example" not in page.get_data(as_text=True)
    assert "Set-Cookie" not in page.get_data(as_text=True)

    response = sign_in.pin(rosa, PIN, next=target)

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Rosa Quishpe" in client.get("/auth/me").get_data(as_text=True)  # signed in fully


@pytest.mark.parametrize("target", ELSEWHERE)
def test_staff_signing_in_with_a_password_never_leave_the_site(hub_app, hub_db, hub_client,
                                                               hub_sign_in, target):
    make_account(hub_db, hub_app.config["CENTRE_ID"], name="Patricia Vega", role="regional")
    response = hub_sign_in.password("Patricia Vega", PASSWORD, next=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Patricia Vega" in hub_client.get("/auth/me").get_data(as_text=True)


@pytest.mark.parametrize("target", ELSEWHERE)
def test_choosing_a_language_never_leaves_the_site(rosa, client, sign_in, target):
    sign_in.pin(rosa, PIN)
    page = client.get("/language", query_string={"next": target})
    assert page.status_code == 200 and "evil.example" not in page.get_data(as_text=True)

    response = client.post("/language", data={"lang": "fr", "next": target,
                                              "csrf_token": sign_in.token()})

    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert 'lang="fr"' in client.get("/").get_data(as_text=True)  # and the choice was kept


@pytest.mark.parametrize("target", ["/auth/me", "/courses/?topic=computer&all=1", "/language"])
def test_paths_of_this_site_are_followed(rosa, client, sign_in, target):
    assert sign_in.pin(rosa, PIN, next=target).headers["Location"] == target
    response = client.post("/language", data={"lang": "es", "next": target,
                                              "csrf_token": sign_in.token()})
    assert response.headers["Location"] == target
