"""Infocentre's kiosk: the Flask app that runs a centre ("node") or the regional hub.

``create_app`` builds it from configuration and wires the areas from the one list, the AREAS
setting.
"""

from __future__ import annotations

import importlib
import os

from flask import Flask

from sync.engine import check_schema, install, read_state

from . import config as config_module
from . import data, i18n, media, web
from .errors import ConfigError

# An area is a module offering any of: ``MIGRATIONS`` (its sqlite-utils set), ``SYNCED_TABLES``,
# ``PERMISSIONS`` (name -> roles), ``bp`` (its blueprint), ``cli`` (a click group), ``commands``
# (more groups), ``demo(db, ...)`` and ``tiles(user)`` (home-page buttons); kiosk/README.md
# describes each. The list is the AREAS setting (by default, DEFAULT_AREAS in kiosk/config.py).


def areas(names) -> list:
    """The area modules named, in order; ConfigError for one that cannot be imported."""
    found = []
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except ImportError as e:
            raise ConfigError(f"the area {name} could not be loaded: {e}") from None
    return found


def migration_sets(loaded: list) -> list:
    """The areas' own migration sets, in the areas' order."""
    return [area.MIGRATIONS for area in loaded if hasattr(area, "MIGRATIONS")]


def _permissions(loaded: list) -> dict[str, frozenset]:
    found: dict[str, frozenset] = {}
    for area in loaded:
        for name, roles in getattr(area, "PERMISSIONS", {}).items():
            if name in found:
                raise ConfigError(f"the permission {name} is declared by two areas")
            found[name] = frozenset(roles)
    return found


def create_app(config: dict | None = None) -> Flask:
    # Every file the app makes (photos, backups, the WAL, logs of a sync) is its owner's
    # alone, whatever umask the service manager or the desktop session gave (issue 14).
    os.umask(data.UMASK)
    settings = config_module.load(config)
    app = Flask(__name__, instance_path=settings["DATA_DIR"])
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_NAME="infocentre",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SECURE_COOKIES"],
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,  # a phone's photo, before it is shrunk
        MAX_FORM_MEMORY_SIZE=512 * 1024,
        JSON_SORT_KEYS=False,
    )
    i18n.init_app(app)
    web.init_app(app)
    loaded = areas(app.config["AREAS"])
    data.init_app(app, migration_sets(loaded))
    tables = [t for a in loaded for t in getattr(a, "SYNCED_TABLES", ())]
    _install_sync(app, tables)
    registry = app.extensions.setdefault("infocentre", {
        "areas": loaded, "tiles": [], "synced_tables": tables,
        "permissions": _permissions(loaded)})
    for area in loaded:
        if hasattr(area, "bp"):
            app.register_blueprint(area.bp)
        if hasattr(area, "tiles"):
            registry["tiles"].append(area.tiles)
    app.register_blueprint(media.bp)
    app.teardown_appcontext(media.sweep_after)  # before data's close_db (the reverse order)
    app.register_error_handler(500, web.handle_internal_error)
    for area in loaded:
        if hasattr(area, "start"):
            area.start(app)
    return app


def _check_restored(app: Flask, db) -> None:
    """Before the hub writes anything: was its database put back from an older copy? Then it
    takes a new epoch, and every centre sends and pulls everything again (sync/README.md,
    "Restores and clones")."""
    from sync import watermark
    from sync.engine.hub import check_high_water

    if check_high_water(db, watermark.read(app.config["DATA_DIR"])):
        app.logger.warning("this hub's database is older than the hub had reached: it was "
                           "restored from a backup; centres will send everything again")
    watermark.raise_to(app.config["DATA_DIR"], read_state(db)["seq"])


def _install_sync(app: Flask, tables: list) -> None:
    """Check the synced tables, (re)install change capture, and on the hub serve the sync API."""
    db = data.open_db(app.config["DATABASE"])
    try:
        problems = check_schema(db, tables)
        if problems:
            raise ConfigError("synced tables cannot be synced: " + "; ".join(map(str, problems)))
        install(db, tables, node_id=app.config["CENTRE_ID"], role=app.config["ROLE"])
        if app.config["ROLE"] == "hub":
            _check_restored(app, db)
    finally:
        db.close()
    if app.config["ROLE"] == "hub":
        import sync.server  # only the hub serves it (and importing it costs every command)

        sync.server.init_app(app, get_db=data.get_db, tables=tables,
                             media_root=data.media_dir(app.config),
                             data_dir=app.config["DATA_DIR"],
                             open_writer=lambda: data.open_db(app.config["DATABASE"],
                                                              shared=True))
        web.csrf.exempt(sync.server.bp)  # signed with the node's secret instead
