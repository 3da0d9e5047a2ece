"""Orders at a centre: the basket (kept in the session), placing an order for oneself or on a
person's behalf, the buyer's orders and one order's page; and a cooperative's side: its
incoming orders and their steps, a pick list per collection centre, its sales per month. Every
page is a centre's: the hub has none. Imports the area's models, ``kiosk.auth``, the bar chart
of ``kiosk.admin.chart``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.media`` and ``kiosk.web``."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from babel import numbers
from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for

from ...admin.chart import bars
from ...auth import models as accounts
from ...auth.access import can, node_only, permission_required, safe_next
from ...data import get_db, iso, new_id, utcnow
from ...errors import NotFound, ValidationError
from ...i18n import (
    _,
    format_date,
    format_month,
    format_number,
    format_time,
    language,
    text_languages,
)
from ...media import photo_url
from ...web import csv_download
from .. import models
from . import bp

# A basket lives in the session's cookie (4 KB at most): twenty products fit with room to spare.
BASKET_MAX = 20
SHOWN_BUYERS = 12  # people offered at once to a facilitator ordering on someone's behalf
FINISHED_SHOWN = 30  # finished orders a cooperative sees below its open ones
BUYER_ROLES = ("villager", "cooperative", "facilitator", "admin")
# The buyer's list can be narrowed to these (each a set of statuses).
FILTERS = {"open": ("placed", "received", "confirmed"), "ready": ("ready",),
           "finished": models.DONE}
ICONS = {"placed": "sync", "received": "clock", "confirmed": "check", "ready": "home",
         "collected": "check", "declined": "cross", "cancelled": "close", "cancel_asked": "alert"}


def _centre() -> str:
    return current_app.config["CENTRE_ID"]


def _currency() -> str:
    return models.currency(get_db(), current_app.config["CURRENCY"])


@bp.app_template_global()
def may_shop() -> bool:
    """Whether the signed-in person may order here (the product page's order box asks)."""
    return current_app.config["ROLE"] == "node" and can("shop")


@bp.context_processor
def _helpers() -> dict:
    return {"unit_label": models.unit_label, "status_label": models.status_label,
            "decline_reason": models.decline_reason, "status_icons": ICONS,
            "thumb": photo_url, "order_ref": order_ref, "when": when}


def when(at: str) -> str:
    """The day and the time of a step, for people: "2 dic 2026, 9:55" (no seconds)."""
    return f"{format_date(at, 'medium')}, {format_time(at)}"


def order_ref(order_id: str) -> str:
    """A short reference people can read out and match with a printed list ("7C2A9F")."""
    return order_id.replace("-", "")[-6:].upper()


def _money(minor: int, currency: str) -> str:
    """An amount as a person types it in their language, no symbol nor grouping: "12,50"."""
    sep, digits = _money_format(currency)
    text = f"{Decimal(minor).scaleb(-digits):.{digits}f}"
    return text.replace(".", sep)


def _money_format(currency: str) -> tuple[str, int]:
    return (numbers.get_decimal_symbol(language().number_locale),
            numbers.get_currency_precision(currency))


# The basket: [[product id, quantity], ...] in the order added, and whose it is (a basket
# left on a shared terminal is never the next person's; signing out clears it anyway).


def _basket() -> dict[str, int]:
    kept = session.get("basket")
    if not isinstance(kept, dict) or kept.get("who") != g.user["id"]:
        return {}
    return {str(p): int(q) for p, q in kept.get("lines", []) if isinstance(q, int)}


def _keep(lines: dict[str, int]) -> None:
    if lines:
        session["basket"] = {"who": g.user["id"], "lines": [[p, q] for p, q in lines.items()]}
    else:
        session.pop("basket", None)


def _quantity(text) -> int | None:
    try:
        return models.parse_count(text, limit=models.MAX_QUANTITY, allow_zero=False)
    except ValueError:
        return None


def _quantity_message() -> str:
    return _("Write how many you want as a whole number from 1 to 10,000.")


def _adding_problem(product: dict, quantity: int | None, lines: dict[str, int]) -> str | None:
    name = product["name"] or ""
    if not product["active"]:
        return _("%(name)s is no longer sold.", name=name)
    if product["stock"] <= 0:
        return _("%(name)s is sold out.", name=name)
    if quantity is None:
        return _quantity_message()
    if quantity + lines.get(product["id"], 0) > product["stock"]:
        return _("Only %(count)d of %(name)s are left.", count=product["stock"], name=name)
    if product["id"] not in lines and len(lines) >= BASKET_MAX:
        return _("Your basket is full. Send this order first, then start another one.")
    return None


@bp.post("/basket/add")
@node_only
@permission_required("shop")
def basket_add():
    back = safe_next(request.form.get("next"), url_for(".basket"))
    try:
        product = models.get_product(get_db(), request.form.get("product_id", ""),
                                     text_languages())
    except NotFound as e:
        flash(str(e), "error")
        return redirect(back)
    lines = _basket()
    quantity = _quantity(request.form.get("quantity", ""))
    problem = _adding_problem(product, quantity, lines)
    if problem:
        flash(problem, "error")
        return redirect(back)
    lines[product["id"]] = lines.get(product["id"], 0) + quantity
    _keep(lines)
    flash(_("%(name)s is in your basket.", name=product["name"] or ""), "success")
    return redirect(url_for(".basket"))


@bp.route("/basket", methods=["GET", "POST"])
@node_only
@permission_required("shop")
def basket():
    lines = _basket()
    form = {"note": "", "order_id": new_id(), "buyer": g.user["id"], "buyer_q": ""}
    if request.method == "GET":
        return _basket_page(lines, form, {})
    if "remove" in request.form:  # its own small form, beside each line
        lines.pop(request.form["remove"], None)
        _keep(lines)
        return redirect(url_for(".basket"))
    form = {name: request.form.get(name, "") for name in form}
    typed, errors = _typed(lines)
    if not _valid_id(form["order_id"]):
        form["order_id"] = new_id()
        errors["order"] = [_("The form was not complete. Please press “Send my order” again.")]
    if errors:
        return _basket_page(lines, form, errors, typed=typed, status=400)
    _keep(typed)
    if request.form.get("action") != "place":
        return _basket_page(typed, form, {})  # quantities updated, or a buyer searched for
    return _place(typed, form)


def _valid_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _typed(lines: dict[str, int]) -> tuple[dict, dict[str, list[str]]]:
    """The quantities typed for the basket's products, and a problem per line."""
    typed, errors = dict(lines), {}
    for product_id, text in zip(request.form.getlist("product"),
                                request.form.getlist("quantity")):
        if product_id not in lines:
            continue
        quantity = _quantity(text)
        if quantity is None:
            errors[f"q-{product_id}"] = [_quantity_message()]
            typed[product_id] = text[:12]
        else:
            typed[product_id] = quantity
    return typed, errors


def _buyer(chosen: str) -> dict | None:
    """The person the order is for: oneself, or (``order_for_others``) a person of this
    centre; None when the choice is not one of them."""
    if chosen == g.user["id"] or not chosen:
        return g.user
    if not can("order_for_others"):
        return None
    account = accounts.find_account(get_db(), chosen)
    if account and account["centre_id"] == _centre() and account["role"] in BUYER_ROLES:
        return account
    return None


def _place(lines: dict[str, int], form: dict):
    buyer = _buyer(form["buyer"])
    if buyer is None:
        errors = {"buyer": [_("Choose a person of this centre.")]}
        return _basket_page(lines, form, errors, status=400)
    db = get_db()
    try:
        made = models.place_order(
            db, order_id=form["order_id"], centre_id=_centre(), buyer=buyer,
            placed_by=g.user, lines=list(lines.items()), note=form["note"],
            currency=_currency(), langs=text_languages(), now=utcnow())
    except ValidationError as e:
        if "order" in e.errors:  # the same form sent twice: the first placed it
            _keep({})
            flash(" ".join(e.errors["order"]), "info")
            return redirect(url_for(".my_orders"))
        return _basket_page(lines, form, e.errors, status=400)
    _keep({})
    orders = [models.get_order(db, order_id) for order_id in made]
    flash(_sent_message(buyer, orders), "success")
    return redirect(url_for(".my_orders"))


def _sent_message(buyer: dict, orders: list[dict]) -> str:
    mine = buyer["id"] == g.user["id"]
    said = [_("Your order is sent.") if mine else
            _("The order for %(name)s is sent.", name=buyer["name"])]
    if all(o["seller_centre"] == _centre() for o in orders):
        said.append(_("The cooperative is at this centre: it has the order now."))
    else:
        said.append(_("It travels to the cooperative the next time this centre syncs."))
    centre = orders[0]["centre_name"] or current_app.config["CENTRE_NAME"]
    said.append(_("You pay in cash when you collect it here, at %(centre)s.", centre=centre)
                if mine else
                _("It is paid in cash when collected here, at %(centre)s.", centre=centre))
    return " ".join(said)


def _basket_page(lines: dict, form: dict, errors: dict, *, typed: dict | None = None,
                 status: int = 200):
    db = get_db()
    rows, total = [], 0
    for product_id, quantity in lines.items():
        try:
            product = models.get_product(db, product_id, text_languages())
        except NotFound:
            continue
        shown = (typed or {}).get(product_id, quantity)
        product["quantity"] = shown
        product["problem"] = (models.decline_reason("withdrawn") if not product["active"] else
                              models.decline_reason("sold_out") if product["stock"] <= 0 else
                              _("Only %(count)d of %(name)s are left.", count=product["stock"],
                                name=product["name"] or "")
                              if quantity > product["stock"] else None)
        product["subtotal"] = product["price"] * quantity
        total += product["subtotal"]
        rows.append(product)
    buyers = _buyers(form) if can("order_for_others") else []
    return render_template("market/basket.html", lines=rows, total=total, form=form,
                           errors=errors, buyers=buyers, for_others=can("order_for_others"),
                           currency=_currency(),
                           max_quantity=models.MAX_QUANTITY, max_note=models.MAX_NOTE), status


def _buyers(form: dict) -> list[dict]:
    """The people a facilitator may order for: those found by name, and the one chosen."""
    query = form["buyer_q"].strip()[:60]
    found = accounts.list_accounts(get_db(), centre_id=_centre(), roles=BUYER_ROLES,
                                   query=query)[:SHOWN_BUYERS] if query else []
    chosen = _buyer(form["buyer"])
    if chosen and chosen["id"] != g.user["id"] and all(p["id"] != chosen["id"] for p in found):
        found.insert(0, chosen)
    for person in found:
        person["initials"], person["colour"] = (accounts.initials(person["name"]),
                                                accounts.colour(person["id"]))
    return [p for p in found if p["id"] != g.user["id"]]


# The buyer's side: their orders (a facilitator's: every order placed at this centre), and one.


@bp.get("/orders")
@node_only
@permission_required("shop")
def my_orders():
    everyone = can("order_for_others")
    shown = request.args.get("status", "")
    query = request.args.get("q", "").strip()[:60] if everyone else ""
    found = models.orders(get_db(), centre_id=_centre(),
                          buyer_id=None if everyone else g.user["id"])
    if shown in FILTERS:
        found = [o for o in found if o["status"] in FILTERS[shown]]
    if query:
        found = [o for o in found if accounts.matches(o["buyer_name"], query)]
    return render_template("market/orders.html", orders=found, everyone=everyone, shown=shown,
                           query=query, filters=FILTERS)


def _viewer(order: dict) -> str | None:
    """How the signed-in person may see the order: its ``buyer``, the ``centre``'s staff
    where it was placed, a ``keeper`` of the selling cooperative; None: not at all."""
    user, centre = g.user, _centre()
    if order["centre_id"] == centre and order["buyer_id"] == user["id"]:
        return "buyer"
    if order["centre_id"] == centre and can("order_for_others"):
        return "centre"
    try:
        coop = models.get_cooperative(get_db(), order["cooperative_id"])
    except NotFound:
        return None
    return "keeper" if models.may_keep(get_db(), user, coop, centre_id=centre) else None


def _seen_order(order_id: str) -> tuple[dict, str]:
    order = models.get_order(get_db(), order_id)
    viewer = _viewer(order)
    if viewer is None:  # another's order is not shown, nor said to exist
        raise NotFound(_("There is no such order here."))
    return order, viewer


def timeline(order: dict) -> tuple[list[dict], list[str]]:
    """The steps an order went through, oldest first (each with its time), and those still
    to come while it is not finished."""
    steps = [{"kind": "placed", "at": order["placed_at"]}]
    steps += [{"kind": e["kind"], "at": e["at"], "reason": e["reason"], "amount": e["amount"]}
              for e in sorted(order["events"], key=lambda e: (e["at"], e["kind"]))]
    done = {s["kind"] for s in steps}
    coming = [] if order["status"] in models.DONE else [
        k for k in ("received", "confirmed", "ready", "collected") if k not in done]
    return steps, coming


@bp.get("/orders/<order_id>")
@node_only
@permission_required("shop")
def order(order_id):
    found, viewer = _seen_order(order_id)
    steps, coming = timeline(found)
    may_cancel = (viewer in ("buyer", "centre") and found["status"] not in models.DONE
                  and not found["cancel_asked"])
    return render_template("market/order.html", order=found, viewer=viewer, steps=steps,
                           coming=coming, may_cancel=may_cancel)


@bp.post("/orders/<order_id>/cancel")
@node_only
@permission_required("shop")
def order_cancel(order_id):
    found, viewer = _seen_order(order_id)
    if viewer not in ("buyer", "centre"):
        abort(403)
    db = get_db()
    try:
        models.ask_cancel(db, order_id, centre_id=_centre(), by_id=g.user["id"], now=utcnow())
    except ValidationError as e:
        flash(str(e), "error")
        return redirect(url_for(".order", order_id=order_id))
    if models.get_order(db, order_id)["status"] == "cancelled":
        flash(_("The order is cancelled."), "success")
    else:
        flash(_("You asked to cancel the order. The cooperative gets your request the next "
                "time this centre syncs."), "success")
    return redirect(url_for(".order", order_id=order_id))


# The cooperative's side, for those who keep it (its members, the centre's staff).


def _kept(coop_id: str) -> dict:
    db = get_db()
    coop = models.get_cooperative(db, coop_id)
    if not models.may_keep(db, g.user, coop, centre_id=_centre()):
        abort(403)
    return coop


def _coop_orders(coop: dict, limit: int = 500) -> list[dict]:
    """The cooperative's orders, once those that arrived are taken up (stock, sold out)."""
    db = get_db()
    models.receive_orders(db, centre_id=_centre(), now=utcnow())
    return models.orders(db, cooperative_id=coop["id"], seller_centre=_centre(), limit=limit)


@bp.get("/cooperatives/<coop_id>/orders")
@node_only
@permission_required("sell")
def incoming(coop_id):
    return _incoming_page(_kept(coop_id))


def _incoming_page(coop: dict, *, failed: str | None = None, errors: dict | None = None,
                   status: int = 200):
    found = _coop_orders(coop)
    currency = _currency()
    for o in found:
        o["amount_text"] = request.form.get("amount", "") if o["id"] == failed \
            else _money(o["total"], o["currency"] or currency)
        o["steps"] = models.NEXT_STEPS.get(o["status"], ())
    groups = [(status_, [o for o in found if o["status"] == status_])
              for status_ in ("received", "confirmed", "ready", "placed")]
    finished = [o for o in found if o["status"] in models.DONE][:FINISHED_SHOWN]
    centres = _collection_centres(found)
    return render_template("market/incoming.html", coop=coop, groups=groups,
                           finished=finished, centres=centres, failed=failed,
                           errors=errors or {}, typed=request.form), status


def _collection_centres(found: list[dict]) -> list[dict]:
    """The centres orders are to be taken to (confirmed or ready), with how many each."""
    centres: dict[str, dict] = {}
    for o in found:
        if o["status"] in ("confirmed", "ready"):
            there = centres.setdefault(o["centre_id"], {
                "id": o["centre_id"], "name": o["centre_name"] or o["centre_id"], "orders": 0})
            there["orders"] += 1
    return sorted(centres.values(), key=lambda c: accounts.sort_key(c["name"]))


def _step_done(kind: str, name: str) -> str:
    return {
        "confirmed": _("The order of %(name)s is confirmed.", name=name),
        "declined": _("The order of %(name)s is declined. The buyer will read your reason.",
                      name=name),
        "ready": _("The order of %(name)s is ready to collect.", name=name),
        "collected": _("The order of %(name)s is collected and paid.", name=name),
    }[kind]


@bp.post("/orders/<order_id>/step")
@node_only
@permission_required("sell")
def order_step(order_id):
    db = get_db()
    found = models.get_order(db, order_id)
    coop = _kept(found["cooperative_id"])
    kind = request.form.get("kind", "")
    sep, digits = _money_format(found["currency"] or _currency())
    try:
        models.seller_step(db, order_id, kind, centre_id=_centre(), by_id=g.user["id"],
                           now=utcnow(), reason=request.form.get("reason", ""),
                           amount=request.form.get("amount"), decimal_sep=sep, digits=digits)
    except ValidationError as e:
        return _incoming_page(coop, failed=order_id, errors=e.errors, status=400)
    flash(_step_done(kind, found["buyer_name"]), "success")
    return redirect(url_for(".incoming", coop_id=coop["id"], _anchor=f"order-{order_id}"))


@bp.get("/cooperatives/<coop_id>/pick-list")
@node_only
@permission_required("sell")
def pick_list(coop_id):
    coop = _kept(coop_id)
    found = _coop_orders(coop, limit=2000)
    centres = _collection_centres(found)
    chosen = request.args.get("centre") or (centres[0]["id"] if len(centres) == 1 else "")
    there = sorted((o for o in found if o["status"] in ("confirmed", "ready")
                    and o["centre_id"] == chosen),
                   key=lambda o: (accounts.sort_key(o["buyer_name"]), o["placed_at"]))
    summary: dict[str, dict] = {}
    for o in there:
        for line in o["lines"]:
            row = summary.setdefault(line["product_id"], {"name": line["name"],
                                                          "unit": line["unit"], "quantity": 0})
            row["quantity"] += line["quantity"]
    return render_template(
        "market/pick_list.html", coop=coop, centres=centres, chosen=chosen,
        centre=next((c for c in centres if c["id"] == chosen), None), orders=there,
        summary=sorted(summary.values(), key=lambda r: accounts.sort_key(r["name"])),
        total=sum(o["total"] for o in there), currency=_currency(), today=utcnow())


def _months(count: int = 12) -> list[dt.date]:
    """The first days of the last ``count`` months (UTC, as events are stamped), oldest first."""
    today = utcnow().date()
    firsts = []
    year, month = today.year, today.month
    for _n in range(count):
        firsts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return firsts[::-1]


@bp.get("/cooperatives/<coop_id>/sales")
@node_only
@permission_required("sell")
def sales(coop_id):
    coop = _kept(coop_id)
    months = _months()
    start = dt.datetime(months[0].year, months[0].month, 1, tzinfo=dt.timezone.utc)
    rows = models.sales(get_db(), cooperative_id=coop["id"], since=iso(start))
    currency = _currency()
    if request.args.get("format") == "csv":
        table = [[_("Product"), _("Month"), _("Quantity"), _("Amount")]]
        table += [[r["name"], r["month"], r["quantity"], _money(r["amount"], currency)]
                  for r in rows]
        return csv_download(table, coop["name"], "sales", unnamed="cooperative")
    per_month = {m.strftime("%Y-%m"): {"first": m, "label": format_month(m), "quantity": 0,
                                        "amount": 0, "products": []}
                 for m in months}
    products: dict[str, dict] = {}
    for r in rows:
        month = per_month.get(r["month"])
        if month:
            month["quantity"] += r["quantity"]
            month["amount"] += r["amount"]
            month["products"].append(r)
        total = products.setdefault(r["product_id"], {"name": r["name"], "quantity": 0,
                                                      "amount": 0})
        total["quantity"] += r["quantity"]
        total["amount"] += r["amount"]
    chart = _chart(list(per_month.values()), currency)
    return render_template(
        "market/sales.html", coop=coop, chart=chart, months=list(per_month.values())[::-1],
        products=sorted(products.values(), key=lambda p: -p["amount"]), currency=currency,
        total=sum(p["amount"] for p in products.values()))


def _chart(months: list[dict], currency: str) -> dict:
    """Money received per month, as bars; each bar says its amount in whole units ("1.235"):
    the table below has it to the cent."""
    digits = numbers.get_currency_precision(currency)
    chart = bars([m["amount"] for m in months],
                 [format_month(m["first"], short=True) for m in months],
                 title=_("Money received per month (%(currency)s)",
                         currency=numbers.get_currency_symbol(
                             currency, language().number_locale)))
    for bar in chart["bars"]:
        bar["text"] = format_number(int(round(bar["value"] / 10 ** digits)))
    return chart
