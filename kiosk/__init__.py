"""Infocentre's kiosk: the Flask app that runs a centre ("node") or the regional hub.

``create_app`` builds it from configuration and wires the areas from the one list ``AREAS``.
"""

from __future__ import annotations

import importlib

from flask import Flask

from sync.engine import check_schema

from . import config as config_module
from . import data, i18n, web
from .errors import ConfigError

# Each area is a package offering any of: ``bp`` (its blueprint), ``SYNCED_TABLES``, ``cli`` (a
# click group), ``demo(db, ...)`` and ``tiles(user)`` (home-page buttons).
AREAS = ("kiosk.home", "kiosk.auth", "kiosk.admin")


def areas() -> list:
    return [importlib.import_module(name) for name in AREAS]


def synced_tables() -> list:
    return [t for area in areas() for t in getattr(area, "SYNCED_TABLES", ())]


def create_app(config: dict | None = None) -> Flask:
    settings = config_module.load(config)
    app = Flask(__name__, instance_path=settings["DATA_DIR"])
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_NAME="infocentre",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SECURE_COOKIES"],
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=512 * 1024,
        JSON_SORT_KEYS=False,
    )
    i18n.init_app(app)
    web.init_app(app)
    data.init_app(app)
    _check_synced_tables(app)
    registry = app.extensions.setdefault("infocentre", {"tiles": []})
    for area in areas():
        if hasattr(area, "bp"):
            app.register_blueprint(area.bp)
        if hasattr(area, "tiles"):
            registry["tiles"].append(area.tiles)
    app.register_error_handler(500, web.handle_internal_error)
    return app


def _check_synced_tables(app: Flask) -> None:
    db = data.open_db(app.config["DATABASE"])
    try:
        problems = check_schema(db, synced_tables())
    finally:
        db.close()
    if problems:
        raise ConfigError("synced tables cannot be synced: " + "; ".join(map(str, problems)))
