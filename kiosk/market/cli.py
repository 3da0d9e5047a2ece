"""``infocentre market ...``: import a cooperative's products from a spreadsheet, list the
products and the orders, add a cooperative.

Imports click, the area's models and ``importing``, ``kiosk.data``, ``kiosk.media`` and
``kiosk.i18n``. ``ctx.obj`` is the installation object of ``kiosk.cli``; failures raise
``KioskError`` subclasses, which the top-level command prints as one line with exit code 1.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import click
from babel import numbers
from flask import current_app

from ..data import fetch, get_db, utcnow
from ..errors import KioskError, ValidationError
from ..i18n import LANGUAGES, _, fallback_chain, ngettext
from . import importing, models


@click.group(help="The market: import a cooperative's products, list products and orders.")
def cli():
    pass


def _terminal() -> str:
    from ..cli import terminal_language  # the top-level command's reading of LANG

    return terminal_language(os.environ)


def _langs() -> tuple[str, ...]:
    """The languages to name products in: the terminal's, then the centre's."""
    return tuple(dict.fromkeys([*fallback_chain(_terminal()),
                                current_app.config["DEFAULT_LANGUAGE"]]))


def _price(minor: int | None, currency: str) -> str:
    """A price in the terminal's language ("$2.50", "2,50 $")."""
    if minor is None:
        return ""
    digits = numbers.get_currency_precision(currency)
    locale = LANGUAGES[_terminal()].number_locale
    return numbers.format_currency(Decimal(minor).scaleb(-digits), currency, locale=locale)


def _at_a_centre() -> None:
    if current_app.config["ROLE"] != "node":
        raise KioskError(_("This command runs at a centre, not at the hub."))


def _table(rows: list[list[str]]) -> None:
    """Columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


@cli.command("import", help="Load or update a cooperative's products from a spreadsheet saved "
             "as CSV (UTF-8; columns in the README). Every row is checked first; a file with "
             "problems is refused whole, each problem listed by line.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--cooperative", "name", required=True,
              help="The name of the cooperative of this centre the products are of.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: {cooperative, added, updated, unchanged, products} (or "
              "{errors} with exit code 1).")
@click.pass_obj
def import_(installation, path, name, as_json):
    with installation.app().app_context():
        from .. import media

        config = current_app.config
        _at_a_centre()
        db = get_db()
        coop = models.find_cooperative(db, name, centre_id=config["CENTRE_ID"])
        currency = models.currency(db, config["CURRENCY"])
        try:
            made = importing.import_file(
                db, path, coop=coop, centre_id=config["CENTRE_ID"],
                languages=tuple(config["LANGUAGES"]),
                default_language=config["DEFAULT_LANGUAGE"],
                digits=numbers.get_currency_precision(currency), store=media.store(),
                prepare_photo=media.prepare_photo, now=utcnow())
        except importing.ImportRefused as refused:
            if as_json:
                click.echo(json.dumps({"errors": [
                    {"line": p.line, "column": p.column, "message": p.message}
                    for p in refused.problems]}, ensure_ascii=False, indent=1))
            else:
                for problem in refused.problems:
                    click.echo(str(problem), err=True)
            raise
    counts = {k: sum(1 for m in made if m["outcome"] == k)
              for k in ("added", "updated", "unchanged")}
    if as_json:
        click.echo(json.dumps({"cooperative": coop["name"], **counts, "products": made},
                              ensure_ascii=False, indent=1))
        return
    click.echo(_("%(cooperative)s: %(added)d added, %(updated)d updated, %(unchanged)d "
                 "unchanged.", cooperative=coop["name"], **counts))


@cli.command("products", help="Every product this installation holds, of every centre.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{id, name, cooperative, "
              "centre, price, currency, unit, stock, active}] (price in cents).")
@click.pass_obj
def products(installation, as_json):
    with installation.app().app_context():
        db = get_db()
        currency = models.currency(db, current_app.config["CURRENCY"])
        found = models.all_products(db, langs=_langs(), currency=currency)
        centres = {r["id"]: r["name"] for r in fetch(db, "SELECT id, name FROM centres")}
        if as_json:
            click.echo(json.dumps(found, ensure_ascii=False, indent=1))
            return
        if not found:
            click.echo(_("No products yet. Import a cooperative's: infocentre market import "
                         "FILE.csv --cooperative NAME"))
            return
        rows = [[_("Product"), _("Cooperative"), _("Centre"), _("Price"), _("Stock"), ""]]
        for p in found:
            rows.append([p["name"], p["cooperative"], centres.get(p["centre"], p["centre"]),
                         f"{_price(p['price'], currency)} / {models.unit_label(p['unit'])}",
                         str(p["stock"]), "" if p["active"] else _("withdrawn")])
        _table(rows)
        click.echo(ngettext("%(num)d product.", "%(num)d products.", len(found)))


def centre_orders(db, centre_id: str, limit: int = 100_000) -> list[dict]:
    """The orders placed at this centre and those its cooperatives serve, newest first, as
    ``infocentre market orders --json`` prints them."""
    found = {o["id"]: o for o in models.orders(db, centre_id=centre_id, limit=limit)}
    for order in models.orders(db, seller_centre=centre_id, limit=limit):
        found.setdefault(order["id"], order)
    ordered = sorted(found.values(), key=lambda o: o["id"])
    ordered.sort(key=lambda o: o["placed_at"], reverse=True)
    return [{"id": o["id"], "cooperative": o["cooperative"] or "", "buyer": o["buyer_name"],
             "centre": o["centre_id"], "seller_centre": o["seller_centre"],
             "status": o["status"], "cancel_asked": o["cancel_asked"], "reason": o["reason"],
             "total": o["total"], "paid": o["paid"], "currency": o["currency"],
             "placed_at": o["placed_at"], "note": o["note"],
             "lines": [{"product": line["product_id"], "name": line["name"],
                        "quantity": line["quantity"], "price": line["price"]}
                       for line in o["lines"]]}
            for o in ordered[:limit]]


@cli.command("orders", help="This centre's orders: placed here, or to be served by its "
             "cooperatives, with their status.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: [{id, cooperative, buyer, "
              "centre, seller_centre, status, cancel_asked, reason, total, paid, currency, "
              "placed_at, note, lines: [{product, name, quantity, price}]}] (amounts in cents).")
@click.pass_obj
def orders(installation, as_json):
    with installation.app().app_context():
        db = get_db()
        found = centre_orders(db, current_app.config["CENTRE_ID"])
        centres = {r["id"]: r["name"] for r in fetch(db, "SELECT id, name FROM centres")}
        if as_json:
            click.echo(json.dumps(found, ensure_ascii=False, indent=1))
            return
        if not found:
            click.echo(_("No orders yet."))
            return
        rows = [[_("Placed"), _("Buyer"), _("Centre"), _("Cooperative"), _("Total"),
                 _("Status")]]
        for o in found:
            status = models.status_label(o["status"], o["cancel_asked"])
            if o["reason"]:
                status += f" ({models.decline_reason(o['reason'])})"
            rows.append([o["placed_at"][:16].replace("T", " "), o["buyer"],
                         centres.get(o["centre"], o["centre"]), o["cooperative"],
                         _price(o["total"], o["currency"]), status])
        _table(rows)
        click.echo(ngettext("%(num)d order.", "%(num)d orders.", len(found)))


@cli.group("cooperative", help="Add and list the cooperatives of this centre.")
def cooperative():
    pass


@cooperative.command("add", help="Add a cooperative of this centre (its members are added on "
                     "its page, by a facilitator).")
@click.argument("name")
@click.option("--village", default="", help="The cooperative's village.")
@click.option("--description", default="", help="What the cooperative makes, in a few words.")
@click.option("--contact", default="", help="How to reach it: a telephone, a person.")
@click.pass_obj
def cooperative_add(installation, name, village, description, contact):
    with installation.app().app_context():
        config = current_app.config
        _at_a_centre()
        db = get_db()
        try:
            models.find_cooperative(db, name, centre_id=config["CENTRE_ID"])
        except KioskError:
            pass
        else:
            raise KioskError(_("This centre already has a cooperative called %(name)s.",
                               name=name))
        try:
            models.create_cooperative(db, centre_id=config["CENTRE_ID"], now=utcnow(), fields={
                "name": name, "village": village, "description": description,
                "contact": contact})
        except ValidationError as e:
            raise KioskError(str(e)) from None
    click.echo(_("Added the cooperative %(name)s.", name=" ".join(name.split())))


@cooperative.command("list", help="The cooperatives of this centre.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: [{id, name, village, products}].")
@click.pass_obj
def cooperative_list(installation, as_json):
    with installation.app().app_context():
        found = [{"id": c["id"], "name": c["name"], "village": c["village"],
                  "products": c["products"]}
                 for c in models.cooperatives(get_db(),
                                              centre_id=current_app.config["CENTRE_ID"])]
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=1))
        return
    if not found:
        click.echo(_("No cooperative yet. Add one: infocentre market cooperative add NAME "
                     "--village VILLAGE"))
        return
    for c in found:
        click.echo(ngettext("%(name)s (%(village)s): %(num)d product",
                            "%(name)s (%(village)s): %(num)d products", c["products"],
                            name=c["name"], village=c["village"] or "-"))
