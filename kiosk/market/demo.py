"""The market's demo: at a centre, two cooperatives of the centre with their products (photos,
names and descriptions in Spanish, English and Kichwa), the demo's cooperative member in both,
and orders of the demo villagers at every step. The hub gets nothing (it has no cooperatives).

The photos are drawn here with Pillow (a few kilobytes each, the same bytes every time), so the
repository carries no pictures. Imports ``kiosk.data``, ``kiosk.i18n``, ``kiosk.media``, the
auth area's models (the demo people) and the area's models.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from sqlite_utils import Database

from ..auth import models as accounts
from ..data import fetch, iso, writing
from ..i18n import _
from . import models

COOPERATIVES = [
    {
        "key": "jams", "name": "Mermeladas Sumak Mishki", "village": "San Pablo del Lago",
        "contact": "Segundo Tenemaza, 099 123 4567",
        "description": "Mujeres de San Pablo que hacen mermeladas y miel con las frutas de sus "
                       "huertos, sin colorantes.",
        "products": [
            {"code": "MER-MORA", "category": "food", "unit": "jar", "price": "3.50",
             "stock": 24, "picture": ("jar", (92, 24, 60)),
             "texts": {
                 "es": ("Mermelada de mora", "Mora de Castilla cocinada a fuego lento con "
                        "panela. Frasco de 300 g."),
                 "en": ("Blackberry jam", "Andean blackberries slowly cooked with panela "
                        "sugar. 300 g jar."),
                 "qu_EC": ("Mora mishki", "Mora muyukunata panelawan allimanta yanushka. "
                           "300 g puyñu.")}},
            {"code": "MER-UVILLA", "category": "food", "unit": "jar", "price": "3.00",
             "stock": 18, "picture": ("jar", (235, 150, 20)),
             "texts": {
                 "es": ("Mermelada de uvilla", "Uvillas de la comunidad, dulces y un poco "
                        "ácidas. Frasco de 300 g."),
                 "en": ("Golden berry jam", "Golden berries from the community, sweet and a "
                        "little sour. 300 g jar."),
                 "qu_EC": ("Uvilla mishki", "Ayllu llaktapak uvillakuna, mishki, ashalla "
                           "puchku. 300 g puyñu.")}},
            {"code": "MIEL-500", "category": "food", "unit": "bottle", "price": "6.00",
             "stock": 10, "picture": ("bottle", (196, 120, 22)),
             "texts": {
                 "es": ("Miel de abeja", "Miel pura de las colmenas de Gualaví, de flores de "
                        "eucalipto y chilca. Botella de 500 g."),
                 "en": ("Bee honey", "Pure honey from the hives of Gualaví, from eucalyptus "
                        "and chilca flowers. 500 g bottle."),
                 "qu_EC": ("Abejapak mishki", "Gualaví llaktapak abejakunapak chuya mishki, "
                           "eucalipto sisakunamanta. 500 g puyñu.")}},
            {"code": "MER-TOMATE", "category": "food", "unit": "jar", "price": "3.25",
             "stock": 2, "picture": ("jar", (200, 48, 30)),
             "texts": {
                 "es": ("Mermelada de tomate de árbol", "Tomate de árbol maduro con un toque "
                        "de canela. Frasco de 300 g."),
                 "en": ("Tree tomato jam", "Ripe tree tomatoes with a touch of cinnamon. "
                        "300 g jar."),
                 "qu_EC": ("Sacha tomate mishki", "Pukushka sacha tomate, ashalla "
                           "canelawan. 300 g puyñu.")}},
        ],
    },
    {
        "key": "weavers", "name": "Tejedoras Warmi Maki", "village": "Peguche",
        "contact": "Segundo Tenemaza, 099 765 4321",
        "description": "Tejedoras de Peguche: ponchos, bufandas, fajas y shigras hechas en "
                       "telar de cintura y a mano.",
        "products": [
            {"code": "TEJ-BUFANDA", "category": "textiles", "unit": "piece", "price": "18.00",
             "stock": 6, "picture": ("scarf", ((150, 30, 40), (240, 200, 60), (30, 90, 130))),
             "texts": {
                 "es": ("Bufanda de lana de alpaca", "Suave y abrigada, tejida a mano con "
                        "lana de alpaca teñida con plantas. 180 × 30 cm."),
                 "en": ("Alpaca wool scarf", "Soft and warm, hand-woven from alpaca wool dyed "
                        "with plants. 180 × 30 cm."),
                 "qu_EC": ("Alpaka millma kunkapintu", "Llampu, kunuk, alpaka millmawan "
                           "makiwan awashka. 180 × 30 cm.")}},
            {"code": "TEJ-PONCHO", "category": "textiles", "unit": "piece", "price": "65.00",
             "stock": 3, "picture": ("poncho", ((40, 60, 140), (200, 40, 50), (250, 245, 230))),
             "texts": {
                 "es": ("Poncho de Peguche", "Poncho azul de lana de borrego, tejido en telar "
                        "como lo hacían las abuelas."),
                 "en": ("Peguche poncho", "Blue poncho of sheep's wool, woven on the loom as "
                        "the grandmothers did."),
                 "qu_EC": ("Peguche punchu", "Anku llamapak millmamanta punchu, hatun mamakuna "
                           "shina awanapi awashka.")}},
            {"code": "TEJ-SHIGRA", "category": "crafts", "unit": "piece", "price": "12.50",
             "stock": 8, "picture": ("bag", ((214, 60, 90), (60, 150, 90), (240, 190, 40))),
             "texts": {
                 "es": ("Shigra de cabuya", "Bolso tejido a mano con fibra de cabuya, fuerte "
                        "y de colores."),
                 "en": ("Cabuya shigra bag", "Bag hand-knotted from cabuya fibre, strong and "
                        "colourful."),
                 "qu_EC": ("Chawar shigra", "Chawar waskamanta makiwan awashka shigra, sinchi, "
                           "sami samilla tullpukunawan.")}},
            {"code": "TEJ-CHUMPI", "category": "textiles", "unit": "piece", "price": "9.00",
             "stock": 12, "picture": ("belt", ((180, 30, 40), (250, 240, 220), (30, 30, 30))),
             "texts": {
                 "es": ("Faja tejida (chumpi)", "Faja de 3 m con figuras tradicionales, para "
                        "la vestimenta de la mujer kichwa."),
                 "en": ("Woven belt (chumpi)", "A 3 m belt with traditional figures, worn "
                        "with the Kichwa woman's dress."),
                 "qu_EC": ("Chumpi", "Kimsa metro chumpi, ñawpa unanchakunawan, kichwa "
                           "warmikunapak churanapak.")}},
        ],
    },
]

# The demo orders: who, what (code, quantity), how many days ago, the steps the cooperative
# took after receiving it, and how it ends.
ORDERS = [
    ("Rosa Quishpe", [("MER-MORA", 2)], 1, [], "Para el sábado, por favor."),
    ("Manuel Guamán", [("MIEL-500", 1), ("MER-UVILLA", 2)], 3, ["confirmed"], ""),
    ("Tránsito Lema", [("TEJ-BUFANDA", 1)], 5, ["confirmed", "ready"], ""),
    ("Ángel Yupanqui", [("TEJ-SHIGRA", 1), ("TEJ-CHUMPI", 2)], 9,
     ["confirmed", "ready", "collected"], ""),
    ("María Chimbo", [("TEJ-PONCHO", 2)], 6, ["declined"], "Uno azul y uno rojo."),
    ("José Cuji", [("MER-TOMATE", 1)], 4, ["cancel"], ""),
    ("Rosa Quishpe", [("TEJ-BUFANDA", 1), ("TEJ-CHUMPI", 1)], 20,
     ["confirmed", "ready", "collected"], ""),
]
DECLINED_REASON = "Solo nos queda un poncho azul; el rojo estará listo el próximo mes."
MEMBER = "Segundo Tenemaza"
FACILITATOR = "Lucía Andrango"


def demo(db: Database, *, centre_id: str, role: str, now: dt.datetime,
         content_dir: str | Path | None = None, store=None) -> list[dict]:
    """At a centre, the demo cooperatives, once (adds nothing twice); the hub has none."""
    if role != "node":
        return []
    if store is None:
        from .. import media

        store = media.store()
    names = _demo_market(db, centre_id=centre_id, store=store, now=now)
    if not names:
        return []
    return [{"message": _("Market: the cooperatives %(names)s, with their products and orders "
                          "at every step (sign in as %(member)s, of the cooperative role).",
                          names=" & ".join(names), member=MEMBER)}]


def coop_id(centre_id: str, key: str) -> str:
    return models.stable_id("demo", centre_id, "cooperative", key)


def _demo_market(db: Database, *, centre_id: str, store, now: dt.datetime) -> list[str]:
    """The demo cooperatives and orders, once; their names, or [] if the demo people are not
    there."""
    names = [c["name"] for c in COOPERATIVES]
    if fetch(db, "SELECT 1 FROM cooperatives WHERE id = ?",
             [coop_id(centre_id, COOPERATIVES[0]["key"])]):
        return names

    def person(name: str) -> dict | None:
        found = accounts.find_by_name(db, name, centre_id=centre_id)
        return found[0] if found else None

    member, facilitator = person(MEMBER), person(FACILITATOR)
    buyers = {name: person(name) for name, *_rest in ORDERS}
    if not member or not facilitator or not all(buyers.values()):
        return []
    photos = {}
    for coop in COOPERATIVES:  # stored first: blobs are named by their content
        for product in coop["products"]:
            photos[product["code"]] = store.add_bytes(_prepare(picture(*product["picture"]))).sha
    languages = ("es", "en", "qu_EC")
    start = now - dt.timedelta(days=30)
    codes: dict[str, str] = {}
    with writing(db):
        for coop in COOPERATIVES:
            cid = coop_id(centre_id, coop["key"])
            db.execute(
                "INSERT INTO cooperatives (id, centre_id, name, village, description, contact, "
                "photo, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                [cid, centre_id, coop["name"], coop["village"], coop["description"],
                 coop["contact"], photos[coop["products"][0]["code"]], iso(start), iso(start)])
            models.set_member(db, cid, member["id"], centre_id=centre_id, active=True, now=start)
            for product in coop["products"]:
                texts = {lang: {"name": n, "description": d}
                         for lang, (n, d) in product["texts"].items()}
                codes[product["code"]] = models.save_product(
                    db, centre_id=centre_id, coop_id=cid, languages=languages, now=start,
                    by_id=member["id"], photos=[photos[product["code"]]], code=product["code"],
                    fields={"texts": texts, "category": product["category"],
                            "unit": product["unit"], "price": product["price"],
                            "stock": product["stock"], "active": True})
        currency = models.currency(db, _currency())
        for n, (buyer, lines, days, steps, note) in enumerate(ORDERS):
            placed = now - dt.timedelta(days=days)
            order_id = models.stable_id("demo", centre_id, "order", str(n))
            by = facilitator if n == len(ORDERS) - 1 else buyers[buyer]  # one for someone else
            models.place_order(
                db, order_id=order_id, centre_id=centre_id, buyer=buyers[buyer], placed_by=by,
                lines=[(codes[code], quantity) for code, quantity in lines], note=note,
                currency=currency, langs=("es",),
                now=placed)
            for k, step in enumerate(steps, start=1):
                when = placed + dt.timedelta(hours=5 * k)
                if step == "cancel":
                    models.ask_cancel(db, order_id, centre_id=centre_id,
                                      by_id=buyers[buyer]["id"], now=when)
                    continue
                models.seller_step(db, order_id, step, centre_id=centre_id,
                                   by_id=member["id"], now=when,
                                   reason=DECLINED_REASON if step == "declined" else "")
        _remember(db, [coop_id(centre_id, c["key"]) for c in COOPERATIVES])
    return names


def _currency() -> str:
    from flask import current_app

    return current_app.config["CURRENCY"]


def _remember(db: Database, coops: list[str]) -> None:
    """List every row the demo made in ``demo_rows`` (so joining a hub removes them)."""
    marks = ",".join("?" * len(coops))
    products = f"SELECT id FROM products WHERE cooperative_id IN ({marks})"
    orders = f"SELECT id FROM orders WHERE cooperative_id IN ({marks})"
    made = [("cooperatives", f"SELECT id FROM cooperatives WHERE id IN ({marks})"),
            ("cooperative_members",
             f"SELECT id FROM cooperative_members WHERE cooperative_id IN ({marks})"),
            ("products", products),
            ("product_texts", f"SELECT id FROM product_texts WHERE product_id IN ({products})"),
            ("product_photos", f"SELECT id FROM product_photos WHERE product_id IN ({products})"),
            ("stock_moves", f"SELECT id FROM stock_moves WHERE product_id IN ({products})"),
            ("orders", orders),
            ("order_lines", f"SELECT id FROM order_lines WHERE order_id IN ({orders})"),
            ("order_events", f"SELECT id FROM order_events WHERE order_id IN ({orders})")]
    for table, query in made:
        times = query.count("?") // len(coops)
        db.execute(f"INSERT OR IGNORE INTO demo_rows (table_name, row_id) "
                   f"SELECT '{table}', id FROM ({query})", coops * times)


# The photos: small drawings of each product, the same bytes every time.

SIZE = (480, 360)
SCALE = 2  # drawn twice as large, then shrunk: smooth edges


def _prepare(data: bytes) -> bytes:
    from ..media import prepare_photo

    return prepare_photo(data)


def picture(kind: str, colours) -> bytes:
    """A JPEG of a product of ``kind`` (jar, bottle, scarf, poncho, bag, belt)."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = SIZE[0] * SCALE, SIZE[1] * SCALE
    image = Image.new("RGB", (w, h), (246, 238, 224))
    draw = ImageDraw.Draw(image)
    # A wall with a soft band of light, and a wooden table.
    draw.rectangle([0, 0, w, int(h * 0.66)], fill=(238, 226, 204))
    draw.ellipse([w * 0.15, -h * 0.4, w * 0.85, h * 0.6], fill=(245, 236, 218))
    draw.rectangle([0, int(h * 0.66), w, h], fill=(166, 112, 70))
    for y in range(int(h * 0.66) + 18, h, 38):
        draw.line([0, y, w, y + 6], fill=(150, 98, 60), width=3)
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).ellipse([w * 0.25, h * 0.78, w * 0.75, h * 0.92], fill=90)
    image.paste((90, 60, 40), mask=shadow.filter(ImageFilter.GaussianBlur(18)))
    {"jar": _jar, "bottle": _bottle, "scarf": _scarf, "poncho": _poncho, "bag": _bag,
     "belt": _belt}[kind](image, colours)
    image = image.resize(SIZE, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82, optimize=True)
    return out.getvalue()


def _lighter(colour, amount=0.45):
    return tuple(int(c + (255 - c) * amount) for c in colour)


def _darker(colour, amount=0.35):
    return tuple(int(c * (1 - amount)) for c in colour)


def _jar(image, fruit):
    from PIL import ImageDraw

    d = ImageDraw.Draw(image)
    s = SCALE
    d.rounded_rectangle([170 * s, 120 * s, 310 * s, 305 * s], radius=28 * s, fill=fruit,
                        outline=_darker(fruit), width=3 * s)
    d.rounded_rectangle([186 * s, 140 * s, 200 * s, 285 * s], radius=7 * s,
                        fill=_lighter(fruit, 0.35))
    d.rectangle([178 * s, 98 * s, 302 * s, 126 * s], fill=(70, 70, 76))
    # A cloth over the lid, red and white squares, tied with a string.
    d.polygon([(160 * s, 118 * s), (320 * s, 118 * s), (300 * s, 70 * s), (180 * s, 70 * s)],
              fill=(200, 40, 40))
    for i in range(8):
        for j in range(3):
            if (i + j) % 2:
                x, y = 180 * s + i * 15 * s, 72 * s + j * 15 * s
                d.rectangle([x, y, x + 14 * s, y + 14 * s], fill=(250, 245, 240))
    d.line([168 * s, 118 * s, 312 * s, 118 * s], fill=(120, 90, 50), width=4 * s)
    d.rounded_rectangle([196 * s, 180 * s, 284 * s, 250 * s], radius=10 * s, fill=(250, 240, 210),
                        outline=(150, 110, 60), width=2 * s)
    d.ellipse([226 * s, 192 * s, 254 * s, 220 * s], fill=fruit)
    d.line([210 * s, 232 * s, 270 * s, 232 * s], fill=(150, 110, 60), width=3 * s)
    for x, y, r in ((110, 280, 16), (134, 292, 14), (352, 286, 15), (376, 276, 13),
                    (96, 300, 12)):
        d.ellipse([(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], fill=fruit,
                  outline=_darker(fruit), width=2 * s)
        d.ellipse([(x - r // 3) * s, (y - r // 2) * s, x * s, (y - r // 6) * s],
                  fill=_lighter(fruit))
    d.polygon([(340 * s, 262 * s), (372 * s, 248 * s), (360 * s, 270 * s)], fill=(70, 140, 60))


def _bottle(image, honey):
    from PIL import ImageDraw

    d = ImageDraw.Draw(image)
    s = SCALE
    d.rounded_rectangle([180 * s, 130 * s, 300 * s, 305 * s], radius=30 * s, fill=honey,
                        outline=_darker(honey), width=3 * s)
    d.polygon([(205 * s, 134 * s), (275 * s, 134 * s), (258 * s, 92 * s), (222 * s, 92 * s)],
              fill=honey)
    d.rectangle([218 * s, 68 * s, 262 * s, 94 * s], fill=(180, 140, 60))
    d.rounded_rectangle([194 * s, 150 * s, 206 * s, 290 * s], radius=6 * s,
                        fill=_lighter(honey, 0.4))
    d.rounded_rectangle([202 * s, 190 * s, 278 * s, 260 * s], radius=8 * s, fill=(250, 240, 210))
    # A honeycomb on the label, and a dipper beside the bottle.
    for cx, cy in ((232, 215), (248, 215), (240, 229)):
        points = [((cx + 7 * c) * s, (cy + 7 * r) * s) for c, r in
                  ((1, 0), (0.5, 0.87), (-0.5, 0.87), (-1, 0), (-0.5, -0.87), (0.5, -0.87))]
        d.polygon(points, fill=honey, outline=_darker(honey))
    d.line([330 * s, 300 * s, 400 * s, 230 * s], fill=(140, 95, 50), width=8 * s)
    for k in range(4):
        y = 298 - k * 9
        d.ellipse([312 * s, (y - 5) * s, 348 * s, (y + 5) * s], fill=(170, 120, 60))


def _woven(size, colours, *, flip=False):
    """A woven cloth: bands of the colours with rows of diamonds, as the looms of Peguche
    weave them."""
    from PIL import Image, ImageDraw

    w, h = (size[1], size[0]) if flip else size
    cloth = Image.new("RGB", (w, h), colours[0])
    d = ImageDraw.Draw(cloth)
    band = 26 * SCALE
    for n, y in enumerate(range(0, h, band)):
        colour = colours[n % len(colours)]
        d.rectangle([0, y, w, y + band], fill=colour)
        if n % 3 == 1:
            other = colours[(n + 1) % len(colours)]
            step = band
            for x in range(0, w, step):
                d.polygon([(x + step // 2, y + 3), (x + step - 3, y + band // 2),
                           (x + step // 2, y + band - 3), (x + 3, y + band // 2)], fill=other)
        d.line([0, y, w, y], fill=_darker(colour, 0.2), width=2)
    return cloth.transpose(Image.Transpose.ROTATE_90) if flip else cloth


def _shape(image, cloth, polygon):
    from PIL import Image, ImageDraw

    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).polygon(polygon, fill=255)
    image.paste(cloth, (0, 0), mask)
    ImageDraw.Draw(image).line([*polygon, polygon[0]], fill=(60, 40, 30), width=2 * SCALE)


def _scarf(image, colours):
    from PIL import ImageDraw

    s = SCALE
    cloth = _woven(image.size, colours, flip=True)
    band = [(90 * s, 250 * s), (300 * s, 60 * s), (380 * s, 110 * s), (170 * s, 300 * s)]
    _shape(image, cloth, band)
    d = ImageDraw.Draw(image)
    for k in range(12):  # fringes at both ends
        t = k / 11
        x0, y0 = 90 + (170 - 90) * t, 250 + (300 - 250) * t
        d.line([x0 * s, y0 * s, (x0 - 22) * s, (y0 + 18) * s], fill=colours[0], width=3 * s)
        x1, y1 = 300 + (380 - 300) * t, 60 + (110 - 60) * t
        d.line([x1 * s, y1 * s, (x1 + 22) * s, (y1 - 18) * s], fill=colours[0], width=3 * s)


def _poncho(image, colours):
    from PIL import ImageDraw

    s = SCALE
    cloth = _woven(image.size, (colours[0], colours[0], colours[1], colours[0], colours[2]),
                   flip=True)
    shape = [(240 * s, 40 * s), (400 * s, 150 * s), (380 * s, 320 * s), (100 * s, 320 * s),
             (80 * s, 150 * s)]
    _shape(image, cloth, shape)
    d = ImageDraw.Draw(image)
    d.ellipse([218 * s, 30 * s, 262 * s, 58 * s], fill=(238, 226, 204), outline=(60, 40, 30),
              width=2 * s)
    for x in range(104, 380, 9):  # the fringe along the hem
        d.line([x * s, 320 * s, x * s, 336 * s], fill=colours[1], width=3 * s)


def _bag(image, colours):
    from PIL import ImageDraw

    s = SCALE
    d = ImageDraw.Draw(image)
    d.arc([170 * s, 40 * s, 310 * s, 200 * s], 180, 360, fill=(120, 80, 40), width=8 * s)
    cloth = _woven(image.size, (*colours, (250, 240, 220)))
    shape = [(150 * s, 120 * s), (330 * s, 120 * s), (350 * s, 250 * s), (320 * s, 310 * s),
             (160 * s, 310 * s), (130 * s, 250 * s)]
    _shape(image, cloth, shape)


def _belt(image, colours):
    from PIL import ImageDraw

    s = SCALE
    cloth = _woven(image.size, colours)
    d = ImageDraw.Draw(image)
    # A rolled belt and its end laid on the table.
    d.ellipse([250 * s, 150 * s, 390 * s, 290 * s], fill=colours[0], outline=(60, 40, 30),
              width=2 * s)
    for r in range(60, 0, -12):
        d.ellipse([(320 - r) * s, (220 - r) * s, (320 + r) * s, (220 + r) * s],
                  outline=colours[1], width=3 * s)
    _shape(image, cloth, [(40 * s, 230 * s), (300 * s, 230 * s), (300 * s, 290 * s),
                          (40 * s, 290 * s)])
    for x in range(44, 300, 22):
        d.polygon([(x * s, 260 * s), ((x + 11) * s, 238 * s), ((x + 22) * s, 260 * s),
                   ((x + 11) * s, 282 * s)], fill=colours[2])
