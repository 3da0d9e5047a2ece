"""Fixtures: real installations in temporary directories, the app, clients, a fake clock, and
live servers started as ``infocentre serve`` starts them."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest
from click.testing import CliRunner
from hypothesis import settings

from kiosk import create_app
from kiosk.cli import cli
from kiosk.data import open_db
from kiosk.installation import init_installation

from .live import LiveServer, start_demo_server
from .sync_world import World, make_template

# Property tests: 200 examples in every run; HYPOTHESIS_PROFILE=thorough runs 1,000.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


class Clock:
    """A fake clock for the app's ``NOW`` setting: starts at a fixed moment, moves on request."""

    def __init__(self):
        self.now = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """No INFOCENTRE_* setting leaks in from the developer's shell; CLI messages in English."""
    import os

    for name in list(os.environ):
        if name.startswith("INFOCENTRE_"):
            monkeypatch.delenv(name)
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def data_dir(tmp_path):
    """A fresh centre, set up by the function ``infocentre init`` uses.

    Its default language is English so that tests read like the code; tests of Spanish (every
    real centre's default) choose it explicitly."""
    path = tmp_path / "centre"
    init_installation(path, role="node", name="Centro de Prueba", language="en")
    return path


@pytest.fixture
def hub_dir(tmp_path):
    path = tmp_path / "hub"
    init_installation(path, role="hub", name="Hub Regional", language="en")
    return path


def make_app(path, clock, **extra):
    return create_app({"DATA_DIR": str(path), "NOW": clock, "TESTING": True, **extra})


@pytest.fixture
def app(data_dir, clock):
    return make_app(data_dir, clock)


@pytest.fixture
def hub_app(hub_dir, clock):
    return make_app(hub_dir, clock)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def hub_client(hub_app):
    return hub_app.test_client()


@pytest.fixture
def db(app):
    database = open_db(app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def hub_db(hub_app):
    database = open_db(hub_app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def run_cli(runner):
    """Run ``infocentre --data-dir DIR ARGS...`` in-process; returns click's Result."""

    def run(data_dir, *args, input=None):
        return runner.invoke(cli, ["--data-dir", str(data_dir), *map(str, args)], input=input,
                             catch_exceptions=False)

    return run


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


class SignIn:
    """Signs people in and out through the real pages (flaskr's AuthActions)."""

    def __init__(self, client):
        self.client = client

    def token(self) -> str:
        """This session's CSRF token, from a page that always has a form."""
        return csrf_from(self.client.get("/language"))

    def pin(self, account, pin, **data):
        path = f"/auth/signin/{account['id']}"
        return self.client.post(path, data={"pin": pin, "csrf_token": self.token(), **data})

    def password(self, name, password, **data):
        return self.client.post("/auth/password", data={
            "name": name, "password": password, "csrf_token": self.token(), **data})

    def out(self):
        return self.client.post("/auth/signout", data={"csrf_token": self.token()})


@pytest.fixture
def sign_in(client):
    return SignIn(client)


@pytest.fixture
def hub_sign_in(hub_client):
    return SignIn(hub_client)


# Engine tests: a hub and three centres in-process, on copies of one installed database.


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("sync-template") / "template.db")


@pytest.fixture
def world(template, tmp_path):
    w = World.create(tmp_path, template, 3)
    yield w
    w.close()


# Live servers, for browser tests: one demo centre and one hub for the whole session.


@pytest.fixture(scope="session")
def live_node(tmp_path_factory) -> LiveServer:
    server = start_demo_server(tmp_path_factory.mktemp("live-node"), role="node")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def live_hub(tmp_path_factory) -> LiveServer:
    server = start_demo_server(tmp_path_factory.mktemp("live-hub"), role="hub")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright cannot download its own browser on these machines."""
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


# Chromium's fake microphone (a beep a second), granted without a prompt; centre-pc is a
# terminal's name for the centre (not localhost: no microphone there).
MIC_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required",
            "--host-resolver-rules=MAP centre-pc 127.0.0.1"]


@pytest.fixture(scope="module")
def mic_browser(browser_type):
    """Chromium with a fake microphone that needs no permission prompt."""
    browser = browser_type.launch(executable_path="/usr/bin/chromium", args=MIC_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1024, "height": 720}}
