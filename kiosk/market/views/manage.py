"""A cooperative's own pages at its home centre: the cooperatives a person keeps, each one's
profile, photo and members, and its products (name and description in each offered language,
photos, price, unit, category, stock count, on sale or withdrawn).

Imports the area's models, ``kiosk.auth.access``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.media``
and ``kiosk.web``. Pages of a centre only (404 at the hub). Every form is checked whole, photos
included, before anything is written: a good photo and a bad price save nothing.
"""

from __future__ import annotations

from babel import Locale, numbers
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge

from ...auth.access import can, node_only, permission_required
from ...data import get_db, utcnow
from ...errors import KioskError, NotFound, ValidationError
from ...i18n import LANGUAGES, _, current_language, language, ngettext, text_languages
from ...media import photo_url, prepare_photo, store
from ...web import error_response
from .. import models
from . import bp

COOP_FIELDS = ("name", "village", "description", "contact")


def _centre() -> str:
    return current_app.config["CENTRE_ID"]


def _money() -> tuple[str, str, int]:
    """The region's currency, the decimal sign of the page's language, and the currency's
    decimals: a price is typed as the reader writes numbers ("2,50" in Spanish)."""
    code = models.currency(get_db(), current_app.config["CURRENCY"])
    locale = Locale.parse(language().number_locale)
    return code, numbers.get_decimal_symbol(locale), numbers.get_currency_precision(code)


def _price_text(minor: int, sep: str, digits: int) -> str:
    """A price in minor units as a person would type it back ("2,50")."""
    if not digits:
        return str(minor)
    whole, cents = divmod(minor, 10 ** digits)
    return f"{whole}{sep}{cents:0{digits}d}"


def _languages() -> list[str]:
    """The languages a product is written in here: the page's first, then the others."""
    offered = list(current_app.config["LANGUAGES"])
    page = current_language()
    return [page, *[c for c in offered if c != page]] if page in offered else offered


def _kept(coop_id: str) -> dict:
    """A cooperative the signed-in person may keep here: 404 when there is none, 403 when it
    is another's (or another centre's)."""
    db = get_db()
    try:
        coop = models.get_cooperative(db, coop_id)
    except NotFound:
        abort(404)
    if not models.may_keep(db, g.user, coop, centre_id=_centre()):
        abort(403)
    return coop


def _damaged(form: dict) -> dict[str, list[str]]:
    """Fields whose letters arrived as bytes that were not text (a file form is not refused
    whole the way ``kiosk.web`` refuses a plain one: its fields come back with U+FFFD)."""
    return {k: [_("Some letters arrived damaged. Please type them again.")]
            for k, v in form.items() if isinstance(v, str) and "\ufffd" in v}


def _photos(field: str, room: int) -> tuple[list[bytes], list[str]]:
    """The photos sent in ``field``, checked and made ready to keep but not stored yet, and
    the problems (each named by its file)."""
    files = [f for f in request.files.getlist(field) if f.filename]
    ready, problems = [], []
    if len(files) > room:
        problems.append(_("A product can have up to %(count)d photos.", count=models.MAX_PHOTOS)
                        if field == "photos" else _("Choose one photo."))
        return [], problems
    for upload in files:
        try:
            ready.append(prepare_photo(upload.read()))
        except KioskError as e:
            problems.append(_("%(file)s: %(problem)s", file=upload.filename, problem=str(e)))
    return ready, problems


def _keep(photos: list[bytes]) -> list[str]:
    """Store photos already checked by ``_photos``; their SHA-256s (``media.add_photo`` in two
    steps, so a form is checked whole before any photo is kept)."""
    return [store().add_bytes(data).sha for data in photos]


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    return error_response(413, _("The photos are too big"),
                          _("Together they can weigh up to 16 MB. Nothing was saved. Go back "
                            "and choose fewer or smaller photos."), "too_large")


# The cooperatives a person keeps.


@bp.get("/mine")
@node_only
@permission_required("sell")
def mine():
    db = get_db()
    runs = can("run_cooperatives")
    own = None if runs else set(models.member_of(db, g.user["id"]))
    found = [c for c in models.cooperatives(db, centre_id=_centre(), active_only=False)
             if own is None or c["id"] in own]
    langs = text_languages()
    for coop in found:
        coop["thumb"] = photo_url(coop["photo"], 160)
        coop["goods"] = models.products_of(db, coop["id"], langs=langs)
        for product in coop["goods"]:
            product["thumb"] = photo_url(product["photo"], 160)
    return render_template("market/mine.html", cooperatives=found, runs=runs,
                           currency=_money()[0], unit_label=models.unit_label,
                           orders="market.incoming" in current_app.view_functions)


# A cooperative's profile and members.


def _save_cooperative(coop: dict | None):
    """Check the cooperative's form whole, then write it. (form, errors, id)."""
    form = {k: request.form.get(k, "") for k in COOP_FIELDS}
    errors = models.check_cooperative(form)[1]
    errors.update(_damaged(form))
    photos, problems = _photos("photo", 1)
    if problems:
        errors["photo"] = problems
    if errors:
        return form, errors, None
    db, now = get_db(), utcnow()
    sha = _keep(photos)[0] if photos else None
    try:
        if coop is None:
            coop_id = models.create_cooperative(db, centre_id=_centre(), fields=form, now=now,
                                                photo=sha)
        else:
            coop_id = coop["id"]
            models.update_cooperative(db, coop_id, centre_id=_centre(), fields=form, now=now,
                                      photo=sha)
    except ValidationError as e:
        return form, e.errors, None
    return form, {}, coop_id


def _cooperative_page(coop: dict | None, form: dict, errors: dict, status: int = 200):
    db = get_db()
    runs = can("run_cooperatives")
    extra = {}
    if coop is not None:
        coop["thumb"] = photo_url(coop["photo"], 320)
        extra = {"members": models.members(db, coop["id"]),
                 "candidates": models.member_candidates(db, coop["id"], centre_id=_centre())
                 if runs else []}
    return render_template("market/cooperative_form.html", coop=coop, form=form,
                           errors=errors, runs=runs, **extra), status


@bp.route("/cooperatives/new", methods=["GET", "POST"])
@node_only
@permission_required("run_cooperatives")
def cooperative_new():
    if request.method == "GET":
        return _cooperative_page(None, dict.fromkeys(COOP_FIELDS, ""), {})
    form, errors, coop_id = _save_cooperative(None)
    if errors:
        return _cooperative_page(None, form, errors, 400)
    flash(_("The cooperative %(name)s is ready. Now add its members and its products.",
            name=form["name"].strip()), "success")
    return redirect(url_for("market.cooperative_edit", coop_id=coop_id))


@bp.route("/cooperatives/<coop_id>/edit", methods=["GET", "POST"])
@node_only
@permission_required("sell")
def cooperative_edit(coop_id):
    coop = _kept(coop_id)
    if request.method == "GET":
        return _cooperative_page(coop, {k: coop[k] for k in COOP_FIELDS}, {})
    form, errors, _id = _save_cooperative(coop)
    if errors:
        return _cooperative_page(coop, form, errors, 400)
    flash(_("Saved: %(name)s.", name=form["name"].strip()), "success")
    return redirect(url_for("market.mine") + f"#coop-{coop_id}")


@bp.post("/cooperatives/<coop_id>/members")
@node_only
@permission_required("run_cooperatives")
def cooperative_members(coop_id):
    """A facilitator adds a person with the cooperative role to the cooperative, or takes
    a member away."""
    coop, db = _kept(coop_id), get_db()
    account_id, adding = request.form.get("account", ""), request.form.get("action") == "add"
    members = {m["id"]: m for m in models.members(db, coop_id)}
    try:
        if not adding and account_id not in members:
            raise ValidationError({"account": [_("This person is not a member of the "
                                                 "cooperative.")]})
        models.set_member(db, coop_id, account_id, centre_id=_centre(), active=adding,
                          now=utcnow())
    except ValidationError as e:
        return _cooperative_page(coop, {k: coop[k] for k in COOP_FIELDS}, e.errors, 400)
    if adding:
        name = next(m["name"] for m in models.members(db, coop_id) if m["id"] == account_id)
        flash(_("%(name)s is now a member of %(cooperative)s.", name=name,
                cooperative=coop["name"]), "success")
    else:
        flash(_("%(name)s is no longer a member of %(cooperative)s.",
                name=members[account_id]["name"], cooperative=coop["name"]), "success")
    return redirect(url_for("market.cooperative_edit", coop_id=coop_id) + "#members")


# Products.


def _product_form(product: dict | None, langs: list[str], sep: str, digits: int) -> dict:
    """What the product form shows: what was sent, or the product as it is."""
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in
                ("category", "unit", "price", "stock", "stock_was", "active")}
        for lang in langs:
            for what in ("name", "description"):
                form[f"{what}_{lang}"] = request.form.get(f"{what}_{lang}", "")
        return form
    if product is None:
        form = {"category": "", "unit": "", "price": "", "stock": "", "stock_was": "",
                "active": "1"}
        texts = {}
    else:
        stock = str(product["stock"])
        form = {"category": product["category"], "unit": product["unit"],
                "price": _price_text(product["price"], sep, digits), "stock": stock,
                "stock_was": stock, "active": "1" if product["active"] else "0"}
        texts = product["texts"]
    for lang in langs:
        form[f"name_{lang}"] = texts.get(lang, {}).get("name", "")
        form[f"description_{lang}"] = texts.get(lang, {}).get("description", "")
    return form


def _save_product(coop: dict, product: dict | None, form: dict, langs: list[str], sep: str,
                  digits: int) -> tuple[dict, str | None]:
    """Check the product's form whole, photos included, then write it: (errors, its id)."""
    # An unchanged count leaves the stock alone: orders may have taken some since the form
    # was shown, and writing the old count back would give them back.
    stock = form["stock"] if product is None or form["stock"].strip() != \
        form["stock_was"] else None
    fields = {"texts": {lang: {"name": form[f"name_{lang}"],
                               "description": form[f"description_{lang}"]} for lang in langs},
              "category": form["category"], "unit": form["unit"], "price": form["price"],
              "stock": stock, "active": form["active"] != "0"}
    errors = models.check_product(fields, languages=tuple(langs), decimal_sep=sep,
                                  digits=digits)[1]
    errors.update(_damaged(form))
    photos, problems = _photos("photos", models.MAX_PHOTOS - len(
        product["photos"] if product else ()))
    if problems:
        errors["photos"] = problems
    if errors:
        return errors, None
    try:
        return {}, models.save_product(
            get_db(), centre_id=_centre(), coop_id=coop["id"], fields=fields,
            languages=tuple(langs), now=utcnow(), by_id=g.user["id"],
            product_id=product["id"] if product else None, photos=_keep(photos),
            decimal_sep=sep, digits=digits)
    except ValidationError as e:
        return e.errors, None


def _product_page(coop: dict, product: dict | None):
    code, sep, digits = _money()
    langs = _languages()
    form = _product_form(product, langs, sep, digits)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        errors, product_id = _save_product(coop, product, form, langs, sep, digits)
        if not errors:
            name = next(form[f"name_{lang}"] for lang in langs if form[f"name_{lang}"].strip())
            flash(_("Saved: %(name)s.", name=name.strip()), "success")
            return redirect(url_for("market.mine") + f"#product-{product_id}")
    if product:
        for photo in product["photos"]:
            photo["thumb"] = photo_url(photo["photo"], 160)
    example = _price_text(250 * 10 ** max(digits - 2, 0) if digits >= 2 else 3, sep, digits)
    return render_template(
        "market/product_form.html", coop=coop, product=product, form=form, errors=errors,
        langs=langs, languages_by_code=LANGUAGES, max_photos=models.MAX_PHOTOS,
        currency=code, symbol_html=Markup("<bdi>%s</bdi>") % numbers.get_currency_symbol(
            code, Locale.parse(language().number_locale)),
        example=example, categories=[(c, models.category_label(c)) for c in models.CATEGORIES],
        units=[(u, models.unit_label(u)) for u in models.UNITS],
        room=models.MAX_PHOTOS - (len(product["photos"]) if product else 0),
        # The other languages unfold when they hold a problem, or the only names there are.
        langs_open=any(k.endswith(tuple(f"_{lang}" for lang in langs[1:])) for k in errors) or
        (not form[f"name_{langs[0]}"] and any(form[f"name_{lang}"] for lang in langs[1:])),
        photos_lost=bool(errors) and any(f.filename for f in request.files.getlist("photos")),
    ), 400 if errors else 200


@bp.route("/cooperatives/<coop_id>/products/new", methods=["GET", "POST"])
@node_only
@permission_required("sell")
def product_new(coop_id):
    return _product_page(_kept(coop_id), None)


def _kept_product(product_id: str) -> tuple[dict, dict]:
    """A product and its cooperative, when the signed-in person may keep them."""
    db = get_db()
    try:
        row = models.get_product_row(db, product_id)
    except NotFound:
        abort(404)
    coop = _kept(row["cooperative_id"])
    if row["centre_id"] != coop["centre_id"]:
        abort(403)
    product = models.get_product(db, product_id, text_languages())
    product["texts"] = models.texts_of(db, product_id)
    return coop, product


@bp.route("/products/<product_id>/edit", methods=["GET", "POST"])
@node_only
@permission_required("sell")
def product_edit(product_id):
    coop, product = _kept_product(product_id)
    return _product_page(coop, product)


@bp.post("/products/<product_id>/photos/<photo_id>/remove")
@node_only
@permission_required("sell")
def product_photo_remove(product_id, photo_id):
    coop, product = _kept_product(product_id)
    if photo_id not in {p["id"] for p in product["photos"]}:
        abort(404)
    models.remove_photo(get_db(), product_id, photo_id, centre_id=_centre())
    flash(ngettext("The photo was removed. %(num)d photo is left.",
                   "The photo was removed. %(num)d photos are left.",
                   len(product["photos"]) - 1), "success")
    return redirect(url_for("market.product_edit", product_id=product_id) + "#photos")
