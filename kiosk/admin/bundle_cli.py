"""``infocentre bundle ...``: a centre's changes for the hub, and the hub's for a centre, carried
on a file (a USB stick) when there is no network. Imports click, ``kiosk.data``, ``kiosk.i18n``
and ``sync.bundle``; the rules are in sync/README.md, "Bundles".
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click
from flask import current_app

from sync import bundle as bundles
from sync.daemon import LOCK_WAIT, sync_lock
from sync.engine.clock import wall_ms
from sync.errors import BundleError, Refused, SyncError
from sync.media import Store

from .. import syncing
from ..data import get_db, media_dir, schema_version
from ..errors import KioskError
from ..i18n import _, ngettext

PARTLY = Refused.exit_code  # the hub refused a batch; what came before it was applied


@click.group(help="Carry changes between a centre and its hub on a file (a USB stick), with no "
             "network.")
def bundle():
    pass


@bundle.command("export", help="At a centre: write its changes the hub has not acknowledged. "
                "At the hub, with --for: write what that centre has not received. Exit 0 "
                "written, 1 refused.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--for", "node_id", metavar="NODE_ID",
              help="At the hub: the centre the bundle is for (see infocentre hub nodes).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_obj
def export(installation, file, node_id, as_json):
    app = installation.app()
    with app.app_context(), _one_at_a_time(app.config):
        config = current_app.config
        try:
            if config["ROLE"] == "hub":
                if not node_id:
                    raise KioskError(_("At the hub, say which centre the bundle is for: --for "
                                       "NODE_ID (see infocentre hub nodes)."))
                report = bundles.export_for_node(
                    get_db(), installation.tables(), file, node_id=node_id,
                    hub_key=config["SECRET_KEY"], hub_id=config["CENTRE_ID"], now_ms=wall_ms(),
                    page_limit=config["SYNC_PAGE"], store=Store(media_dir(config)),
                    progress=_progress)
            else:
                if node_id:
                    raise KioskError(_("--for is for the hub: a centre's bundle is always for "
                                       "its hub."))
                report = bundles.export_at_node(
                    get_db(), installation.tables(), file, token=_token(config),
                    schema=schema_version(get_db()), batch_limit=config["SYNC_BATCH"],
                    wall_ms=wall_ms(), store=Store(media_dir(config)), progress=_progress)
        except BundleError as e:
            raise KioskError(_message(e)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    elif report.kind == "push":
        click.echo(_("Wrote %(file)s: %(changes)d changes in %(batches)d batches, %(bytes)d "
                     "bytes. At the hub: infocentre bundle import FILE", file=file,
                     changes=report.changes, batches=report.entries, bytes=report.bytes))
    else:
        click.echo(_("Wrote %(file)s: %(changes)d changes and %(acks)d acknowledgements for the "
                     "centre, %(bytes)d bytes. At the centre: infocentre bundle import FILE",
                     file=file, changes=report.changes, acks=report.acks, bytes=report.bytes))
    if report.blobs and not as_json:
        click.echo(_media(report))


@bundle.command("import", help="At the hub: apply a centre's bundle. At a centre: apply the "
                "hub's. Importing one twice changes nothing. Exit 0 imported, 1 refused "
                "(nothing applied), 4 the hub refused a batch (what came before it was applied).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print what was imported as JSON.")
@click.pass_obj
def import_(installation, file, as_json):
    app = installation.app()
    with app.app_context(), _one_at_a_time(app.config):
        config = current_app.config
        try:
            if config["ROLE"] == "hub":
                report = bundles.import_at_hub(
                    get_db(), installation.tables(), file, hub_key=config["SECRET_KEY"],
                    now_ms=wall_ms(), min_schema=config["SYNC_MIN_SCHEMA"],
                    store=Store(media_dir(config)), progress=_progress)
            else:
                report = bundles.import_at_node(
                    get_db(), installation.tables(), file, token=_token(config),
                    wall_ms=wall_ms(), store=Store(media_dir(config)), progress=_progress)
                # The hub's news arrived: the sync page and `sync status` count it as a sync.
                syncing.record(get_db(), report.as_dict())
                syncing.after_sync(app, get_db())  # answers go in the next bundle
        except BundleError as e:
            raise KioskError(_message(e)) from None
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    elif report.nothing_new and not report.problem:
        click.echo(_("Nothing new in %(file)s: it was imported before, or holds nothing this "
                     "installation lacks. Nothing changed.", file=file))
    elif report.kind == "push":
        click.echo(_("Imported %(applied)d batches (%(skipped)d imported before); %(set_aside)d "
                     "changes set aside.", applied=report.applied, skipped=report.skipped,
                     set_aside=report.quarantined))
    else:
        click.echo(_("Imported %(pages)d pages of changes and %(acks)d acknowledgements from the "
                     "hub.", pages=report.applied, acks=report.acks))
    if report.blobs and not as_json:
        click.echo(_media(report))
    if report.kind == "pull" and not as_json and not report.nothing_new:
        if report.restamped:
            click.echo(_("This computer's clock was ahead of the hub's: its changes have new "
                         "times. Export a new bundle for the hub."))
        if report.recovered:
            click.echo(_("The hub was restored from a backup: this centre sends it everything "
                         "again. Take a new bundle from here to the hub; its answer brings "
                         "everything again."))
        elif report.renewed:
            click.echo(_("This centre's database was restored from a backup or copied: it now "
                         "has a new identity. Take a new bundle from here to the hub; its answer "
                         "brings everything again."))
    if report.problem:
        click.echo(f"infocentre: {_problem(report)}", err=True)
        sys.exit(PARTLY)


@contextlib.contextmanager
def _one_at_a_time(config):
    """At a centre, a bundle waits for no sync and no sync for it: they take the same lock."""
    if config["ROLE"] == "hub":
        yield
        return
    with sync_lock(config["DATA_DIR"], wait=LOCK_WAIT):  # AlreadySyncing: the CLI says so
        yield


def _media(report: bundles.BundleReport) -> str:
    return ngettext("Photos and recordings: %(num)d file, %(bytes)d bytes.",
                    "Photos and recordings: %(num)d files, %(bytes)d bytes.", report.blobs,
                    bytes=report.blob_bytes)


def _token(config) -> str:
    return syncing.require_hub(config)[1]


def _progress(what: str, done: int, total: int) -> None:
    if total > 1:  # worth saying only when there is more than one step
        text = {
            "batch": _("batch %(done)d/%(total)d", done=done, total=total),
            "page": _("page %(done)d/%(total)d", done=done, total=total),
            "file": _("photo or recording %(done)d/%(total)d", done=done, total=total),
            "file_part": _("photos and recordings: %(percent)d%%",
                           percent=100 * done // total),
        }[what]
        click.echo(text, err=True)


def _message(error: BundleError) -> str:
    """The refusal in the reader's language, one line."""
    reason = error.reason
    if reason == "unreadable":
        return _("The file cannot be read: %(error)s", error=error.extra.get("error"))
    if reason == "unwritable":
        return _("The bundle cannot be written to %(path)s: %(error)s",
                 path=error.extra.get("path"), error=error.extra.get("error"))
    if reason == "not_bundle":
        return _("This file is not an Infocentre bundle; nothing was imported.")
    if reason == "newer":
        return _("This bundle was made by a newer version of Infocentre: update this one first.")
    if reason == "cut_short":
        return _("The bundle is incomplete (cut short); nothing was imported. Copy it again.")
    if reason == "damaged":
        return _("The bundle is damaged or was altered; nothing was imported. Make a new one.")
    if reason == "wrong_way":
        return _("This bundle is for the other side: a centre's bundle is imported at the hub, "
                 "the hub's at the centre it was made for.")
    if reason == "other_centre":
        return _("This bundle was made for another centre (%(id)s); nothing was imported.",
                 id=error.extra.get("node"))
    if reason == "unknown_centre":
        return _("No centre has the id %(id)s.", id=error.extra.get("node"))
    if reason == "revoked":
        return _("The centre %(id)s can no longer sync: its access was revoked. Nothing was "
                 "imported.", id=error.extra.get("node"))
    if reason == "gap":
        return _("This bundle follows an earlier one from the hub that this centre has not "
                 "imported: import that one first, or take a new bundle from here to the hub.")
    if reason == "token":
        return _("This centre's token is not valid: copy it again from the hub.")
    return error.message


def _problem(report: bundles.BundleReport) -> str:
    problem: SyncError = report.problem
    if problem.code == "clock_ahead":
        return _("Batch %(n)d of %(total)d was refused: the centre's clock is ahead of the "
                 "hub's. Take the hub's next bundle to the centre, then bring a new one back.",
                 n=report.problem_at, total=report.entries)
    if getattr(problem, "reason", None) == "renew":
        return _("Batch %(n)d of %(total)d was not imported: it comes from a copy of the "
                 "centre's database that is behind what the hub has from it (a restored backup, "
                 "or a second computer set up from the same disk). Take the hub's next bundle "
                 "to that computer first, then bring a new one back.", n=report.problem_at,
                 total=report.entries)
    if problem.code == "schema_too_old":
        return _("The centre's Infocentre is too old for this hub: update it there, then bring a "
                 "new bundle. Nothing was imported.")
    return _("Batch %(n)d of %(total)d was refused: %(error)s", n=report.problem_at,
             total=report.entries, error=problem.message)
