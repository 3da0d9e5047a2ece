"""The ``infocentre`` command: the installation's verbs (init, serve, demo) and the areas' groups.

May import everything in kiosk. Expected failures print one line on stderr and exit with their
error's code (``failure``: 1, or 3 and 4 for a hub unreachable or refusing); usage errors exit 2
(click's rule). Messages follow the terminal's language (LANGUAGE, LC_ALL,
LC_MESSAGES, LANG), which only this module and ``kiosk.config`` read from the environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import click

from sync.errors import AlreadySyncing, SyncError

from . import areas, create_app, housekeeping
from . import config as config_module
from .data import UMASK, disk_full_message, is_disk_full, utcnow
from .errors import KioskError
from .i18n import LANGUAGES, _, ngettext, use_language
from .installation import init_installation, join_hub


class CliError(click.ClickException):
    """One line on stderr, and the exit code of the error it stands for (1 unless told)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None):
        click.echo(f"infocentre: {self.format_message()}", err=True, file=file)


def failure(error: BaseException, data_dir=None) -> CliError | None:
    """The one line and exit code a command ends with for an expected failure, or None (a bug,
    whose traceback is shown). The one place errors meet exit codes: a KioskError's or a
    SyncError's own ``exit_code`` (sync/errors.py: 3 unreachable, 4 refused), else 1."""
    if isinstance(error, AlreadySyncing):
        return CliError(_("Another sync of this centre is running; try again when it ends."),
                        error.exit_code)
    if isinstance(error, (KioskError, SyncError)):
        return CliError(str(error), error.exit_code)
    if isinstance(error, (sqlite3.DatabaseError, OSError)) and is_disk_full(error, data_dir):
        return CliError(disk_full_message(data_dir))
    if isinstance(error, sqlite3.DatabaseError):
        return CliError(_("The database could not be used: %(error)s", error=error))
    return None


class Group(click.Group):
    """Turns the app's expected failures into CliError, whichever subcommand raised them, and
    offers the command groups of the areas the installation is configured with."""

    def list_commands(self, ctx) -> list[str]:
        return sorted({*super().list_commands(ctx), *_area_commands(ctx)})

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or _area_commands(ctx).get(name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (KioskError, SyncError, sqlite3.DatabaseError, OSError) as e:
            found = failure(e, getattr(ctx.obj, "data_dir", None))
            if found is None:
                raise
            raise found from e


class Installation:
    """The data directory a command works on; builds the app on first use."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._app = None

    def app(self):
        if self._app is None:
            self._app = create_app({"DATA_DIR": str(self.data_dir)})
        return self._app

    def tables(self) -> list:
        return self.app().extensions["infocentre"]["synced_tables"]


@click.group(cls=Group)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="The installation's data directory (default ./instance, or INFOCENTRE_DATA).")
@click.version_option(package_name="infocentre")
@click.pass_context
def cli(ctx, data_dir):
    """Infocentre: courses, marketplace and story archive for community infocentres."""
    os.umask(UMASK)  # what `init` and every other command write is the owner's alone
    ctx.obj = Installation(config_module.data_dir_from(data_dir, os.environ))


@cli.command(help="Set up a new centre (node) or regional hub in the data directory.")
@click.option("--role", required=True, help="node (a centre) or hub (the regional office).")
@click.option("--name", required=True, help="The centre's name, shown on every page.")
@click.option("--language", default="es", show_default=True,
              help="The language of the pages until a person chooses one.")
@click.option("--currency", default="USD", show_default=True, help="Currency of prices.")
@click.option("--force", is_flag=True, help="Replace an existing installation (its files are "
              "kept aside in a 'replaced-...' folder, never deleted).")
@click.option("--hub", "hub_url", help="A centre's regional hub, e.g. http://hub.example:5000.")
@click.option("--token", help="The centre's token, from 'infocentre hub add-node' at the hub.")
@click.pass_obj
def init(installation, role, name, language, currency, force, hub_url, token):
    made = init_installation(installation.data_dir, role=role, name=name, language=language,
                             currency=currency, force=force, hub_url=hub_url, token=token,
                             locales_dir=config_module.locales_dir_from(os.environ))
    if made["replaced"]:
        click.echo(_("The old installation was moved to %(path)s.", path=made["replaced"]))
    installation.app()  # validates the new configuration now, not at the first page
    click.echo(_("%(name)s (%(role)s) is set up in %(path)s.", name=" ".join(name.split()),
                 role=role, path=installation.data_dir))


@cli.command(help="Join a regional hub, keeping this centre's data (demo rows are removed).")
@click.option("--hub", "hub_url", required=True, help="The hub's address.")
@click.option("--token", required=True, help="The token from 'infocentre hub add-node'.")
@click.pass_obj
def join(installation, hub_url, token):
    app = installation.app()
    with app.app_context():
        from .data import get_db, schema_version

        db = get_db()
        made = join_hub(installation.data_dir, db, hub_url=hub_url, token=token,
                        tables=installation.tables(), schema=schema_version(db),
                        say=click.echo)
    click.echo(_("This centre now syncs with %(hub)s. Send its data: infocentre sync now",
                 hub=hub_url))
    return made


HUB_CONNECTIONS = 1000  # below the 1,024 descriptors select() can watch
MAX_BODY = 96 * 1024 * 1024  # bytes of one request: the largest form (64 MiB) and room to spare


@cli.command(help="Serve the kiosk with a production web server (waitress).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 serves the centre's other terminals.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="Port to listen on.")
@click.pass_obj
def serve(installation, host, port):
    import logging

    import waitress

    # Waitress warns once per request that waits for a free thread: thousands of lines a
    # second under load, written by the thread that should be answering.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    app = installation.app()
    try:
        # A hub keeps each centre's connection for its whole sync (keep-alive saves a round
        # trip per request on slow links); with waitress's default of 100, the 101st centre of
        # a province could not even connect until one finished.
        limit = HUB_CONNECTIONS if app.config["ROLE"] == "hub" else 100
        # No page reads a body over 64 MiB (a story's form); waitress writes a body to a
        # temporary file before the app sees it, so its own limit (1 GiB) let a 900 MB upload
        # fill a centre's disk only to be refused.
        server = waitress.create_server(app, host=host, port=port, connection_limit=limit,
                                        threads=app.config["THREADS"], ident="infocentre",
                                        max_request_body_size=MAX_BODY)
    except OSError as e:
        raise CliError(_("Cannot listen on %(host)s:%(port)s: %(error)s", host=host, port=port,
                         error=e.strerror)) from e
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(_("%(name)s is open at http://%(host)s:%(port)s/ (press Ctrl+C to stop).",
                 name=app.config["CENTRE_NAME"], host=shown, port=port))
    if host in ("0.0.0.0", "::"):
        for address in _lan_addresses():
            click.echo(_("The centre's other computers open: http://%(host)s:%(port)s/",
                         host=address, port=port))
    jobs = housekeeping.start(app)
    _start_daemon(app, jobs)
    sys.stdout.flush()
    # A service manager or a shutting-down PC sends SIGTERM: close as for Ctrl+C, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        jobs.stop()


@cli.command(help="Open the kiosk window, full screen, on this PC's server (started if none "
             "answers; restarted if it stops) or on the centre's server given by --url.")
@click.option("--url", help="The centre's server, from a terminal PC: http://centre-pc:5000/")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address for the server the window starts; 0.0.0.0 also serves terminals.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535),
              help="Port of this PC's server.")
@click.option("--windowed", is_flag=True, help="A normal window instead of full screen.")
@click.pass_obj
def desktop(installation, url, host, port, windowed):
    from . import desktop as kiosk_window

    missing = kiosk_window.missing_backend()
    if missing:
        raise CliError(_("The kiosk window needs the desktop extra: run ./scripts/desktop, or "
                         "pip install 'infocentre[desktop]' (with %(packages)s installed).",
                         packages="gir1.2-webkit2-4.1"))
    try:
        kiosk_window.open_kiosk(installation.data_dir, url=url, host=host, port=port,
                                fullscreen=not windowed,
                                locales_dir=config_module.locales_dir_from(os.environ),
                                say=click.echo)
    except kiosk_window.ServerStartError as e:
        raise CliError(_("The kiosk's server did not start (its message is above).")) from e


def _start_daemon(app, scheduler) -> None:
    """A centre joined to a hub syncs by itself while it serves, unless SYNC_DAEMON is off."""
    config = app.config
    if config["ROLE"] != "node" or not config["SYNC_DAEMON"] or not config["HUB_URL"]:
        return
    from .syncing import make_daemon

    daemon = make_daemon(app, scheduler)
    app.extensions["infocentre"]["daemon"] = daemon
    daemon.start(delay=5)
    click.echo(_("It syncs with the hub by itself whenever the hub answers."))


def _lan_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return sorted({i[4][0] for i in infos if not i[4][0].startswith("127.")})


@cli.command(help="Load demo accounts and the areas' demo content; running it again adds "
             "nothing twice.")
@click.pass_obj
def demo(installation):
    app = installation.app()
    accounts = Path(app.config["CONTENT_DIR"], "demo", "accounts.json")
    if not accounts.is_file():
        raise CliError(_("The demo data were not found: %(path)s is missing (see CONTENT_DIR).",
                         path=accounts))
    with app.app_context():
        from .data import get_db

        made = []
        for area in app.extensions["infocentre"]["areas"]:
            if hasattr(area, "demo"):
                made += area.demo(get_db(), centre_id=app.config["CENTRE_ID"],
                                  role=app.config["ROLE"], content_dir=app.config["CONTENT_DIR"],
                                  now=utcnow())
    people = [m for m in made if "role" in m]  # areas may also say what else they loaded
    added = sum(1 for m in people if m["new"])
    click.echo(ngettext("Demo loaded: %(num)d new account (%(total)d in all). Sign in as:",
                        "Demo loaded: %(num)d new accounts (%(total)d in all). Sign in as:",
                        added, total=len(people)))
    for m in people:
        label = _("password") if m["role"] == "regional" else _("PIN")
        click.echo(f"  {m['name']:<20} {m['role']:<12} {label} {m['secret']}")
    for m in made:
        if "message" in m:
            click.echo(m["message"])


@cli.command(help="Back up the whole data directory (database, photos and recordings, "
             "settings, keys) into a folder of backups, keeping the newest ones.")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--keep", type=click.IntRange(1, 1000),
              help="How many backups to keep in the folder (default BACKUP_KEEP, 7).")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_obj
def backup(installation, folder, keep, as_json):
    from .backups import settings, take_backup
    from .syncing import disk_reserve

    config = config_module.load({"DATA_DIR": str(installation.data_dir)})
    chosen = settings(config)
    made = take_backup(installation.data_dir, folder or chosen["folder"],
                       keep=keep or chosen["keep"], reserve=disk_reserve(config))
    if as_json:
        click.echo(json.dumps(made.as_dict()))
        return
    click.echo(_("Backup written to %(path)s in %(seconds).1f s.", path=made.path,
                 seconds=made.seconds))
    click.echo(ngettext("%(num)d photo or recording, %(copied)d copied.",
                        "%(num)d photos and recordings, %(copied)d copied.", made.blobs,
                        copied=made.blobs_copied))
    if made.damaged:
        click.echo(ngettext("%(num)d photo or recording is damaged on this computer and was "
                            "left out; the hub can send it again.",
                            "%(num)d photos or recordings are damaged on this computer and "
                            "were left out; the hub can send them again.", len(made.damaged)),
                   err=True)
    if made.removed:
        click.echo(ngettext("%(num)d older backup removed.", "%(num)d older backups removed.",
                            len(made.removed)))


@cli.command(help="Put a backup back into a new or empty data directory (--data-dir): FOLDER "
             "is a folder of backups (the newest is used) or one backup inside it.")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--skip-damaged-media", is_flag=True,
              help="Restore a backup whose only damage is in photos or recordings, without them.")
@click.pass_obj
def restore(installation, folder, skip_damaged_media):
    from .restore import restore_backup

    made = restore_backup(folder, installation.data_dir, skip_damaged_media=skip_damaged_media)
    click.echo(_("Restored %(name)s as it was at %(time)s, from %(path)s, into %(target)s.",
                 name=made["centre_name"], time=made["made_at"], path=made["path"],
                 target=installation.data_dir))
    if made["blobs_left_out"]:
        click.echo(ngettext("%(num)d damaged photo or recording was left out.",
                            "%(num)d damaged photos or recordings were left out.",
                            made["blobs_left_out"]))
    if made["role"] == "hub":
        click.echo(_("At their next sync, the centres send everything they hold again."))
    else:
        click.echo(_("At its next sync this centre sends what it holds and receives everything "
                     "the hub has again."))
        # PINs never leave a centre: people added after the backup come back without one.
        click.echo(_("People added after this backup come back from the hub without their PIN: "
                     "give each a new one (infocentre user reset NAME)."))


def _area_commands(ctx) -> dict[str, click.Command]:
    """The groups of the areas in the installation's AREAS setting (the default areas where
    none is set up yet, so ``init`` and ``--help`` work anywhere): an area's ``cli`` under the
    area's name (``user`` for auth), and its ``commands`` under their own."""
    root = ctx.find_root()
    found = root.meta.get("infocentre.area_commands")
    if found is None:
        data_dir = config_module.data_dir_from(root.params.get("data_dir"), os.environ)
        try:
            names = config_module.load({"DATA_DIR": str(data_dir)})["AREAS"]
        except KioskError:
            names = config_module.DEFAULT_AREAS
        found = {}
        for area in areas(names):
            if isinstance(getattr(area, "cli", None), click.Command):
                found[AREA_COMMAND_NAMES.get(area.__name__, area.__name__.split(".")[-1])] = \
                    area.cli
            for group in getattr(area, "commands", ()):
                found[group.name] = group
        root.meta["infocentre.area_commands"] = found
    return found


AREA_COMMAND_NAMES = {"kiosk.auth": "user"}


def terminal_language(environ) -> str:
    """The catalogue matching the terminal's locale settings, or English."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for value in environ.get(var, "").split(":"):
            code = value.split(".")[0].split("@")[0]
            if code in LANGUAGES:
                return code
            if code[:2] in LANGUAGES:
                return code[:2]
            if code.startswith("qu"):
                return "qu_EC"
    return "en"


def main() -> None:
    use_language(config_module.locales_dir_from(os.environ), terminal_language(os.environ))
    cli(prog_name="infocentre")
