"""The auth area: accounts, shared-terminal sign-in, sessions and permissions."""

from flask import url_for

from ..i18n import _
from .access import PERMISSIONS, can
from .cli import cli
from .models import SYNCED_TABLES, demo, purge_sessions
from .schema import MIGRATIONS
from .views import bp

__all__ = ["DAILY", "MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "cli", "demo", "tiles"]


def purge_idle_sessions(db, *, config, now) -> int:
    """Forget the sessions idle past ``IDLE_MINUTES``: they sign nobody in any more, and the
    table would grow for ever (issue 15). Returns how many went."""
    return purge_sessions(db, now, config["IDLE_MINUTES"] * 60)


DAILY = [purge_idle_sessions]  # run once a day by the server (kiosk/housekeeping.py)


def tiles(user: dict | None) -> list[dict]:
    """The home page's buttons this area offers to ``user``."""
    if user is None:
        return []
    hint = _("Language and PIN") if user["has_pin"] else _("Language and password")
    found = [{"label": _("My account"), "hint": hint, "icon": "user", "url": url_for("auth.me")}]
    if can("manage_people", user):
        found.append({"label": _("People"), "hint": _("Add people, give new PINs"),
                      "icon": "users", "url": url_for("auth.people")})
    return found
