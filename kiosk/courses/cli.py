"""``infocentre content import|list``: install course packs and see what is installed.

Imports click, its own models and packs, ``kiosk.data`` and ``sync.media``. ``ctx.obj`` is the
installation object of ``kiosk.cli``. Every pack is checked whole before anything of it is
written; a pack with problems is named with each problem's file and line, and the command exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app

from sync.media import Store

from ..data import get_db, media_dir, utcnow
from ..errors import KioskError
from ..i18n import _, current_language
from . import models, packs


@click.group(help="Course packs: import them, list them.")
def content():
    pass


@content.command("import", help="Check and import a course pack, or every pack in a folder "
                 "(such as content/courses). At the hub, courses then reach every centre.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def import_(installation, path):
    app = installation.app()
    failed = 0
    with app.app_context():
        db = get_db()
        store = Store(media_dir(current_app.config))
        for folder in packs.find_packs(path):
            click.echo(_("Checking %(pack)s ...", pack=folder.name))
            try:
                pack = packs.read_pack(folder)
            except packs.PackError as e:
                click.echo(str(e), err=True)
                failed += 1
                continue
            lessons = len(pack.lessons)
            with click.progressbar(length=lessons + 1, label=_("Importing %(pack)s",
                                                               pack=pack.id),
                                   file=click.get_text_stream("stdout")) as bar:
                try:
                    outcome = models.import_pack(
                        db, pack, centre_id=current_app.config["CENTRE_ID"],
                        role=current_app.config["ROLE"], store=store, now=utcnow(),
                        on_step=lambda _what: bar.update(1))
                except KioskError as e:
                    click.echo("")
                    click.echo(f"infocentre: {e}", err=True)
                    failed += 1
                    continue
            words = {"new": _("%(pack)s version %(version)d: installed (%(n)d lessons)."),
                     "updated": _("%(pack)s: updated to version %(version)d (%(n)d lessons); "
                                  "learners keep their progress."),
                     "same": _("%(pack)s version %(version)d is already installed; nothing "
                               "changed.")}[outcome]
            click.echo(words % {"pack": pack.id, "version": pack.version, "n": lessons})
    if failed:
        raise click.exceptions.Exit(1)


@content.command("list", help="The installed courses.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{id, title, version, "
              "languages, lessons}].")
@click.pass_obj
def list_(installation, as_json):
    app = installation.app()
    with app.app_context():
        found = models.installed(get_db(), current_language())
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=1))
        return
    if not found:
        click.echo(_("No course is installed. Import some: infocentre content import "
                     "content/courses"))
        return
    for course in found:
        click.echo(_("%(pack)s  v%(version)d  %(title)s  (%(languages)s; %(n)d lessons)",
                     pack=course["id"], version=course["version"], title=course["title"],
                     languages=", ".join(course["languages"]), n=course["lessons"]))
