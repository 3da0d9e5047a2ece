"""Browsing the region's products: by category, cooperative and centre, searching them, a
product's and a cooperative's pages, and a printable price list. Read-only, so the hub shows
the same pages (every product of the region)."""

from __future__ import annotations

from urllib.parse import quote

from flask import abort, current_app, render_template, request, url_for

from ...auth.access import can, current_user
from ...data import get_db, utcnow
from ...errors import NotFound
from ...i18n import format_price, text_languages
from ...media import photo_url
from .. import models
from . import bp

PER_PAGE = 24
MAX_QUERY = 200  # characters of a search kept (models.search_query keeps ten words)


def _page() -> int:
    """The page asked for (?page=, "1" is the first); only a few ASCII digits are read."""
    number = request.args.get("page", "1")
    if not (number.isascii() and number.isdigit() and len(number) <= 6) or int(number) < 1:
        return 1
    return int(number)


def _pages(total: int) -> int:
    return max(1, -(-total // PER_PAGE))


def _currency() -> str:
    return models.currency(get_db(), current_app.config["CURRENCY"])


def _links() -> dict:
    """The other parts' pages this person may open from the market's pages, when they are
    there (a link to a page this installation lacks would only lead to a 404)."""
    have = current_app.view_functions
    at_node = current_app.config["ROLE"] == "node" and current_user() is not None
    return {
        "mine": at_node and "market.mine" in have and can("sell"),
        "basket": at_node and "market.basket" in have and can("shop"),
        "my_orders": at_node and "market.my_orders" in have and can("shop"),
    }


def _cooperative(coop_id: str) -> dict:
    try:
        coop = models.get_cooperative(get_db(), coop_id)
    except NotFound:
        abort(404)
    return coop


def _cards(products: list[dict], size: int = 160) -> list[dict]:
    """Each product with what its card shows made once: its address, price and unit in the
    reader's language, and its thumbnail's address (a page of 24 cards stays a few ms)."""
    currency = _currency()
    units: dict[str, str] = {}
    prices: dict[int, str] = {}
    address = url_for("market.product", product_id="-")[:-1]
    for p in products:
        if p["price"] not in prices:
            prices[p["price"]] = format_price(p["price"], currency)
        p["url"] = address + quote(p["id"], safe="")
        p["price_text"] = prices[p["price"]]
        if p["unit"] not in units:
            units[p["unit"]] = models.unit_label(p["unit"])
        p["unit_text"] = units[p["unit"]]
        p["thumb"] = photo_url(p["photo"], size)
    return products


def _common(**context) -> dict:
    return {"currency": _currency(), "links": _links(), "photo_url": photo_url,
            "unit_label": models.unit_label, "category_label": models.category_label,
            **context}


@bp.get("")
def index():
    db = get_db()
    category = request.args.get("category")
    category = category if category in models.CATEGORIES else None
    centres = models.market_centres(db)
    coops = models.cooperative_names(db)
    coop = request.args.get("cooperative") or None
    coop = coop if any(c["id"] == coop for c in coops) else None
    centre = request.args.get("centre") or None
    centre = centre if any(c["id"] == centre for c in centres) else None
    query = " ".join((request.args.get("q") or "")[:MAX_QUERY].split())
    page = _page()
    products, total = models.catalogue(
        db, langs=text_languages(), category=category, cooperative=coop, centre=centre,
        query=query or None, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    filters = {"q": query or None, "category": category, "cooperative": coop, "centre": centre}
    return render_template("market/catalogue.html", **_common(
        products=_cards(products), total=total, page=page, pages=_pages(total), filters=filters,
        categories=models.categories(db), cooperatives=coops, centres=centres))


@bp.get("/products/<product_id>")
def product(product_id):
    db = get_db()
    try:
        found = models.get_product(db, product_id, text_languages())
    except NotFound:
        abort(404)
    coop = _cooperative(found["cooperative_id"])
    may_edit = ("market.product_edit" in current_app.view_functions and models.may_keep(
        db, current_user(), coop, centre_id=current_app.config["CENTRE_ID"]))
    return render_template("market/product.html", **_common(
        product=found, cooperative=coop, may_edit=may_edit))


@bp.get("/cooperatives")
def cooperatives():
    return render_template("market/cooperatives.html", **_common(
        cooperatives=models.cooperatives(get_db())))


@bp.get("/cooperatives/<coop_id>")
def cooperative(coop_id):
    db = get_db()
    coop = _cooperative(coop_id)
    page = _page()
    products, total = models.catalogue(db, langs=text_languages(), cooperative=coop["id"],
                                       limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    may_edit = ("market.cooperative_edit" in current_app.view_functions and models.may_keep(
        db, current_user(), coop, centre_id=current_app.config["CENTRE_ID"]))
    return render_template("market/cooperative.html", **_common(
        cooperative=coop, products=_cards(products), total=total, page=page, pages=_pages(total),
        filters={}, may_edit=may_edit))


@bp.get("/price-list")
def price_list():
    """The notice board's list of a cooperative's or a centre's products; without either,
    the choice of one."""
    db = get_db()
    coop = centre = None
    if request.args.get("cooperative"):
        coop = _cooperative(request.args["cooperative"])
    elif request.args.get("centre"):
        centre = next((c for c in models.market_centres(db)
                       if c["id"] == request.args["centre"]), None)
        if centre is None:
            abort(404)
    else:
        return render_template("market/price_list.html", **_common(
            products=None, cooperatives=models.cooperatives(db),
            centres=models.market_centres(db)))
    products, total = models.price_list(
        db, langs=text_languages(), cooperative=coop and coop["id"],
        centre=centre and centre["id"])
    return render_template("market/price_list.html", **_common(
        products=_cards(products, 96), total=total, cooperative=coop, centre=centre,
        today=utcnow()))
