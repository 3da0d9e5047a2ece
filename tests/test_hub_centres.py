"""The hub's pages of the centres, for the regional staff, against a real served hub: centres
registered and set up through the real command line, one synced for real (its last exchange,
software and data version are what the hub recorded), one silent. One hub for the module."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import xml.etree.ElementTree as ET

import pytest
import requests

from kiosk import create_app
from kiosk.auth.models import find_by_name
from kiosk.data import get_db, new_id

from .conftest import csrf_from
from .live import DEMO, DEMO_PASSWORD, DEMO_PIN, db_rows, infocentre, join_centre, start_demo_server

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(session, url) -> str:
    return CSRF.search(session.get(url + "/language").text).group(1)


def staff(hub, lang="en") -> requests.Session:
    """A regional staff member signed in at the hub, pages in ``lang``."""
    s = requests.Session()
    url = hub["server"].url
    answer = s.post(url + "/auth/password", data={
        "name": DEMO["regional"], "password": DEMO_PASSWORD, "csrf_token": _csrf(s, url)})
    assert answer.ok and "/auth/" not in answer.url
    s.post(url + "/language", data={"lang": lang, "csrf_token": _csrf(s, url)})
    return s


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub-centres")
    server = start_demo_server(root / "hub", role="hub", courses=False)
    try:
        synced_id, _ = join_centre(root / "hub", root / "synced", "Centro Sincronizado",
                                   hub_url=server.url)
        silent_id, _ = join_centre(root / "hub", root / "silent", "Centro Callado",
                                   hub_url=server.url)
        # The silent one did sync once, long ago; the other now, for real.
        for path in (root / "silent", root / "synced"):
            done = infocentre(path, "sync", "now", "--json")
            assert json.loads(done.stdout.splitlines()[-1])["status"] == "synced"
        with sqlite3.connect(root / "hub" / "infocentre.db") as db:
            long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)).strftime(
                "%Y-%m-%d %H:%M:%S")
            db.execute("UPDATE _sync_nodes SET last_seen_at = ? WHERE node_id = ?",
                       [long_ago, silent_id])
        yield {"server": server, "root": root, "synced": synced_id, "silent": silent_id}
    finally:
        server.stop()


def nodes(hub) -> list[tuple]:
    return db_rows(hub["root"] / "hub", "SELECT node_id, revoked_at FROM _sync_nodes "
                   "ORDER BY created_at, node_id")


def test_the_list_shows_what_the_hub_recorded_and_alerts_for_the_silent_centre(hub):
    page = staff(hub).get(hub["server"].url + "/hub/centres").text
    version = db_rows(hub["root"] / "synced", "SELECT count(*) FROM _sqlite_migrations")
    recorded = db_rows(hub["root"] / "hub", "SELECT software, schema_version, waiting, "
                       "last_seen_at FROM _sync_nodes WHERE node_id = ?", [hub["synced"]])[0]
    software, schema, waiting, seen = recorded
    assert re.fullmatch(r"\d+\.\d+.*|dev", software) and schema and waiting == 0 and seen
    assert version[0][0] >= schema  # the centre's data version, as it reported it
    alert = page[page.index('class="notice warn centres-alert"'):page.index("</ul>")]
    assert "1 centre has not synced for more than 7 days." in alert
    assert "Centro Callado" in alert and "Centro Sincronizado" not in alert
    row = re.search(r"<tr>\s*<td><a [^>]*>Centro Sincronizado</a>.*?</tr>", page, re.S).group(0)
    assert re.search(r"\d+ seconds? ago|minute", row), row
    assert software in row and f"data {schema}" in row
    assert re.search(r"At the centre: <strong>0</strong>", row)
    assert re.search(r"For the centre: <strong>0</strong>", row)  # it pulled all there was


def test_staff_home_leads_with_the_centres(hub):
    home = staff(hub).get(hub["server"].url + "/").text
    assert re.findall(r'tile-label">([^<]+)', home)[0] == "Centres"


def test_people_of_a_centre_cannot_reach_the_hub_pages(hub):
    url = hub["server"].url
    anonymous = requests.get(url + "/hub/centres", allow_redirects=False)
    assert anonymous.status_code == 302 and "/auth/" in anonymous.headers["Location"]
    # A centre's facilitator, at their centre (one of the hub's, with the demo's people).
    centre = hub["root"] / "synced"
    infocentre(centre, "demo")
    app = create_app({"DATA_DIR": str(centre), "TESTING": True})
    client = app.test_client()
    with app.app_context():
        account = find_by_name(get_db(), DEMO["facilitator"])[0]
    signed = client.post(f"/auth/signin/{account['id']}", data={
        "pin": DEMO_PIN["facilitator"], "csrf_token": csrf_from(client.get("/language"))})
    assert signed.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert DEMO["facilitator"] in home and "/hub/centres" not in home
    for path in ("/hub/centres", "/hub/centres/new", f"/hub/centres/{hub['synced']}",
                 f"/hub/centres/{hub['synced']}/months.csv"):
        assert client.get(path).status_code == 404
    assert client.post(f"/hub/centres/{hub['synced']}/revoke", data={
        "csrf_token": csrf_from(client.get("/language"))}).status_code == 404


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "\u200b\u200b", "a\x07b", ["A", "B"]])
def test_a_bad_name_registers_nothing(hub, name):
    s = staff(hub, "es")
    url = hub["server"].url
    before = nodes(hub)
    answer = s.post(url + "/hub/centres/new", data={
        "name": name, "csrf_token": _csrf(s, url)})
    assert answer.status_code == 400
    assert "El nombre del centro debe tener de 1 a 80 caracteres legibles." in answer.text \
        or "must have 1 to 80" in answer.text
    assert nodes(hub) == before


def test_registering_shows_the_token_once_and_it_works(hub, tmp_path):
    s = staff(hub)
    url = hub["server"].url
    before = nodes(hub)
    name = "<script>alert(1)</script> Centro Nuevo"
    answer = s.post(url + "/hub/centres/new", data={"name": name, "csrf_token": _csrf(s, url)})
    assert answer.status_code == 200 and answer.url == url + "/hub/centres/new"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "<script>alert" not in answer.text and "&lt;script&gt;" in answer.text
    token = re.search(r'<pre class="token" dir="ltr" id="token">([^<]+)</pre>',
                      answer.text).group(1)
    assert f"infocentre join --hub {url} --token {token}" in answer.text
    assert len(nodes(hub)) == len(before) + 1
    # Never again: not on the list, not on the centre's page, not in the hub's database.
    node_id = token.split(".")[0]
    for path in ("/hub/centres", f"/hub/centres/{node_id}"):
        assert token not in s.get(url + path).text
    assert token.encode() not in (hub["root"] / "hub" / "infocentre.db").read_bytes()
    # The same form sent again (a replay, or Reload): refused, nothing added.
    again = s.post(url + "/hub/centres/new", data={"name": name, "csrf_token": _csrf(s, url)})
    assert again.status_code == 400 and "already registered" in again.text
    assert len(nodes(hub)) == len(before) + 1
    # The token is a real one: a centre set up with it syncs.
    infocentre(tmp_path / "new", "init", "--role", "node", "--name", "Centro Nuevo", "--hub",
               url, "--token", token)
    assert infocentre(tmp_path / "new", "sync", "now").returncode == 0


def test_revoking_asks_first_then_refuses_a_replay_and_unknown_ids(hub):
    s = staff(hub)
    url = hub["server"].url
    made = json.loads(infocentre(hub["root"] / "hub", "hub", "add-node", "Centro Cerrado",
                                 "--json").stdout)
    path = f"/hub/centres/{made['node_id']}/revoke"
    confirm = s.get(url + path)
    assert "Revoke Centro Cerrado?" in confirm.text
    assert dict(nodes(hub))[made["node_id"]] is None  # asking changes nothing
    assert s.post(url + path, data={}).status_code == 400  # no CSRF token: not done
    assert dict(nodes(hub))[made["node_id"]] is None
    done = s.post(url + path, data={"csrf_token": _csrf(s, url)})
    assert "Centro Cerrado can no longer sync with the hub." in done.text
    revoked_at = dict(nodes(hub))[made["node_id"]]
    assert revoked_at
    replay = s.post(url + path, data={"csrf_token": _csrf(s, url)})
    assert "Centro Cerrado was already revoked: nothing was changed." in replay.text
    assert dict(nodes(hub))[made["node_id"]] == revoked_at
    before = nodes(hub)
    for bad in ("no-such-centre", "x" * 500, "%3Cscript%3E"):
        answer = s.post(url + f"/hub/centres/{bad}/revoke", data={"csrf_token": _csrf(s, url)})
        assert answer.status_code == 404
        assert "This centre is not registered at this hub." in answer.text
    assert nodes(hub) == before


def _learning(hub, centre_id: str) -> None:
    """Records of the synced centre, as its sync brings them to the hub: two learners, three
    lessons finished this month, one certificate this month and one in an earlier month."""
    now = dt.datetime.now(dt.timezone.utc)
    this_month = now.replace(day=1, hour=17).isoformat(timespec="seconds")
    months_ago = (now - dt.timedelta(days=75)).isoformat(timespec="seconds")
    with sqlite3.connect(hub["root"] / "hub" / "infocentre.db") as db:
        learners = [new_id(), new_id()]
        for i, learner in enumerate(learners):
            db.execute("INSERT INTO accounts (id, centre_id, name, role, created_at, "
                       "updated_at) VALUES (?, ?, ?, 'villager', ?, ?)",
                       [learner, centre_id, f"Aprendiz {i}", this_month, this_month])
        for i in range(3):
            db.execute("INSERT INTO progress (id, centre_id, learner_id, course_id, lesson_id, "
                       "done, done_at) VALUES (?, ?, ?, 'c', ?, 1, ?)",
                       [new_id(), centre_id, learners[0], f"l{i}", this_month])
        for learner, moment in ((learners[0], this_month), (learners[1], months_ago)):
            db.execute("INSERT INTO certificates (id, centre_id, learner_id, course_id, "
                       "issued_at) VALUES (?, ?, ?, 'c', ?)",
                       [new_id(), centre_id, learner, moment])


def test_a_centres_page_a_chart_and_its_csv(hub):
    _learning(hub, hub["silent"])
    url = hub["server"].url + f"/hub/centres/{hub['silent']}"
    page = staff(hub).get(url).text
    assert "has not synced for more than 7 days" in page
    for svg in re.findall(r"<svg xmlns=.*?</svg>", page, re.S):
        root = ET.fromstring(svg)  # well-formed XML
        assert root.get("role") == "img" and root.find("{http://www.w3.org/2000/svg}title").text
    charts = re.findall(r"<svg xmlns=.*?</svg>", page, re.S)
    assert len(charts) == 2 and ">3</text>" in charts[0]
    table = page[page.index('<table class="people months">'):]
    first = re.search(r"<tr><th scope=\"row\">[^<]+</th>(.*?)</tr>", table).group(1)
    assert re.findall(r"<td>(\d+)</td>", first) == ["2", "3", "1"]  # this month, first
    assert "Aprendiz 0" in page and "Aprendiz 1" in page
    for lang, separator in (("es", ";"), ("en", ",")):
        answer = staff(hub, lang).get(url + "/months.csv")
        assert answer.headers["Content-Type"].startswith("text/csv")
        assert answer.content.startswith(b"\xef\xbb\xbf")
        lines = answer.content.decode("utf-8-sig").splitlines()
        assert len(lines) == 13 and lines[0].count(separator) == 3
        month = dt.datetime.now().strftime("%Y-%m")
        assert lines[-1] == separator.join([f'"{month}"', "2", "3", "1"])


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["es", "qu_EC", "ar"])
def test_the_list_fits_a_small_screen_with_its_alert(hub, browser, lang):
    context = browser.new_context(viewport={"width": 1024, "height": 600})
    page = context.new_page()
    base = hub["server"].url
    try:
        page.goto(f"{base}/auth/signin")
        page.fill("#name", DEMO["regional"])
        page.fill("#password", DEMO_PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/language")
        page.locator(f"button[name=lang][value={lang}]").click()
        page.wait_for_load_state()
        page.goto(f"{base}/hub/centres")
        alert = page.locator(".centres-alert")
        assert alert.is_visible() and "Centro Callado" in alert.inner_text()
        box = alert.bounding_box()
        assert box["y"] + box["height"] <= 600  # seen without scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 1024
    finally:
        context.close()
