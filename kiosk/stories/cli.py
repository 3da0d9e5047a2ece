"""``infocentre stories ...``: import a collection, list stories, change a story's consent,
export what consent allows.

Imports click, the area's models and ``importing``, ``kiosk.data``, ``kiosk.media`` and
``kiosk.i18n``. ``ctx.obj`` is the installation object of ``kiosk.cli``; failures raise
``KioskError`` subclasses, which the top-level command prints as one line with exit code 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app

from ..data import fetch, get_db, utcnow
from ..errors import KioskError
from ..i18n import _, ngettext
from . import importing, models


@click.group(help="Stories: import a collection, list, change consent, export.")
def cli():
    pass


def _at_a_centre() -> None:
    if current_app.config["ROLE"] != "node":
        raise KioskError(_("This command runs at a centre, not at the hub."))


def _table(rows: list[list[str]]) -> None:
    """Columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _short(text: str, size: int = 40) -> str:
    return text if len(text) <= size else text[:size - 1] + "…"


@cli.command("import", help="Load an existing collection of stories from a spreadsheet saved "
             "as CSV (UTF-8; recordings and photos by file name beside it; columns in "
             "kiosk/stories/README.md). Every row and file is checked first; a file with "
             "problems is refused whole, each problem listed by line. Stories imported before "
             "are left as they are.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {added, already, withdrawn, "
              "stories: [{line, id, outcome}]} (or {errors: [{line, column, message}]} with "
              "exit code 1).")
@click.pass_obj
def import_(installation, path, as_json):
    with installation.app().app_context():
        from .. import media

        _at_a_centre()
        try:
            made = importing.import_file(get_db(), path,
                                         centre_id=current_app.config["CENTRE_ID"],
                                         store=media.store(), prepare_photo=media.prepare_photo,
                                         now=utcnow())
        except importing.ImportRefused as refused:
            if as_json:
                click.echo(json.dumps({"errors": [
                    {"line": p.line, "column": p.column, "message": p.message}
                    for p in refused.problems]}, ensure_ascii=False, indent=1))
            else:
                for problem in refused.problems:
                    click.echo(str(problem), err=True)
            raise
    counts = {k: sum(1 for m in made if m["outcome"] == k)
              for k in ("added", "already", "withdrawn")}
    if as_json:
        click.echo(json.dumps({**counts, "stories": made}, ensure_ascii=False, indent=1))
        return
    click.echo(ngettext("%(num)d story imported.", "%(num)d stories imported.",
                        counts["added"]))
    if counts["already"]:
        click.echo(ngettext("%(num)d was imported before: left as it is.",
                            "%(num)d were imported before: left as they are.",
                            counts["already"]))
    for m in made:
        if m["outcome"] == "withdrawn":
            click.echo(_("line %(line)d: its teller withdrew this story: it is not imported "
                         "again.", line=m["line"]))


@cli.command("list", help="Every story held here (at the hub: every story of the region), "
             "with its consent and review status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{id, title, teller, "
              "centre, consent, status, audio, photos}] (audio: the recording's SHA-256 or "
              "null; photos: SHA-256s).")
@click.pass_obj
def list_(installation, as_json):
    with installation.app().app_context():
        db = get_db()
        found = models.summary_rows(db)
        centres = {r["id"]: r["name"] for r in fetch(db, "SELECT id, name FROM centres")}
        if as_json:
            click.echo(json.dumps(found, ensure_ascii=False, indent=1))
            return
        if not found:
            click.echo(_("No stories yet. Tell one at the kiosk, or import a collection: "
                         "infocentre stories import FILE.csv"))
            return
        rows = [["id", _("Title"), _("Teller"), _("Centre"), _("Who may hear it"),
                 _("Status"), _("Recording"), _("Photos")]]
        for s in found:
            rows.append([s["id"], _short(s["title"]), _short(s["teller"], 24),
                         _short(centres.get(s["centre"], s["centre"]), 24),
                         models.consent_label(s["consent"]), models.status_label(s["status"]),
                         _("yes") if s["audio"] else "-", str(len(s["photos"]))])
        _table(rows)
        click.echo(ngettext("%(num)d story.", "%(num)d stories.", len(found)))


@cli.command("consent", help="Record the teller's consent for a story told at this centre: "
             "centre (this centre only), region (every centre) or public (radio and the "
             "internet too); withdrawn deletes the story and its photos everywhere, for ever.")
@click.argument("story_id", metavar="ID")
@click.argument("consent", type=click.Choice([*models.CONSENTS, models.WITHDRAWN]))
@click.option("--by", "by_name", default="", help="Who took the teller's word (kept with the "
              "consent).")
@click.option("--yes", is_flag=True, help="Withdraw without asking to confirm.")
@click.pass_obj
def consent(installation, story_id, consent, by_name, yes):
    with installation.app().app_context():
        _at_a_centre()
        db = get_db()
        centre_id = current_app.config["CENTRE_ID"]
        story = models.get_story(db, story_id)
        if story["centre_id"] != centre_id:
            raise KioskError(_("This story was told at another centre: its teller changes the "
                               "consent there."))
        if consent == models.WITHDRAWN and not yes and not click.confirm(
                _("Withdraw \"%(title)s\", told by %(teller)s? It is deleted here, at the hub "
                  "and at every centre, with its recording and photos, for ever.",
                  title=story["title"], teller=story["teller_name"]), default=False):
            raise KioskError(_("Nothing was changed."))
        before = story["consent"]
        models.set_consent(db, centre_id=centre_id, story_id=story_id, consent=consent,
                           by={"id": "", "name": " ".join(by_name.split())}, now=utcnow())
    if consent == models.WITHDRAWN:
        click.echo(_("\"%(title)s\" was withdrawn: it leaves every centre and the hub at their "
                     "next sync.", title=story["title"]))
    elif consent == before:
        click.echo(_("\"%(title)s\": already %(consent)s; nothing changed.",
                     title=story["title"], consent=models.consent_label(consent)))
    else:
        click.echo(_("\"%(title)s\": %(consent)s.", title=story["title"],
                     consent=models.consent_label(consent)))


from . import cli_export  # noqa: E402,F401  (export and radio, on this group)
