"""The admin area: the centre registry, the hub's and a centre's sync commands, the centre's sync
page, and the hub's pages of the centres for the regional staff."""

from flask import current_app, url_for

from ..auth.access import can
from ..i18n import _
from . import hub_views  # noqa: F401 (its pages, on the area's blueprint)
from .bundle_cli import bundle
from .cli import hub, sync
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

commands = [hub, sync, bundle]
PERMISSIONS = {
    "sync_now": {"facilitator", "admin"},  # start a sync with the hub
    # At the hub, where only regional staff sign in: the centres' list and pages, and
    # registering and revoking centres.
    "see_centres": {"regional"},
    "register_centres": {"regional"},
}


def start(app) -> None:
    """At the hub, publish the region's settings (the currency) from its configuration."""
    if app.config["ROLE"] != "hub":
        return
    import datetime as dt

    from ..data import open_db
    from .models import publish_region_settings

    db = open_db(app.config["DATABASE"])
    try:
        publish_region_settings(db, app.config, dt.datetime.now(dt.timezone.utc))
    finally:
        db.close()


def tiles(user: dict | None) -> list[dict]:
    """A "Sync" button on the home page of a centre, for those who may start a sync; at the
    hub, "Centres" for the regional staff, first on their page (``first``)."""
    if current_app.config["ROLE"] == "hub":
        if not can("see_centres", user):
            return []
        return [{"label": _("Centres"), "hint": _("Their last sync, learners and certificates"),
                 "icon": "home", "url": url_for("admin.centres"), "first": True}]
    if not can("sync_now", user):
        return []
    return [{"label": _("Sync with the hub"), "hint": _("Send and receive the centre's work"),
             "icon": "sync", "url": url_for("admin.sync_page")}]


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "commands", "start", "tiles"]
