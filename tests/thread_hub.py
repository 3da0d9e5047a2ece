"""A hub app served for real by waitress on 127.0.0.1, in the test's own process (cheaper than
a process per example for the stateful test), with the test areas' tables (tests/sync_area.py),
and the test's own view of its database."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from kiosk import create_app
from kiosk.admin import models as centres
from kiosk.config import DEFAULT_AREAS
from kiosk.data import open_db, utcnow
from kiosk.installation import init_installation
from sync import signing

from .sync_world import COLUMNS, make_template

AREAS = [a for a in DEFAULT_AREAS if a not in ("kiosk.courses", "kiosk.classes")] + [
    "tests.sync_area"]


class Hub:
    """A hub app served by waitress in this process on 127.0.0.1, and the test's own view of
    its database."""

    def __init__(self, root: Path, **config):
        import waitress

        self.root = root
        shutil.copytree(templates()["hub"], root)
        self.app = create_app({"DATA_DIR": str(root), "AREAS": AREAS, **config})
        self.server = waitress.create_server(self.app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        self.db = open_db(root / "infocentre.db")
        self.key = self.app.config["SECRET_KEY"]

    def register(self, name: str) -> tuple[str, str]:
        made = centres.register_node(self.db, name=name, hub_id=self.app.config["CENTRE_ID"],
                                     now=utcnow())
        node_id = made["node_id"]
        return node_id, signing.make_token(node_id, signing.derive_secret(self.key, node_id, 1))

    def rows(self, table: str) -> dict:
        cols = ["centre_id", *COLUMNS[table]]
        return {r[0]: tuple(r[1:]) for r in self.db.execute(
            f"SELECT id, {', '.join(cols)} FROM {table}")}

    def close(self) -> None:
        """Stop serving: every connection and the listening socket closed by the server's own
        loop (closing them from here would pull its descriptors from under it), then its
        worker threads."""
        from waitress import wasyncore

        self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))
        self.thread.join(10)
        self.server.task_dispatcher.shutdown()
        self.db.close()


_templates: dict = {}


def templates() -> dict:
    """A hub's data directory and a centre's database, set up once for every test."""
    if not _templates:
        root = Path(tempfile.mkdtemp(prefix="sync-templates-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        init_installation(root / "hub", role="hub", name="Hub de prueba", language="en")
        create_app({"DATA_DIR": str(root / "hub"), "AREAS": AREAS})  # the area's tables
        _templates.update(hub=root / "hub", node=make_template(root / "node.db"))
    return _templates
