"""The ``infocentre`` command: the installation's verbs (init, serve, demo) and the areas' groups.

May import everything in kiosk. Expected failures print one line on stderr and exit 1; usage
errors exit 2 (click's rule). Messages follow the terminal's language (LANGUAGE, LC_ALL,
LC_MESSAGES, LANG), which only this module and ``kiosk.config`` read from the environment.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import click

from . import areas, create_app
from . import config as config_module
from .data import UMASK, disk_full_message, is_disk_full, utcnow
from .errors import KioskError
from .i18n import LANGUAGES, _, ngettext, use_language
from .installation import init_installation, join_hub


class CliError(click.ClickException):
    """One line on stderr, exit code 1."""

    def show(self, file=None):
        click.echo(f"infocentre: {self.format_message()}", err=True, file=file)


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
        except KioskError as e:
            raise CliError(str(e)) from e
        except (sqlite3.DatabaseError, OSError) as e:
            data_dir = getattr(ctx.obj, "data_dir", None)
            if is_disk_full(e, data_dir):
                raise CliError(disk_full_message(data_dir)) from e
            if isinstance(e, OSError):
                raise
            raise CliError(_("The database could not be used: %(error)s", error=e)) from e


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
                             currency=currency, force=force, hub_url=hub_url, token=token)
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
        server = waitress.create_server(app, host=host, port=port, connection_limit=limit,
                                        threads=app.config["THREADS"], ident="infocentre")
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
    daemon = _start_daemon(app)
    sys.stdout.flush()
    # A service manager or a shutting-down PC sends SIGTERM: close as for Ctrl+C, exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if daemon:
            daemon.stop()


def _start_daemon(app):
    """A centre joined to a hub syncs by itself while it serves, unless SYNC_DAEMON is off."""
    config = app.config
    if config["ROLE"] != "node" or not config["SYNC_DAEMON"] or not config["HUB_URL"]:
        return None
    from .syncing import Daemon

    daemon = Daemon(app)
    app.extensions["infocentre"]["daemon"] = daemon
    daemon.start(delay=5)
    click.echo(_("It syncs with the hub by itself whenever the hub answers."))
    return daemon


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
    use_language(config_module.ROOT / "locales", terminal_language(os.environ))
    cli(prog_name="infocentre")
