"""The stories area: villagers record their memories by voice at their centre, say who may hear
them and may change their mind later; facilitators review them; the hub collects every story of
the region and exports what consent allows, as an archive and for community radio. Pages under
``/stories``; the rules of consent and review are in this folder's README."""

from flask import url_for

from ..i18n import _
from .cli import cli
from .demo import demo
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

PERMISSIONS = {
    "tell": {"villager", "facilitator", "cooperative", "admin"},  # record a story, change one's own
    "review_stories": {"facilitator", "admin"},  # the review queue; change any story told here
    "collect_stories": {"regional", "admin"},  # the hub's collection, exports and radio
}


def tiles(user: dict | None) -> list[dict]:
    """The stories' button on the home page, for everyone."""
    return [{"label": _("Stories"), "hint": _("Memories of our villages, told by their people"),
             "icon": "mic", "url": url_for("stories.index")}]


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "bp", "cli", "demo", "tiles"]
