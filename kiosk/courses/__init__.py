"""The courses area: course packs, learners' lessons and quizzes, classes and certificates."""

from flask import current_app, url_for

from sync.media import Store

from ..auth.access import can
from ..data import media_dir
from ..i18n import _
from . import models
from .cli import content
from .models import SYNCED_TABLES
from .views import bp

commands = [content]


def demo(db, **kwargs) -> list[dict]:
    """The shipped courses everywhere; at a centre, a demo class at different points."""
    return models.demo(db, store=Store(media_dir(current_app.config)), **kwargs)


def tiles(user: dict | None) -> list[dict]:
    found = [{"label": _("Courses"), "hint": _("Learn step by step, at your own pace"),
              "icon": "book", "url": url_for("courses.catalogue")}] if user else []
    if current_app.config["ROLE"] == "node" and can("teach", user):
        found.append({"label": _("My classes"), "hint": _("Attendance, progress, certificates"),
                      "icon": "users", "url": url_for("courses.classes")})
    return found


__all__ = ["SYNCED_TABLES", "bp", "commands", "demo", "tiles"]
