"""The auth area: accounts, shared-terminal sign-in, sessions and permissions."""

from flask import url_for

from ..i18n import _
from .access import PERMISSIONS, can
from .cli import cli
from .models import SYNCED_TABLES, demo
from .schema import MIGRATIONS
from .views import bp

__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "cli", "demo", "tiles"]


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
