"""The stories' pages, under ``/stories``: browsing and listening (``browse``), telling and
changing a story and its consent (``tell``), the review queue (``review``), and the hub's
collection, exports and radio feed (``collection``). Imports the area's models,
``kiosk.auth.access``, ``kiosk.audio``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.media`` and
``kiosk.web``."""

from flask import Blueprint

bp = Blueprint("stories", __name__, url_prefix="/stories")

from . import browse, collection, review, tell  # noqa: E402,F401  (their pages, on the blueprint)
