"""The courses area: course packs, learners' lessons and quizzes, progress and certificates.
Classes are the classes area's."""

from flask import current_app, url_for

from sync.media import Store

from ..data import media_dir
from ..i18n import _
from . import models
from . import voices as _voices  # noqa: F401  (its pages join the area's blueprint)
from .cli import content
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

commands = [content]

# Recording the voice of a course's texts (lesson pages, questions, answers).
PERMISSIONS = {"record_voice": {"facilitator", "admin"}}


def demo(db, **kwargs) -> list[dict]:
    """The shipped courses, everywhere."""
    return models.demo(db, store=Store(media_dir(current_app.config)), **kwargs)


def tiles(user: dict | None) -> list[dict]:
    return [{"label": _("Courses"), "hint": _("Learn step by step, at your own pace"),
             "icon": "book", "url": url_for("courses.catalogue")}] if user else []


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "commands", "demo", "tiles"]
