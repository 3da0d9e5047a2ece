"""The classes area: a facilitator's classes, enrolment, attendance, the progress grid, CSV
downloads and the class's certificates, under ``/courses/classes``. Uses the courses area's
models (what a class follows)."""

from flask import current_app, url_for

from ..auth.access import can
from ..i18n import _
from .demo import demo
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

# Classes: enrolment, attendance, progress, certificates.
PERMISSIONS = {"teach": {"facilitator", "admin"}}


def tiles(user: dict | None) -> list[dict]:
    """A "My classes" button on a centre's home page, for those who teach."""
    if current_app.config["ROLE"] != "node" or not can("teach", user):
        return []
    return [{"label": _("My classes"), "hint": _("Attendance, progress, certificates"),
             "icon": "users", "url": url_for("classes.index")}]


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "demo", "tiles"]
