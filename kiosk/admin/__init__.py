"""The admin area: the centre registry, the hub's and a centre's sync commands, and the
centre's sync page."""

from flask import current_app, url_for

from ..auth.access import can
from ..i18n import _
from .bundle_cli import bundle
from .cli import hub, sync
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

commands = [hub, sync, bundle]
PERMISSIONS = {"sync_now": {"facilitator", "admin"}}  # start a sync with the hub


def tiles(user: dict | None) -> list[dict]:
    """A "Sync" button on the home page of a centre, for those who may start a sync."""
    if current_app.config["ROLE"] != "node" or not can("sync_now", user):
        return []
    return [{"label": _("Sync with the hub"), "hint": _("Send and receive the centre's work"),
             "icon": "sync", "url": url_for("admin.sync_page")}]


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "commands", "tiles"]
