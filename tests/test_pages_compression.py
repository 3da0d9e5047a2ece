"""Text responses travel gzipped when the browser accepts it (issue 14: a village's sign-in list
was 230 KB on the centre's network), and as they are when it does not; compressed media and
tiny answers are left alone."""

from __future__ import annotations

import gzip
import io

import pytest
from PIL import Image

from kiosk.auth import models as accounts

from .conftest import SignIn
from .factories import PIN, make_account, make_village

GZIP = {"Accept-Encoding": "gzip, deflate, br"}


@pytest.fixture
def village(app, db):
    return make_village(db, app.config["CENTRE_ID"], [f"Persona {n} Quishpe" for n in range(50)])


def vary(response) -> set[str]:
    return {v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()}


def test_pages_are_gzipped_when_the_browser_asks(client, village):
    plain = client.get("/auth/signin")
    packed = client.get("/auth/signin", headers=GZIP)

    assert packed.status_code == 200 and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert int(packed.headers["Content-Length"]) == len(packed.get_data())
    assert len(packed.get_data()) * 4 < len(plain.get_data())
    assert {"Accept-Encoding", "Cookie"} <= vary(packed)
    assert packed.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br"])
def test_pages_are_sent_as_they_are_when_gzip_is_not_asked_for(client, village, accept):
    response = client.get("/auth/signin", headers={"Accept-Encoding": accept} if accept else {})
    assert "Content-Encoding" not in response.headers
    assert "Persona 7 Quishpe" in response.get_data(as_text=True)
    assert "Accept-Encoding" in vary(response)  # a cache must not give gzip to this browser


@pytest.mark.parametrize("path", ["/static/css/app.css", "/static/js/app.js",
                                  "/static/img/icons.svg"])
def test_styles_scripts_and_icons_are_gzipped_and_still_revalidate(app, client, path):
    with open(f"{app.static_folder}/{path.removeprefix('/static/')}", "rb") as f:
        original = f.read()
    for _ in range(2):  # the second time from the compressed copy kept in memory
        response = client.get(f"{path}?v=1", headers=GZIP)
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.get_data()) == original
    assert client.get(path).get_data() == original
    again = client.get(path, headers={**GZIP, "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_photos_and_small_answers_are_not_gzipped(app, db, client):
    out = io.BytesIO()
    Image.new("RGB", (300, 300), (200, 80, 40)).save(out, "JPEG")
    facilitator = make_account(db, app.config["CENTRE_ID"], role="facilitator", name="Lucía")
    rosa = make_account(db, app.config["CENTRE_ID"], name="Rosa Quishpe", pin=None)
    helper = SignIn(client)
    helper.pin(facilitator, PIN)
    client.post(f"/auth/people/{rosa['id']}/photo", data={
        "csrf_token": helper.token(), "photo": (io.BytesIO(out.getvalue()), "rosa.jpg")})
    photo = accounts.find_account(db, rosa["id"])["photo"]
    assert photo

    for path in (f"/media/{photo}", f"/media/{photo}/96"):
        response = client.get(path, headers=GZIP)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "Content-Encoding" not in response.headers
    keepalive = client.post("/auth/keepalive", headers={**GZIP, "X-CSRFToken": helper.token()})
    assert keepalive.is_json and "Content-Encoding" not in keepalive.headers


def test_the_sync_api_is_left_to_compress_and_sign_its_own_bodies(hub_client):
    response = hub_client.get("/api/sync/v1/openapi.json", headers=GZIP)
    assert response.status_code == 200 and len(response.get_data()) > 1024
    assert "Content-Encoding" not in response.headers
