"""Cooperatives, products, stock and orders, as functions over the database.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` (messages), ``sync.engine`` and the auth
area's models (who may buy). No Flask request globals: times, the centre and the reader's
languages are passed in. The rules of orders are in ``kiosk/market/README.md``.

Who writes what (each table's ``centre_id``):

- a cooperative, its members, its products (texts, photos) and their stock movements: the
  cooperative's home centre;
- an order and its lines: the buyer's centre; each step of an order: the side that owns the
  step (``order_events``), the buyer's centre for asking to cancel, the home centre for the rest.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from decimal import Decimal, InvalidOperation

from sqlite_utils import Database

from sync.engine import OWNER, REGION, SyncedTable, owner_and

from ..data import fetch, iso, new_id, reading, search_query, writing
from ..errors import NotFound, ValidationError
from ..i18n import _

SYNCED_TABLES = [
    SyncedTable("cooperatives", scope=REGION, media=("photo",)),
    SyncedTable("cooperative_members", scope=OWNER),
    SyncedTable("products", scope=REGION, media=("photo",)),
    SyncedTable("product_texts", scope=REGION),
    SyncedTable("product_photos", scope=REGION, media=("photo",)),
    SyncedTable("stock_moves", scope=OWNER),
    SyncedTable("orders", scope=owner_and("seller_centre")),
    SyncedTable("order_lines", scope=owner_and("seller_centre")),
    SyncedTable("order_events", scope=owner_and("to_centre")),
]

NAMESPACE = uuid.UUID("5b0c1e0e-6d0f-4a56-9a57-3c1f2f7d0a11")

CATEGORIES = ("food", "drinks", "crafts", "textiles", "farming", "beauty", "other")
UNITS = ("piece", "jar", "bottle", "kg", "pound", "litre", "dozen", "bag", "box", "bunch")

# Bounds of what a person may enter: a price up to a million (in the currency's units), a stock
# up to a million, names of 80 characters, descriptions of 2,000.
MAX_PRICE = 100_000_000  # minor units: 1,000,000.00
MAX_STOCK = 1_000_000
MAX_QUANTITY = 10_000
MAX_NAME = 80
MAX_TEXT = 2000
MAX_NOTE = 500
MAX_LINES = 50
MAX_PHOTOS = 6


def stable_id(*parts: str) -> str:
    """The id of a row with a natural key, the same on every replica (DESIGN, Data)."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def currency(db: Database, default: str) -> str:
    """The region's currency, as the hub last gave it (``default``: this installation's own,
    before its first sync)."""
    from ..admin.models import region_setting

    return region_setting(db, "currency", default)


def category_label(code: str) -> str:
    return {
        "food": _("Food"), "drinks": _("Drinks"), "crafts": _("Crafts"),
        "textiles": _("Weaving and clothes"), "farming": _("Seeds, plants and animals"),
        "beauty": _("Soap and remedies"), "other": _("Other things"),
    }.get(code, _("Other things"))


def unit_label(code: str) -> str:
    return {
        "piece": _("piece"), "jar": _("jar"), "bottle": _("bottle"), "kg": _("kg"),
        "pound": _("pound"), "litre": _("litre"), "dozen": _("dozen"), "bag": _("bag"),
        "box": _("box"), "bunch": _("bunch"),
    }.get(code, code)


# Checking what people type.


def _text(value, limit: int, *, required: bool, message: str) -> tuple[str, list[str]]:
    """Text made one form (NFC), spaces tidied at both ends; a problem when it is empty (and
    required), too long, holds control characters or bytes that were not text."""
    text = unicodedata.normalize("NFC", value if isinstance(value, str) else "").strip()
    if (required and not text) or len(text) > limit or "\ufffd" in text or \
            any(not c.isprintable() and c not in "\n\r\t" for c in text):
        return text, [message]
    return text.replace("\r\n", "\n"), []


def parse_price(value, *, decimal_sep: str = ".", digits: int = 2) -> int:
    """A price typed by a person ("2.50", "2,50", "3") in minor units; ValueError when it is
    not a number, negative, has more decimals than the currency, or is beyond ``MAX_PRICE``.
    An int is already in minor units (a program's, not a person's): only its bounds are
    checked."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= MAX_PRICE:
            raise ValueError("out of bounds")
        return value
    if isinstance(value, str):
        text = value.strip().replace(" ", "").replace("\u00a0", "")
    else:
        raise ValueError("not a price")
    if decimal_sep == "," or ("," in text and "." not in text):
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    if not text or len(text) > 20 or not all(c.isdigit() or c == "." for c in text):
        raise ValueError("not a price")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a price") from None
    minor = amount * (10 ** digits)
    if minor != minor.to_integral_value() or minor < 0 or minor > MAX_PRICE:
        raise ValueError("out of bounds")
    return int(minor)


def parse_count(value, *, limit: int, allow_zero: bool = True) -> int:
    """A whole number from 0 (or 1) to ``limit``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if isinstance(value, str) else ""
        if not text.isdigit() or len(text) > 9 or not text.isascii():
            raise ValueError("not a number")
        number = int(text)
    if number < (0 if allow_zero else 1) or number > limit:
        raise ValueError("out of bounds")
    return number


# Cooperatives.


def check_cooperative(fields: dict) -> tuple[dict, dict[str, list[str]]]:
    """The cooperative's fields cleaned, and the problems of each."""
    errors: dict[str, list[str]] = {}
    clean = {}
    for name, limit, required, message in (
            ("name", MAX_NAME, True, _("Give the cooperative a name of 1 to 80 characters.")),
            ("village", MAX_NAME, False, _("The village can have up to 80 characters.")),
            ("contact", 200, False, _("The contact can have up to 200 characters.")),
            ("description", MAX_TEXT, False,
             _("The description can have up to 2,000 characters."))):
        clean[name], problems = _text(fields.get(name, ""), limit, required=required,
                                      message=message)
        if name == "name" and "\n" in clean[name]:
            problems = [message]
        if problems:
            errors[name] = problems
    return clean, errors


def create_cooperative(db: Database, *, centre_id: str, fields: dict, now: dt.datetime,
                       photo: str | None = None) -> str:
    clean, errors = check_cooperative(fields)
    if errors:
        raise ValidationError(errors)
    coop_id = new_id()
    with writing(db):
        db.execute(
            "INSERT INTO cooperatives (id, centre_id, name, village, description, contact, photo, "
            "active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            [coop_id, centre_id, clean["name"], clean["village"], clean["description"],
             clean["contact"], photo, iso(now), iso(now)])
    return coop_id


def update_cooperative(db: Database, coop_id: str, *, centre_id: str, fields: dict,
                       now: dt.datetime, photo: str | None = None) -> None:
    """Change the cooperative's fields (only those that changed, so an edit made elsewhere to
    another field survives); ``photo`` replaces the photo when given."""
    clean, errors = check_cooperative(fields)
    if errors:
        raise ValidationError(errors)
    with writing(db):
        coop = get_cooperative(db, coop_id, centre_id=centre_id)
        changes = {k: v for k, v in clean.items() if coop[k] != v}
        if photo and photo != coop["photo"]:
            changes["photo"] = photo
        if changes:
            changes["updated_at"] = iso(now)
            db.table("cooperatives").update(coop_id, changes)


def get_cooperative(db: Database, coop_id: str, *, centre_id: str | None = None) -> dict:
    """A cooperative (of ``centre_id``, when given); NotFound otherwise."""
    rows = fetch(db, "SELECT c.*, (SELECT name FROM centres WHERE id = c.centre_id) AS centre_name"
                     " FROM cooperatives c WHERE c.id = ?", [coop_id])
    if not rows or (centre_id is not None and rows[0]["centre_id"] != centre_id):
        raise NotFound(_("There is no such cooperative here."))
    return rows[0]


def find_cooperative(db: Database, name: str, *, centre_id: str) -> dict:
    """The cooperative of this centre with this name (accents and case ignored)."""
    from ..data import folded

    wanted = folded(" ".join((name or "").split()))
    for coop in fetch(db, "SELECT * FROM cooperatives WHERE centre_id = ?", [centre_id]):
        if folded(coop["name"]) == wanted:
            return coop
    raise NotFound(_("There is no cooperative called %(name)s at this centre.", name=name))


def _equal(*pairs: tuple[str, object], always: str = "1 = 1") -> tuple[list[str], list]:
    """SQL conditions ``column = ?`` for each (column, value) whose value is given, after
    ``always``; and their parameters. The filters of the market's lists."""
    given = [(column, value) for column, value in pairs if value is not None]
    return [always, *(f"{column} = ?" for column, _value in given)], [v for _c, v in given]


def cooperatives(db: Database, *, centre_id: str | None = None,
                 active_only: bool = True) -> list[dict]:
    """Cooperatives (of one centre, or of the region), by name, with their active products."""
    where, params = _equal(("c.centre_id", centre_id or None))
    if active_only:
        where.append("c.active = 1")
    return fetch(db, f"""
        SELECT c.*, (SELECT name FROM centres WHERE id = c.centre_id) AS centre_name,
               (SELECT count(*) FROM products p
                WHERE p.cooperative_id = c.id AND p.active = 1) AS products
        FROM cooperatives c WHERE {' AND '.join(where)} ORDER BY folded(c.name)""", params)


def members(db: Database, coop_id: str) -> list[dict]:
    return fetch(db, """
        SELECT a.id, a.name, a.role, m.added_at FROM cooperative_members m
        JOIN accounts a ON a.id = m.account_id
        WHERE m.cooperative_id = ? AND m.active = 1 ORDER BY folded(a.name)""", [coop_id])


def member_of(db: Database, account_id: str) -> list[str]:
    """The ids of the cooperatives an account is an active member of."""
    return [r["cooperative_id"] for r in fetch(
        db, "SELECT cooperative_id FROM cooperative_members WHERE account_id = ? AND active = 1",
        [account_id])]


def set_member(db: Database, coop_id: str, account_id: str, *, centre_id: str, active: bool,
               now: dt.datetime) -> None:
    """Add an account of this centre with the cooperative role to a cooperative, or take it
    away (``active`` 0: a delete would be final, and they may come back)."""
    with writing(db):
        get_cooperative(db, coop_id, centre_id=centre_id)
        account = fetch(db, "SELECT id, role, centre_id FROM accounts WHERE id = ?", [account_id])
        if not account or account[0]["centre_id"] != centre_id or \
                account[0]["role"] != "cooperative":
            raise ValidationError({"account": [
                _("Choose a person of this centre with the cooperative role.")]})
        row_id = stable_id("member", coop_id, account_id)
        db.execute("""
            INSERT INTO cooperative_members (id, centre_id, cooperative_id, account_id, active,
                                             added_at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET active = excluded.active
            WHERE active != excluded.active""",
                   [row_id, centre_id, coop_id, account_id, int(active), iso(now)])


# Products.


def check_product(fields: dict, *, languages: tuple[str, ...], decimal_sep: str = ".",
                  digits: int = 2) -> tuple[dict, dict[str, list[str]]]:
    """A product's fields cleaned, and the problems of each (field names as in the form).

    ``fields``: ``texts`` ({lang: {"name", "description"}}; at least one language named),
    ``category``, ``unit``, ``price`` (text as typed, or minor units as an int), ``stock``
    (text or int; None to leave it), ``active``."""
    errors: dict[str, list[str]] = {}
    texts = {}
    for lang, text in (fields.get("texts") or {}).items():
        if lang not in languages:
            errors.setdefault("name", []).append(_("That language is not offered here."))
            continue
        name, problems = _text(text.get("name", ""), MAX_NAME, required=False,
                               message=_("Give the product a name of 1 to 80 characters."))
        if "\n" in name:
            problems = [_("Give the product a name of 1 to 80 characters.")]
        description, more = _text(text.get("description", ""), MAX_TEXT, required=False,
                                  message=_("The description can have up to 2,000 characters."))
        if problems:
            errors[f"name_{lang}"] = problems
        if more:
            errors[f"description_{lang}"] = more
        if description and not name and not problems:
            errors[f"name_{lang}"] = [_("Give the product a name in this language too.")]
        if name:
            texts[lang] = {"name": name, "description": description}
    if not texts and not any(k.startswith("name") for k in errors):
        errors["name"] = [_("Give the product a name of 1 to 80 characters.")]
    clean = {"texts": texts}
    clean["category"] = fields.get("category")
    if clean["category"] not in CATEGORIES:
        errors["category"] = [_("Choose one of the categories of the list.")]
    clean["unit"] = fields.get("unit")
    if clean["unit"] not in UNITS:
        errors["unit"] = [_("Choose one of the units of the list.")]
    try:
        clean["price"] = parse_price(fields.get("price"), decimal_sep=decimal_sep, digits=digits)
    except ValueError:
        errors["price"] = [_("Write the price as a number from 0 to 1,000,000, such as 2.50.")]
    if fields.get("stock") is not None:
        try:
            clean["stock"] = parse_count(fields.get("stock"), limit=MAX_STOCK)
        except ValueError:
            errors["stock"] = [_("Write how many you have as a whole number from 0 to "
                                 "1,000,000.")]
    clean["active"] = 1 if fields.get("active", True) not in (False, 0, "0", "") else 0
    return clean, errors


def save_product(db: Database, *, centre_id: str, coop_id: str, fields: dict,
                 languages: tuple[str, ...], now: dt.datetime, by_id: str | None,
                 product_id: str | None = None, photos: list[str] = (),
                 decimal_sep: str = ".", digits: int = 2, code: str = "") -> str:
    """Create a product of the cooperative (``product_id`` None) or change one of it; checked
    whole before anything is written. ``photos``: SHA-256s of photos already in the media store,
    added after the product's. A changed stock is written as a movement (a count)."""
    clean, errors = check_product(fields, languages=languages, decimal_sep=decimal_sep,
                                  digits=digits)
    if errors:
        raise ValidationError(errors)
    with writing(db):
        get_cooperative(db, coop_id, centre_id=centre_id)
        if product_id is None:
            product_id = new_id()
            db.execute(
                "INSERT INTO products (id, centre_id, cooperative_id, category, unit, price, "
                "stock, active, code, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                [product_id, centre_id, coop_id, clean["category"], clean["unit"],
                 clean["price"], clean["active"], code, iso(now), iso(now)])
        else:
            product = get_product_row(db, product_id)
            if product["cooperative_id"] != coop_id or product["centre_id"] != centre_id:
                raise NotFound(_("This product belongs to another cooperative."))
            changes = {k: clean[k] for k in ("category", "unit", "price", "active")
                       if product[k] != clean[k]}
            if changes:
                changes["updated_at"] = iso(now)
                db.table("products").update(product_id, changes)
        for lang, text in clean["texts"].items():
            db.execute("""
                INSERT INTO product_texts (id, centre_id, product_id, lang, name, description)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                    description = excluded.description
                WHERE name != excluded.name OR description != excluded.description""",
                       [stable_id("text", product_id, lang), centre_id, product_id, lang,
                        text["name"], text["description"]])
        if photos:
            add_photos(db, product_id, photos, centre_id=centre_id)
        if "stock" in clean:
            set_stock(db, product_id, clean["stock"], centre_id=centre_id, by_id=by_id, now=now)
    return product_id


def add_photos(db: Database, product_id: str, shas: list[str], *, centre_id: str) -> None:
    with writing(db):
        present = fetch(db, "SELECT photo, position FROM product_photos "
                            "WHERE product_id = ? AND removed = 0", [product_id])
        have = {p["photo"] for p in present}
        position = max((p["position"] for p in present), default=-1)
        new = [s for s in dict.fromkeys(shas) if s not in have]
        if len(have) + len(new) > MAX_PHOTOS:
            raise ValidationError({"photo": [_("A product can have up to %(count)d photos.",
                                                count=MAX_PHOTOS)]})
        for sha in new:
            position += 1
            db.execute("INSERT INTO product_photos (id, centre_id, product_id, photo, position) "
                       "VALUES (?, ?, ?, ?, ?)", [new_id(), centre_id, product_id, sha, position])
        _first_photo(db, product_id)


def remove_photo(db: Database, product_id: str, photo_row: str, *, centre_id: str) -> None:
    with writing(db):
        db.execute("UPDATE product_photos SET removed = 1 WHERE id = ? AND product_id = ? "
                   "AND centre_id = ? AND removed = 0", [photo_row, product_id, centre_id])
        _first_photo(db, product_id)


def _first_photo(db: Database, product_id: str) -> None:
    db.execute("""
        UPDATE products SET photo = (SELECT photo FROM product_photos WHERE product_id = ?
                                     AND removed = 0 ORDER BY position LIMIT 1)
        WHERE id = ? AND photo IS NOT (SELECT photo FROM product_photos WHERE product_id = ?
                                       AND removed = 0 ORDER BY position LIMIT 1)""",
               [product_id, product_id, product_id])


def set_stock(db: Database, product_id: str, stock: int, *, centre_id: str, by_id: str | None,
              now: dt.datetime) -> None:
    """Record a count of the product (a movement of the difference) at its home centre."""
    with writing(db):
        product = get_product_row(db, product_id)
        if product["centre_id"] != centre_id:
            raise NotFound(_("This product belongs to another cooperative."))
        have = stock_of(db, product_id)
        if stock != have:
            move_stock(db, product_id, stock - have, reason="count", centre_id=centre_id,
                       by_id=by_id, now=now)


def move_stock(db: Database, product_id: str, quantity: int, *, reason: str, centre_id: str,
               now: dt.datetime, order_id: str | None = None, by_id: str | None = None) -> None:
    """Append a stock movement and bring the product's stock to the sum of its movements (in
    the caller's transaction: stock has one writer, the home centre)."""
    db.execute("INSERT INTO stock_moves (id, centre_id, product_id, quantity, reason, order_id, "
               "by_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [new_id(), centre_id, product_id, quantity, reason, order_id, by_id, iso(now)])
    total = stock_of(db, product_id)
    db.execute("UPDATE products SET stock = ? WHERE id = ? AND stock != ?",
               [total, product_id, total])


def stock_of(db: Database, product_id: str) -> int:
    return db.execute("SELECT coalesce(sum(quantity), 0) FROM stock_moves WHERE product_id = ?",
                      [product_id]).fetchone()[0]


def get_product_row(db: Database, product_id: str) -> dict:
    rows = fetch(db, "SELECT * FROM products WHERE id = ?", [product_id])
    if not rows:
        raise NotFound(_("There is no such product here."))
    return rows[0]


def _text_choice(langs: tuple[str, ...], column: str, alias: str = "p") -> str:
    """SQL for a product's text in the first of ``langs`` it has, else in any language."""
    order = " ".join(f"WHEN '{lang}' THEN {i}" for i, lang in enumerate(langs) if
                     lang.replace("_", "").isalnum())
    return (f"(SELECT t.{column} FROM product_texts t WHERE t.product_id = {alias}.id "
            f"ORDER BY CASE t.lang {order} ELSE 99 END, t.lang LIMIT 1)")


def texts_of(db: Database, product_id: str) -> dict[str, dict]:
    return {r["lang"]: r for r in fetch(
        db, "SELECT lang, name, description FROM product_texts WHERE product_id = ?",
        [product_id])}


def get_product(db: Database, product_id: str, langs: tuple[str, ...]) -> dict:
    """A product with its name and description in the reader's best language, its cooperative
    and centre, and its photos in order."""
    rows = fetch(db, f"""
        SELECT p.*, {_text_choice(langs, 'name')} AS name,
               {_text_choice(langs, 'description')} AS description,
               c.name AS cooperative, c.village, c.contact,
               (SELECT name FROM centres WHERE id = p.centre_id) AS centre_name
        FROM products p LEFT JOIN cooperatives c ON c.id = p.cooperative_id
        WHERE p.id = ?""", [product_id])
    if not rows:
        raise NotFound(_("There is no such product here."))
    product = rows[0]
    product["photos"] = fetch(db, "SELECT id, photo FROM product_photos WHERE product_id = ? "
                                  "AND removed = 0 ORDER BY position", [product_id])
    return product


def catalogue(db: Database, *, langs: tuple[str, ...], category: str | None = None,
              cooperative: str | None = None, centre: str | None = None,
              query: str | None = None, limit: int = 24, offset: int = 0,
              active_only: bool = True) -> tuple[list[dict], int]:
    """A page of products, newest first (or best match first for a search), each with its name
    in the reader's language, its cooperative and centre; and how many there are in all."""
    where, params = _equal(("p.category", category or None),
                           ("p.cooperative_id", cooperative or None),
                           ("p.centre_id", centre or None),
                           always="p.active = 1" if active_only else "1 = 1")
    source = "products p"
    order = "p.created_at DESC, p.id DESC"  # products_by_age, read backwards
    if query is not None:
        match = search_query(query)
        if match is None:
            return [], 0
        source = ("(SELECT product_id, min(rank) AS rank FROM market_search "
                  "WHERE market_search MATCH ? GROUP BY product_id) s "
                  "JOIN products p ON p.id = s.product_id")
        params.insert(0, match)
        order = "s.rank, p.id"
    condition = " AND ".join(where)
    with reading(db):
        # Counting needs no rank (bm25 of every match took most of a search's time).
        counted = ("products p WHERE p.id IN (SELECT product_id FROM market_search "
                   "WHERE market_search MATCH ?) AND " if query is not None
                   else "products p WHERE ")
        total = db.execute(f"SELECT count(*) FROM {counted}{condition}", params).fetchone()[0]
        # The page's ids first, then their names: SQLite computes a row's subqueries before
        # sorting, so naming every product to keep 24 took most of the time at 5,000.
        rank = "s.rank" if query is not None else "0"
        rows = fetch(db, f"""
            SELECT p.id, p.centre_id, p.cooperative_id, p.category, p.unit, p.price, p.stock,
                   p.active, p.photo, {_text_choice(langs, 'name')} AS name,
                   c.name AS cooperative, c.village,
                   (SELECT name FROM centres WHERE id = p.centre_id) AS centre_name
            FROM (SELECT p.id AS id, {rank} AS rank FROM {source} WHERE {condition}
                  ORDER BY {order} LIMIT ? OFFSET ?) page
            JOIN products p ON p.id = page.id
            LEFT JOIN cooperatives c ON c.id = p.cooperative_id
            ORDER BY {order.replace('s.rank', 'page.rank')}""", [*params, limit, offset])
    return rows, total


def categories(db: Database) -> list[dict]:
    """Each category with its count of active products, in the list's order."""
    counts = dict(db.execute("SELECT category, count(*) FROM products WHERE active = 1 "
                             "GROUP BY category").fetchall())
    return [{"code": c, "label": category_label(c), "count": counts.get(c, 0)}
            for c in CATEGORIES]


def all_products(db: Database, *, langs: tuple[str, ...], currency: str) -> list[dict]:
    """Every product this installation holds, for ``infocentre market products``."""
    return [{"id": r["id"], "name": r["name"] or "", "cooperative": r["cooperative"] or "",
             "centre": r["centre_id"], "price": r["price"], "currency": currency,
             "unit": r["unit"], "stock": r["stock"], "active": bool(r["active"])}
            for r in fetch(db, f"""
                SELECT p.*, {_text_choice(langs, 'name')} AS name, c.name AS cooperative
                FROM products p LEFT JOIN cooperatives c ON c.id = p.cooperative_id
                ORDER BY folded(c.name), folded(name), p.id""")]


# Orders. The status of an order is derived from the set of its events (README, "Orders").

SELLER_STEPS = ("received", "confirmed", "declined", "ready", "collected", "cancelled")
BUYER_STEPS = ("cancel_asked",)
# From the furthest: the first kind an order has gives its status.
PRECEDENCE = ("collected", "cancelled", "declined", "ready", "confirmed", "received")
DONE = ("collected", "cancelled", "declined")


def status_of(kinds) -> str:
    """The status of an order whose events are of ``kinds`` (any order, repeats allowed)."""
    kinds = set(kinds)
    for kind in PRECEDENCE:
        if kind in kinds:
            return kind
    return "placed"


def status_label(status: str, cancel_asked: bool = False) -> str:
    labels = {
        "placed": _("Sent to the cooperative"),
        "received": _("The cooperative has it"),
        "confirmed": _("Confirmed"),
        "ready": _("Ready to collect"),
        "collected": _("Collected and paid"),
        "declined": _("Declined"),
        "cancelled": _("Cancelled"),
    }
    if cancel_asked and status not in DONE:
        return _("Cancellation asked")
    return labels.get(status, status)


def decline_reason(reason: str) -> str:
    """The reason a buyer reads: the automatic ones in their language, a person's as written."""
    return {"sold_out": _("Sold out"), "withdrawn": _("No longer sold")}.get(reason, reason)


def place_order(db: Database, *, order_id: str, centre_id: str, buyer: dict,
                placed_by: dict, lines: list[tuple[str, int]], note: str, currency: str,
                langs: tuple[str, ...], now: dt.datetime) -> list[str]:
    """Place the buyer's order; one order per cooperative (ids: ``order_id`` for the first,
    UUIDv5s of it for the others). Every line is checked first (a withdrawn product, more
    than the stock this centre last heard of, a quantity out of bounds); nothing is written
    unless all are right. An ``order_id`` already placed is refused: a form sent twice."""
    note, problems = _text(note, MAX_NOTE, required=False,
                           message=_("The note can have up to 500 characters."))
    errors: dict[str, list[str]] = {"note": problems} if problems else {}
    if not lines:
        errors["lines"] = [_("Choose at least one product.")]
    if len(lines) > MAX_LINES:
        errors["lines"] = [_("An order can have up to %(count)d products.", count=MAX_LINES)]
    with writing(db):
        if fetch(db, "SELECT 1 FROM orders WHERE id = ?", [order_id]):
            raise ValidationError({"order": [_("This order was already sent. It is in your "
                                               "orders.")]})
        wanted: dict[str, int] = {}
        for product_id, quantity in lines:
            try:
                wanted[product_id] = wanted.get(product_id, 0) + parse_count(
                    quantity, limit=MAX_QUANTITY, allow_zero=False)
            except ValueError:
                errors.setdefault("lines", []).append(
                    _("Write how many you want as a whole number from 1 to 10,000."))
        products = {}
        for product_id, quantity in wanted.items():
            rows = fetch(db, f"SELECT p.*, {_text_choice(langs, 'name')} AS name "
                             "FROM products p WHERE p.id = ?", [product_id])
            if not rows:
                errors.setdefault("lines", []).append(_("There is no such product here."))
                continue
            product = products[product_id] = rows[0]
            if not product["active"]:
                errors.setdefault("lines", []).append(
                    _("%(name)s is no longer sold.", name=product["name"]))
            elif product["stock"] <= 0:
                errors.setdefault("lines", []).append(
                    _("%(name)s is sold out.", name=product["name"]))
            elif quantity > product["stock"]:
                errors.setdefault("lines", []).append(
                    _("Only %(count)d of %(name)s are left.", count=product["stock"],
                      name=product["name"]))
        if errors:
            raise ValidationError(errors)
        by_coop: dict[str, list[dict]] = {}
        for product_id, product in products.items():
            by_coop.setdefault(product["cooperative_id"], []).append(product)
        made = []
        for n, (coop_id, items) in enumerate(sorted(by_coop.items())):
            this_id = order_id if n == 0 else stable_id("order", order_id, coop_id)
            total = sum(p["price"] * wanted[p["id"]] for p in items)
            db.execute(
                "INSERT INTO orders (id, centre_id, seller_centre, cooperative_id, buyer_id, "
                "buyer_name, placed_by, note, currency, total, items, placed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [this_id, centre_id, items[0]["centre_id"], coop_id, buyer["id"], buyer["name"],
                 placed_by["id"], note, currency, total, len(items), iso(now)])
            for p in items:
                db.execute(
                    "INSERT INTO order_lines (id, centre_id, seller_centre, order_id, "
                    "product_id, name, unit, quantity, price) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [stable_id("line", this_id, p["id"]), centre_id, p["centre_id"], this_id,
                     p["id"], p["name"] or "", p["unit"], wanted[p["id"]], p["price"]])
            made.append(this_id)
        # A cooperative of this very centre has its orders at once.
        receive_orders(db, centre_id=centre_id, now=now)
    return made


def _event(db: Database, order: dict, kind: str, *, centre_id: str, now: dt.datetime,
           reason: str = "", amount: int | None = None, by_id: str | None = None) -> None:
    to = order["centre_id"] if centre_id == order["seller_centre"] else order["seller_centre"]
    db.execute(
        "INSERT INTO order_events (id, centre_id, to_centre, order_id, kind, reason, amount, "
        "by_id, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [stable_id("event", order["id"], kind), centre_id, to, order["id"], kind, reason,
         amount, by_id, iso(now)])


def events_of(db: Database, order_id: str) -> list[dict]:
    return fetch(db, "SELECT * FROM order_events WHERE order_id = ? ORDER BY at, kind",
                 [order_id])


def get_order(db: Database, order_id: str) -> dict:
    """An order with its lines, its events and its derived status."""
    rows = fetch(db, """
        SELECT o.*, c.name AS cooperative,
               (SELECT name FROM centres WHERE id = o.centre_id) AS centre_name,
               (SELECT name FROM centres WHERE id = o.seller_centre) AS seller_centre_name
        FROM orders o LEFT JOIN cooperatives c ON c.id = o.cooperative_id WHERE o.id = ?""",
                 [order_id])
    if not rows:
        raise NotFound(_("There is no such order here."))
    order = rows[0]
    order["lines"] = fetch(db, "SELECT * FROM order_lines WHERE order_id = ? ORDER BY name",
                           [order_id])
    order["events"] = events_of(db, order_id)
    _derive(order, order["events"])
    return order


def _derive(order: dict, events: list[dict]) -> dict:
    kinds = {e["kind"] for e in events}
    order["status"] = status_of(kinds)
    order["cancel_asked"] = "cancel_asked" in kinds and order["status"] not in DONE
    declined = [e for e in events if e["kind"] == "declined"]
    order["reason"] = declined[0]["reason"] if declined else ""
    paid = [e for e in events if e["kind"] == "collected"]
    order["paid"] = paid[0]["amount"] if paid else None
    return order


def orders(db: Database, *, centre_id: str | None = None, seller_centre: str | None = None,
           cooperative_id: str | None = None, buyer_id: str | None = None,
           limit: int = 200) -> list[dict]:
    """Orders, newest first, each with its derived status, its lines' count and its events."""
    where, params = _equal(("o.centre_id", centre_id), ("o.seller_centre", seller_centre),
                           ("o.cooperative_id", cooperative_id), ("o.buyer_id", buyer_id))
    with reading(db):
        found = fetch(db, f"""
            SELECT o.*, c.name AS cooperative,
                   (SELECT name FROM centres WHERE id = o.centre_id) AS centre_name,
                   (SELECT name FROM centres WHERE id = o.seller_centre) AS seller_centre_name
            FROM orders o LEFT JOIN cooperatives c ON c.id = o.cooperative_id
            WHERE {' AND '.join(where)} ORDER BY o.placed_at DESC, o.id LIMIT ?""",
                      [*params, limit])
        if not found:
            return []
        ids = [o["id"] for o in found]
        marks = ",".join("?" * len(ids))
        events: dict[str, list[dict]] = {}
        for e in fetch(db, f"SELECT * FROM order_events WHERE order_id IN ({marks}) "
                           "ORDER BY at, kind", ids):
            events.setdefault(e["order_id"], []).append(e)
        lines: dict[str, list[dict]] = {}
        for line in fetch(db, f"SELECT * FROM order_lines WHERE order_id IN ({marks}) "
                              "ORDER BY name", ids):
            lines.setdefault(line["order_id"], []).append(line)
    for order in found:
        order["events"] = events.get(order["id"], [])
        order["lines"] = lines.get(order["id"], [])
        _derive(order, order["events"])
    return found


def ask_cancel(db: Database, order_id: str, *, centre_id: str, by_id: str,
               now: dt.datetime) -> None:
    """The buyer's centre asks to cancel: the home centre grants it when the request reaches it,
    unless the order was collected by then (README)."""
    with writing(db):
        order = get_order(db, order_id)
        if order["centre_id"] != centre_id:
            raise NotFound(_("There is no such order here."))
        if order["status"] in DONE:
            raise ValidationError({"order": [_("This order is finished: it cannot be "
                                               "cancelled.")]})
        _event(db, order, "cancel_asked", centre_id=centre_id, now=now, by_id=by_id)
        receive_orders(db, centre_id=centre_id, now=now)


# What the cooperative may do next from each status.
NEXT_STEPS = {
    "received": ("confirmed", "declined"),
    "confirmed": ("ready", "declined"),
    "ready": ("collected",),
}


def seller_step(db: Database, order_id: str, kind: str, *, centre_id: str, by_id: str | None,
                now: dt.datetime, reason: str = "", amount=None, decimal_sep: str = ".",
                digits: int = 2) -> None:
    """The cooperative confirms, declines (with a reason), marks ready, or marks collected and
    paid (with the amount received) an order at its home centre."""
    with writing(db):
        receive_orders(db, centre_id=centre_id, now=now)
        order = get_order(db, order_id)
        if order["seller_centre"] != centre_id:
            raise NotFound(_("There is no such order here."))
        if kind not in NEXT_STEPS.get(order["status"], ()):
            raise ValidationError({"order": [_("This order is now: %(status)s. Nothing was "
                                               "changed.", status=status_label(order["status"]))]})
        paid = None
        if kind == "declined":
            reason, problems = _text(reason, 200, required=True,
                                     message=_("Say in a few words why (up to 200 characters)."))
            if problems:
                raise ValidationError({"reason": problems})
        if kind == "collected":
            try:
                # No amount typed: the order's total, already in minor units.
                paid = order["total"] if amount in (None, "") else parse_price(
                    amount, decimal_sep=decimal_sep, digits=digits)
            except ValueError:
                raise ValidationError({"amount": [_("Write the amount paid as a number, such "
                                                    "as 2.50.")]}) from None
        _event(db, order, kind, centre_id=centre_id, now=now, reason=reason, amount=paid,
               by_id=by_id)
        if kind == "declined":
            _give_back(db, order, centre_id=centre_id, now=now)


def _give_back(db: Database, order: dict, *, centre_id: str, now: dt.datetime) -> None:
    """Return to stock what an order had taken (a movement per line), once."""
    for move in fetch(db, "SELECT product_id, sum(quantity) AS taken FROM stock_moves "
                          "WHERE order_id = ? GROUP BY product_id", [order["id"]]):
        if move["taken"] < 0:
            move_stock(db, move["product_id"], -move["taken"], reason="returned",
                       centre_id=centre_id, order_id=order["id"], now=now)


def receive_orders(db: Database, *, centre_id: str, now: dt.datetime) -> int:
    """At a cooperative's home centre: take up the orders and requests that arrived.

    An order not yet received takes its quantities from stock and is ``received``, or is
    declined at once, ``sold_out`` or ``withdrawn``, when its products cannot be had: orders
    are taken in the order they were placed (then by id), so two centres that ordered the last
    jar while offline get the same answer whichever synced first at the hub... and the one
    that reached this centre first gets the jar. A cancellation asked for an order not finished
    is granted (``cancelled``), and its quantities go back to stock. Returns how many events
    were written; idempotent."""
    written = 0
    with writing(db):
        waiting = fetch(db, """
            SELECT o.* FROM orders o WHERE o.seller_centre = ? AND NOT EXISTS (
                SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.centre_id = ?
                AND e.kind IN ('received', 'declined', 'cancelled'))
            ORDER BY o.placed_at, o.id""", [centre_id, centre_id])
        asked = fetch(db, """
            SELECT o.* FROM orders o JOIN order_events a
              ON a.order_id = o.id AND a.kind = 'cancel_asked'
            WHERE o.seller_centre = ? AND NOT EXISTS (
                SELECT 1 FROM order_events e WHERE e.order_id = o.id
                AND e.kind IN ('collected', 'cancelled', 'declined'))""", [centre_id])
        cancelling = {o["id"] for o in asked}
        for order in waiting:
            if order["id"] in cancelling:
                continue  # cancelled below, before it took anything
            lines = fetch(db, "SELECT * FROM order_lines WHERE order_id = ?", [order["id"]])
            if not lines or len(lines) < order["items"]:
                continue  # its lines have not all arrived yet (a sync cut between pages)
            reason = ""
            for line in lines:
                rows = fetch(db, "SELECT * FROM products WHERE id = ?", [line["product_id"]])
                if not rows or not rows[0]["active"] or rows[0]["centre_id"] != centre_id:
                    reason = "withdrawn"
                    break
                if rows[0]["stock"] < line["quantity"]:
                    reason = "sold_out"
            if reason:
                _event(db, order, "declined", centre_id=centre_id, now=now, reason=reason)
            else:
                for line in lines:
                    move_stock(db, line["product_id"], -line["quantity"], reason="order",
                               centre_id=centre_id, order_id=order["id"], now=now)
                _event(db, order, "received", centre_id=centre_id, now=now)
            written += 1
        for order in asked:
            _give_back(db, order, centre_id=centre_id, now=now)
            _event(db, order, "cancelled", centre_id=centre_id, now=now)
            written += 1
    return written


def sales(db: Database, *, cooperative_id: str, since: str) -> list[dict]:
    """What the cooperative sold (orders collected and paid since ``since``, an ISO time), per
    product and month (YYYY-MM, by the time it was collected): quantity and amount."""
    return fetch(db, """
        SELECT l.product_id, max(l.name) AS name, substr(e.at, 1, 7) AS month,
               sum(l.quantity) AS quantity, sum(l.quantity * l.price) AS amount
        FROM orders o JOIN order_events e ON e.order_id = o.id AND e.kind = 'collected'
        JOIN order_lines l ON l.order_id = o.id
        WHERE o.cooperative_id = ? AND e.at >= ?
        GROUP BY l.product_id, month ORDER BY month, name""", [cooperative_id, since])


def may_keep(db: Database, user: dict | None, coop: dict, *, centre_id: str) -> bool:
    """Whether ``user`` may change the cooperative and its products here: at its home centre,
    a facilitator or admin of that centre, or one of its members (the cooperative role)."""
    if not user or coop["centre_id"] != centre_id or user.get("centre_id") != centre_id:
        return False
    if user["role"] in ("facilitator", "admin"):
        return True
    return user["role"] == "cooperative" and coop["id"] in member_of(db, user["id"])


# catalogue: the centres that have cooperatives, and the printable price list.


def market_centres(db: Database) -> list[dict]:
    """The centres with at least one active cooperative, by name (the catalogue's filter)."""
    return fetch(db, """
        SELECT id, name FROM centres WHERE id IN (
            SELECT centre_id FROM cooperatives WHERE active = 1)
        ORDER BY folded(name), id""")


def price_list(db: Database, *, langs: tuple[str, ...], cooperative: str | None = None,
               centre: str | None = None, limit: int = 500) -> tuple[list[dict], int]:
    """The active products of a cooperative or of a centre, by cooperative then name, for a
    printed list (at most ``limit``), and how many there are in all."""
    where, params = _equal(("p.cooperative_id", cooperative or None),
                           ("p.centre_id", centre or None), always="p.active = 1")
    condition = " AND ".join(where)
    with reading(db):
        total = db.execute(f"SELECT count(*) FROM products p WHERE {condition}",
                           params).fetchone()[0]
        rows = fetch(db, f"""
            SELECT * FROM (
                SELECT p.id, p.cooperative_id, p.unit, p.price, p.stock, p.photo,
                       {_text_choice(langs, 'name')} AS name, c.name AS cooperative, c.village
                FROM products p LEFT JOIN cooperatives c ON c.id = p.cooperative_id
                WHERE {condition})
            ORDER BY folded(cooperative), cooperative_id, folded(name), id LIMIT ?""",
                     [*params, limit])
    return rows, total


def cooperative_names(db: Database) -> list[dict]:
    """The active cooperatives' ids and names, by name (the catalogue's filter: it is on every
    page of the catalogue, and the whole rows cost a millisecond more)."""
    return fetch(db, "SELECT id, name FROM cooperatives WHERE active = 1 "
                     "ORDER BY folded(name), id")
# manage: what a cooperative's own pages need.


def products_of(db: Database, coop_id: str, *, langs: tuple[str, ...]) -> list[dict]:
    """Every product of the cooperative, withdrawn ones too, by name in the reader's language."""
    return fetch(db, f"""
        SELECT p.id, p.cooperative_id, p.category, p.unit, p.price, p.stock, p.active, p.photo,
               {_text_choice(langs, 'name')} AS name
        FROM products p WHERE p.cooperative_id = ?
        ORDER BY p.active DESC, folded(coalesce(name, '')), p.id""", [coop_id])


def member_candidates(db: Database, coop_id: str, *, centre_id: str) -> list[dict]:
    """The accounts of this centre with the cooperative role that are not members yet."""
    return fetch(db, """
        SELECT a.id, a.name FROM accounts a
        WHERE a.centre_id = ? AND a.role = 'cooperative' AND NOT EXISTS (
            SELECT 1 FROM cooperative_members m WHERE m.cooperative_id = ?
            AND m.account_id = a.id AND m.active = 1)
        ORDER BY folded(a.name)""", [centre_id, coop_id])
