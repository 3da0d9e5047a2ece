"""The market's pages, under ``/market``: the catalogue (``catalogue``), a cooperative's own
pages (``manage``) and orders (``orders``). Imports the area's models, ``kiosk.auth.access``,
``kiosk.data``, ``kiosk.i18n``, ``kiosk.media`` and ``kiosk.web``."""

from flask import Blueprint

bp = Blueprint("market", __name__, url_prefix="/market")

from . import catalogue, manage, orders  # noqa: E402,F401  (their pages, on the blueprint)
