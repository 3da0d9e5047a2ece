"""``infocentre hub ...`` (the regional hub's registry of centres) and ``infocentre sync ...`` (a
centre's syncing). Imports click, the admin area's models, ``kiosk.data`` and the sync package.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import click
from flask import current_app
from jinja2.filters import do_filesizeformat

from sync import signing
from sync.engine import purge as purge_engine
from sync.engine.clock import wall_ms
from sync.engine.purge import DAY_MS
from sync.errors import Refused, SyncError, Unreachable

from .. import media, syncing
from ..data import get_db, is_disk_full, utcnow
from ..errors import KioskError, ValidationError
from ..i18n import _, ngettext
from . import models


def _require(role: str) -> None:
    if current_app.config["ROLE"] != role:
        raise KioskError(_("This command runs at the hub.") if role == "hub"
                         else _("This command runs at a centre, not at the hub."))


@click.group(help="The regional hub's registry of centres.")
def hub():
    pass


@hub.command("add-node", help="Register a centre and print its token (shown once).")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print {\"node_id\", \"token\"}.")
@click.pass_obj
def add_node(installation, name, as_json):
    with installation.app().app_context():
        _require("hub")
        try:
            name = models.clean_centre_name(name)
        except ValidationError as e:
            raise KioskError(str(e)) from None
        node = models.register_node(get_db(), name=name, hub_id=current_app.config["CENTRE_ID"],
                                    now=utcnow())
        token = signing.make_token(node["node_id"], signing.derive_secret(
            current_app.config["SECRET_KEY"], node["node_id"], node["generation"]))
    if as_json:
        click.echo(json.dumps({"node_id": node["node_id"], "token": token}))
        return
    click.echo(_("Registered %(name)s. Its token (keep it secret; it is shown only now):",
                 name=name))
    click.echo(token)
    click.echo(_("At the centre: infocentre join --hub HUB_ADDRESS --token TOKEN"))


@hub.command("revoke-node", help="Stop a centre's token working, at once.")
@click.argument("node_id")
@click.pass_obj
def revoke_node(installation, node_id):
    with installation.app().app_context():
        _require("hub")
        if not models.revoke_node(get_db(), node_id, utcnow()):
            raise KioskError(_("No centre has the id %(id)s.", id=node_id))
        media.sweep(get_db())  # blobs that waited only for this centre to pull a deletion
    click.echo(_("The centre %(id)s can no longer sync.", id=node_id))


@hub.command("nodes", help="List the registered centres.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def nodes(installation, as_json):
    with installation.app().app_context():
        _require("hub")
        found = models.list_nodes(get_db())
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo(_("No centres yet. Add one with: infocentre hub add-node NAME"))
    for node in found:
        state = _("revoked") if node["revoked_at"] else (
            _("last seen %(when)s", when=node["last_seen_at"]) if node["last_seen_at"]
            else _("never seen"))
        click.echo(f"{node['name']:<32} {node['node_id']}  {state}")


@click.group(help="Sync this centre with its regional hub.")
def sync():
    pass


@sync.command("now", help="Send this centre's changes to the hub and receive the hub's. Exit 0 "
              "synced, 3 hub unreachable, 4 refused by the hub, 1 other error.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, whatever happens.")
@click.pass_obj
def now(installation, as_json):
    from sync.client import SyncReport

    report = SyncReport()
    try:
        try:
            app = installation.app()
            with app.app_context():
                _require("node")
            syncing.run_sync(app, report=report)
        except ValueError as e:  # a hub address that is not one
            raise KioskError(str(e)) from e
        except (sqlite3.Error, OSError) as e:  # recorded by run_sync; said plainly, JSON still
            if not is_disk_full(e, installation.data_dir):
                raise KioskError(_("The database could not be used: %(error)s",
                                   error=e)) from e
            raise
    except (KioskError, SyncError, sqlite3.Error, OSError) as e:
        # The report is printed whatever happens; the CLI says why and exits with the error's
        # code (kiosk.cli.failure).
        report.status = ("unreachable" if isinstance(e, Unreachable) else
                         "refused" if isinstance(e, Refused) else "error")
        _print_report(report, as_json)
        raise
    _print_report(report, as_json)


@sync.command("status", help="When this centre last synced, what waits to go up, the last "
              "problem and the next try.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(installation, as_json):
    app = installation.app()
    with app.app_context():
        _require("node")
        found = syncing.status(get_db(), app.config["DATA_DIR"])
    words = syncing.error_words(found["error_code"])
    disk = syncing.disk_words(found, do_filesizeformat)
    if as_json:
        click.echo(json.dumps({
            "last_success": _iso(found["last_success"]),
            "pending_changes": found["pending_changes"],
            "last_error": words,
            "next_attempt": _iso(found["next_attempt"]),
            "media_waiting": found["media_waiting"],
            "disk_free": found["disk_free"],
            "disk_note": disk,
        }, ensure_ascii=False))
        return
    click.echo(_("Last successful sync: %(when)s", when=_iso(found["last_success"]) or _("never")))
    click.echo(_("Changes waiting to go to the hub: %(count)d", count=found["pending_changes"]))
    if words:
        click.echo(_("Last problem: %(words)s", words=words))
    if disk:
        click.echo(disk)
    if found["running"]:
        click.echo(_("A sync is running now."))
    elif found["next_attempt"]:
        click.echo(_("Next try: %(when)s", when=_iso(found["next_attempt"])))


def _iso(moment) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


@sync.command("daemon", help="Sync by itself: whenever the hub answers, every SYNC_INTERVAL "
              "seconds; after a failure it waits longer and longer (SYNC_RETRY_MIN to "
              "SYNC_RETRY_MAX). Stops on Ctrl+C or SIGTERM.")
@click.pass_obj
def daemon(installation):
    import logging
    import signal
    import threading

    app = installation.app()
    with app.app_context():
        _require("node")
    syncing.require_hub(app.config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = syncing.make_daemon(app)
    worker.start(delay=0)
    click.echo(_("Syncing with %(hub)s whenever it answers (Ctrl+C to stop).",
                 hub=app.config["HUB_URL"]))
    sys.stdout.flush()
    stop.wait()
    worker.stop()


def _print_report(report, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    if report.status == "synced":
        click.echo(_("Synced: %(sent)d changes sent, %(received)d received, %(quarantined)d set "
                     "aside.", sent=report.sent, received=report.received,
                     quarantined=report.quarantined))
    click.echo(ngettext("%(num)d request, %(bytes_sent)d bytes sent and %(bytes_received)d "
                        "received, in %(seconds)s s.",
                        "%(num)d requests, %(bytes_sent)d bytes sent and %(bytes_received)d "
                        "received, in %(seconds)s s.", report.requests,
                        bytes_sent=report.bytes_sent, bytes_received=report.bytes_received,
                        seconds=report.seconds))


@sync.command("purge", help="Forget deletions older than the horizon (tombstones); the hub "
              "keeps the ids for ever.")
@click.option("--days", default=90, show_default=True, type=click.FloatRange(1, 100_000),
              help="The horizon, in days.")
@click.pass_obj
def purge(installation, days):
    with installation.app().app_context():
        removed = purge_engine(get_db(), wall_ms(), days)
        # Blobs no row has named since before the horizon go too, pulled everywhere or not.
        media.sweep(get_db(), before_ms=wall_ms() - int(days * DAY_MS))
    click.echo(_("Purged %(n)d old tombstones.", n=removed["tombstones"]))
