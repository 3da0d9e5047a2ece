"""The market area: cooperatives list their products, every centre browses and orders them, and
the orders travel between the buyer's centre and the cooperative's through the hub, under
``/market``. The rules of orders and stock are in this folder's README."""

from flask import url_for

from ..i18n import _
from . import models
from .cli import cli
from .demo import demo
from .models import SYNCED_TABLES
from .schema import MIGRATIONS
from .views import bp

PERMISSIONS = {
    "shop": {"villager", "facilitator", "cooperative", "admin"},  # order for oneself
    "order_for_others": {"facilitator", "admin"},  # order on a villager's behalf
    "sell": {"cooperative", "facilitator", "admin"},  # keep a cooperative (members: their own)
    "run_cooperatives": {"facilitator", "admin"},  # add cooperatives and their members
}


def after_sync(db, *, centre_id: str, now) -> int:
    """Take up the orders and cancellations that reached this centre's cooperatives."""
    return models.receive_orders(db, centre_id=centre_id, now=now)


def tiles(user: dict | None) -> list[dict]:
    """The market's button on the home page, for everyone."""
    return [{"label": _("Market"), "hint": _("Products of the region's cooperatives"),
             "icon": "basket", "url": url_for("market.index")}]


__all__ = ["MIGRATIONS", "PERMISSIONS", "SYNCED_TABLES", "after_sync", "bp", "cli", "demo",
           "tiles"]
