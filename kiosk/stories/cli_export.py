"""``infocentre stories export FILE.zip`` and ``infocentre stories radio FILE.zip``: the hub's
archive of what consent allows, and the radio's files, from the command line, with progress on
stderr. Imports click, the area's ``export``, ``radio`` and models, ``kiosk.data``,
``kiosk.errors``, ``kiosk.i18n`` and ``kiosk.media``; registered on the area's ``cli`` group.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from ..data import get_db, utcnow
from ..errors import KioskError
from ..i18n import _, ngettext
from ..media import store
from . import export, radio
from .cli import cli


def _at_the_hub() -> None:
    if current_app.config["ROLE"] != "hub":
        raise KioskError(_("This command runs at the hub, which holds the region's stories."))


def _progress(done: int, total: int) -> None:
    """"12/40" on one line of stderr, rewritten as it grows."""
    click.echo(f"\r{done}/{total}", err=True, nl=done == total)


@cli.command("export", help="Write a ZIP of the approved stories consent allows to leave the "
             "hub: catalogue.json and catalogue.csv (Dublin Core fields) and each story's "
             "recording and photos. Progress goes to stderr.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--consent", type=click.Choice(sorted(export.CHOICES)), default="region",
              show_default=True, help="region: stories for the region and public ones; "
              "public: public stories only.")
@click.option("--centre", default=None, help="Only the stories of this centre (its id).")
@click.pass_obj
def export_(installation, path, consent, centre):
    with installation.app().app_context():
        _at_the_hub()
        done = export.export_archive(get_db(), store(), path, now=utcnow(), consent=consent,
                                     centre=centre, progress=_progress)
    click.echo(ngettext("%(num)d story written to %(path)s.",
                        "%(num)d stories written to %(path)s.", done["stories"],
                        path=str(path)))
    if done["missing"]:
        click.echo(ngettext("%(num)d photo or recording has not reached the hub yet.",
                            "%(num)d photos or recordings have not reached the hub yet.",
                            done["missing"]), err=True)


@cli.command("radio", help="Write a ZIP for community radio: every approved public story's "
             "recording as MP3 at -16 LUFS, with a playlist. Needs PyAV (the hub's extra).")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def radio_(installation, path):
    with installation.app().app_context():
        _at_the_hub()
        done = radio.export_radio(get_db(), store(), path, now=utcnow(), progress=_progress)
    click.echo(ngettext("%(num)d recording written to %(path)s.",
                        "%(num)d recordings written to %(path)s.", done["stories"],
                        path=str(path)))
    for story in done["skipped"]:
        click.echo(_("Left out, its recording could not be read: %(title)s",
                     title=story["title"]), err=True)
