"""The centre's sync page: when it last synced, what waits to go up, the last problem in plain
words, and (for facilitators and admins) a "Sync now" button whose progress the page shows.

Imports Flask, ``kiosk.auth.access``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.syncing`` and
``sync.daemon``.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, current_app, flash, redirect, render_template, url_for

from sync.daemon import is_running
from sync.errors import AlreadySyncing

from .. import syncing
from ..auth.access import can, node_only, permission_required, signin_required
from ..data import get_db, utcnow
from ..i18n import _

bp = Blueprint("admin", __name__)
log = logging.getLogger("infocentre.sync")


@bp.get("/sync")
@node_only
@signin_required
def sync_page():
    found = syncing.status(get_db(), current_app.config["DATA_DIR"])
    return render_template("admin/sync.html", status=found, now=utcnow(),
                           words=syncing.error_words(found["error_code"]),
                           joined=bool(current_app.config["HUB_URL"]),
                           may_sync=can("sync_now"))


@bp.post("/sync/now")
@node_only
@permission_required("sync_now")
def sync_start():
    if not current_app.config["HUB_URL"]:
        flash(_("This centre is not connected to a regional hub yet."), "error")
        return redirect(url_for("admin.sync_page"))
    if is_running(current_app.config["DATA_DIR"]):
        flash(_("A sync is already running. Its progress is shown below."), "info")
        return redirect(url_for("admin.sync_page"))
    daemon = current_app.extensions["infocentre"].get("daemon")
    if daemon:
        daemon.wake()
    else:
        app = current_app._get_current_object()
        threading.Thread(target=_run, args=(app,), name="sync-now", daemon=True).start()
    started = _wait_for_start(current_app.config["DATA_DIR"])
    flash(_("The sync has started.") if started else _("The sync will start in a moment."),
          "success")
    return redirect(url_for("admin.sync_page"))


def _run(app) -> None:
    try:
        syncing.run_sync(app)
    except AlreadySyncing:
        pass
    except Exception as e:  # recorded in sync_status; the page tells in plain words
        log.warning("sync failed: %s", e)


def _wait_for_start(data_dir, seconds: float = 1.0) -> bool:
    """Let the sync take its lock, so the page the button leads to already shows it running."""
    deadline = time.monotonic() + seconds
    while not is_running(data_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
