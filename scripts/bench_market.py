#!/usr/bin/env python3
"""The market at a centre: its pages timed with 5,000 products from 50 cooperatives, the
catalogue's weight on the wire, and an order's round trip through a hub (issue 17).

    .venv/bin/python scripts/bench_market.py [--clients 10] [--requests 20] [--orders 3] [--json]

Sets up, in a temporary directory, a hub and two centres joined to it, each run by
`infocentre serve` on 127.0.0.1 with its sync daemon on (`SYNC_INTERVAL=2`):
- the buyer's centre B holds the region's catalogue: 50 cooperatives of five other centres and
  their 5,000 products (names and descriptions in one to three languages, one to three photos
  each, made with Pillow: 40 distinct pictures), written as a sync would have brought them (the
  capture triggers silent: these rows came from their centres), their photos in its media
  store; thumbnails are made by the server on first request, as at a real centre;
- the cooperative's home centre A has one cooperative, a member and a product, which reach B
  by sync.
Then ``--clients`` clients at once (threads, each a sequence of ``--requests`` requests per
page) ask B for the catalogue (/market), a category, a search and product pages: p50/p95 per
page. The catalogue's weight is its HTML (gzip, as served) plus every thumbnail it shows (the
``src`` of its images). Last, ``--orders`` times: a villager at B orders; A's daemon brings it in
and takes it up by itself; A's member confirms as soon as it shows; the time until B holds the
confirmation is the round trip (the median is ``order_round_trip_s``).

Prints a table, or with --json one object: {"catalogue_p95_ms", "category_p95_ms",
"search_p95_ms", "product_p95_ms", "catalogue_kb", "order_round_trip_s", ...} (p50s, the
round trips, the counts; a page the server does not have answers null).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from local_server import command, environment, log, serve

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"catalogue_p95_ms": 100, "category_p95_ms": 100, "search_p95_ms": 100,
         "product_p95_ms": 100, "catalogue_kb": 150}
COOPERATIVES, PRODUCTS, PICTURES, CENTRES = 50, 5000, 40, 5
IMG_SRC = re.compile(r"""<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)

GOODS = [("food", "mermelada de mora", "jar"), ("food", "miel de abeja", "jar"),
         ("food", "queso fresco", "piece"), ("food", "quinua", "kg"), ("food", "panela", "kg"),
         ("food", "café de altura", "pound"), ("food", "cacao fino", "pound"),
         ("drinks", "jugo de tomate de árbol", "bottle"), ("drinks", "horchata", "bag"),
         ("crafts", "shigra", "piece"), ("crafts", "sombrero de paja toquilla", "piece"),
         ("textiles", "poncho de lana", "piece"), ("textiles", "chompa tejida", "piece"),
         ("farming", "semilla de papa chola", "bag"), ("farming", "plantas de mora", "bunch"),
         ("beauty", "jabón de sábila", "piece"), ("beauty", "pomada de matico", "jar"),
         ("other", "leña seca", "bag")]
ADJECTIVES = ["orgánico", "de la comunidad", "hecho a mano", "sin químicos", "tradicional",
              "de temporada", "secado al sol", "de páramo", "recién cosechado", "familiar"]
PLACES = ["Guamote", "Colta", "Otavalo", "Cotacachi", "Saquisilí", "Zumbahua", "Alausí",
          "Salinas", "Cañar", "Pujilí", "Tigua", "Cayambe"]
WORDS = ("la comunidad cosecha siembra minga agua río montaña abuela camino mercado feria "
         "familia tierra lluvia semilla maíz papa cebada llamas ovejas tejido cooperativa "
         "socios acuerdo trabajo cuidado natural sabor receta antigua").split()


def infocentre(data_dir: Path, *args: str) -> str:
    return subprocess.run([*command(), "--data-dir", str(data_dir), *args], check=True,
                          capture_output=True, text=True, env=environment()).stdout


def pictures(count: int, rng: random.Random) -> list[bytes]:
    """Distinct JPEGs that compress like photos: coloured gradients, shapes and grain."""
    from PIL import Image, ImageDraw, ImageFilter

    made = []
    for _ in range(count):
        width, height = rng.choice([(800, 600), (600, 800), (900, 600)])
        base = Image.linear_gradient("L").resize((width, height)).rotate(rng.randrange(360))
        colour = Image.merge("RGB", [base.point(lambda v, k=rng.random(): int(v * k + 40 * k))
                                     for _ in range(3)])
        draw = ImageDraw.Draw(colour)
        for _shape in range(rng.randint(6, 14)):
            x, y = rng.randrange(width), rng.randrange(height)
            r = rng.randint(20, 160)
            draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(
                rng.randrange(256) for _ in range(3)))
        colour = colour.filter(ImageFilter.GaussianBlur(2))
        grain = Image.effect_noise((width, height), 18).convert("RGB")
        picture = Image.blend(colour, grain, 0.12)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=85)
        made.append(out.getvalue())
    return made


def seed_catalogue(centre: Path, rng: random.Random) -> dict:
    """The region's catalogue at a centre, as its syncs would have brought it: centres,
    cooperatives, products with texts and photos, their photos in the media store."""
    from kiosk.market.models import stable_id
    from sync.media import Store

    store = Store(centre / "media")
    shas = [store.add_bytes(p).sha for p in pictures(PICTURES, rng)]
    db = sqlite3.connect(centre / "infocentre.db")
    db.execute("UPDATE _sync_state SET applying = 1 WHERE id = 1")
    now = dt.datetime.now(dt.timezone.utc)
    at = lambda days: (now - dt.timedelta(days=days)).isoformat(timespec="seconds")  # noqa: E731
    centres = [str(uuid.uuid4()) for _ in range(CENTRES)]
    db.executemany("INSERT INTO centres (id, centre_id, name, role, created_at, updated_at) "
                   "VALUES (?, ?, ?, 'node', ?, ?)",
                   [(c, c, f"Centro {PLACES[i]}", at(400), at(400)) for i, c in
                    enumerate(centres)])
    coops, products, texts, photos = [], [], [], []
    for n in range(COOPERATIVES):
        coop_id, home = str(uuid.uuid4()), centres[n % CENTRES]
        place = PLACES[n % len(PLACES)]
        coops.append((coop_id, home, f"Cooperativa {n + 1:02d} de {place}", place,
                      " ".join(rng.choice(WORDS) for _ in range(30)), "099 555 0000",
                      rng.choice(shas), at(rng.uniform(200, 400))))
        for _ in range(PRODUCTS // COOPERATIVES):
            product_id = str(uuid.uuid4())
            category, good, unit = rng.choice(GOODS)
            mine = rng.sample(shas, rng.randint(1, 3))
            products.append((product_id, home, coop_id, category, unit,
                             rng.randrange(50, 5000, 5), rng.randint(0, 200),
                             int(rng.random() > 0.04), mine[0], at(rng.uniform(0, 365))))
            name = f"{good.capitalize()} {rng.choice(ADJECTIVES)}"
            description = (f"{good.capitalize()} de {place}. "
                           + " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40))))
            languages = ["es", *rng.sample(["en", "qu_EC", "fr"], rng.choice([0, 0, 1, 2]))]
            for lang in languages:
                texts.append((stable_id("text", product_id, lang), home, product_id, lang,
                              name if lang == "es" else f"{name} ({lang})", description))
            photos.extend((str(uuid.uuid4()), home, product_id, sha, position)
                          for position, sha in enumerate(mine))
    db.executemany("INSERT INTO cooperatives (id, centre_id, name, village, description, "
                   "contact, photo, active, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?8, ?8)", coops)
    db.executemany("INSERT INTO products (id, centre_id, cooperative_id, category, unit, price, "
                   "stock, active, photo, created_at, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?10, ?10)", products)
    db.executemany("INSERT INTO product_texts (id, centre_id, product_id, lang, name, "
                   "description) VALUES (?, ?, ?, ?, ?, ?)", texts)
    db.executemany("INSERT INTO product_photos (id, centre_id, product_id, photo, position) "
                   "VALUES (?, ?, ?, ?, ?)", photos)
    db.execute("UPDATE _sync_state SET applying = 0 WHERE id = 1")
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return {"products": [p[0] for p in products if p[7]], "texts": len(texts),
            "photos": len(photos)}


def seed_cooperative(home: Path) -> dict:
    """At A: a cooperative, its member and a jar of jam with plenty of stock, as its pages
    make them (these travel by sync)."""
    from kiosk.auth import models as accounts
    from kiosk.data import open_db, utcnow
    from kiosk.market import models

    db = open_db(home / "infocentre.db")
    try:
        centre_id = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
        now = utcnow()
        member = accounts.add_account(db, centre_id=centre_id, name="Segundo Tenemaza",
                                      role="cooperative", now=now)
        coop_id = models.create_cooperative(db, centre_id=centre_id, now=now,
                                            fields={"name": "Mermeladas Guamote"})
        models.set_member(db, coop_id, member["id"], centre_id=centre_id, active=True, now=now)
        product_id = models.save_product(
            db, centre_id=centre_id, coop_id=coop_id, languages=("es",), now=now,
            by_id=member["id"], fields={"texts": {"es": {"name": "Mermelada de uvilla"}},
                                        "category": "food", "unit": "jar", "price": "3.50",
                                        "stock": 1000})
    finally:
        db.close()
    return {"centre_id": centre_id, "member": member, "product": product_id}


# Pages.


def get(session: requests.Session, url: str) -> tuple[float, int, requests.Response]:
    """One page as a browser asks for it: (seconds, bytes on the wire with headers, reply)."""
    started = time.perf_counter()
    reply = session.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=60)
    body = reply.raw.read(decode_content=False)  # as it came: compressed when served so
    elapsed = time.perf_counter() - started
    reply.close()
    head = sum(len(f"{k}: {v}\r\n") for k, v in reply.headers.items()) + 20
    reply.wire = head + len(body)
    return elapsed, reply.wire, reply


def measure(base: str, paths: list[str], clients: int, requests_each: int) -> dict:
    """``clients`` threads at once, each asking for ``requests_each`` of ``paths`` in turn:
    p50 and p95 (ms); None when the server does not have the page."""
    with requests.Session() as warm:
        for path in paths[:clients]:
            _s, _w, reply = get(warm, base + path)
            if reply.status_code != 200:
                return {"p50_ms": None, "p95_ms": None, "status": reply.status_code}
    timings, errors = [], []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(number: int) -> None:
        session = requests.Session()
        start.wait()
        for i in range(requests_each):
            path = paths[(number * requests_each + i) % len(paths)]
            try:
                elapsed, _wire, reply = get(session, base + path)
            except requests.RequestException as e:
                with lock:
                    errors.append(str(e))
                continue
            with lock:
                (timings if reply.status_code == 200 else errors).append(
                    elapsed if reply.status_code == 200 else reply.status_code)
        session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timings.sort()
    if not timings:
        return {"p50_ms": None, "p95_ms": None, "errors": len(errors)}
    return {"p50_ms": round(statistics.median(timings) * 1000, 1),
            "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)] * 1000, 1),
            "requests": len(timings), "errors": len(errors)}


def catalogue_weight(base: str) -> dict:
    """The catalogue as a browser loads it: its HTML as served, then each image it shows."""
    with requests.Session() as session:
        _s, html_bytes, _reply = get(session, base + "/market")
        page = session.get(base + "/market", timeout=60).text  # the same page, decoded
        sources = list(dict.fromkeys(IMG_SRC.findall(page)))
        image_bytes = 0
        for src in sources:
            if src.startswith("data:"):
                continue
            _s, wire, shown = get(session, requests.compat.urljoin(base + "/market", src))
            if shown.status_code == 200:
                image_bytes += wire
    return {"kb": round((html_bytes + image_bytes) / 1024, 1),
            "html_kb": round(html_bytes / 1024, 1), "images": len(sources),
            "images_kb": round(image_bytes / 1024, 1)}


def cards_weight(base: str, centre: Path, html_kb: float) -> float:
    """What the catalogue weighs once it shows 24 cards with 320 px thumbnails: its HTML and
    the thumbnails of its first page of products (a projection for a page without images)."""
    db = sqlite3.connect(centre / "infocentre.db")
    shas = [r[0] for r in db.execute("SELECT photo FROM products WHERE active = 1 AND photo "
                                     "IS NOT NULL ORDER BY created_at DESC, id LIMIT 24")]
    db.close()
    with requests.Session() as session:
        wire = sum(get(session, f"{base}/media/{sha}/320")[1] for sha in dict.fromkeys(shas))
    return round(html_kb + wire / 1024, 1)


# The order's round trip.


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def round_trip(home: Path, buyer_centre: Path, seller: dict, buyer: dict) -> float:
    """A villager at B orders; A's daemon brings it and takes it up; the member confirms as
    soon as it shows; seconds until B holds the confirmation."""
    from kiosk.data import fetch, new_id, open_db, utcnow
    from kiosk.market import models

    at_b, at_a = open_db(buyer_centre / "infocentre.db"), open_db(home / "infocentre.db")
    try:
        order_id = new_id()
        started = time.monotonic()
        models.place_order(at_b, order_id=order_id, centre_id=buyer["centre_id"], buyer=buyer,
                           placed_by=buyer, lines=[(seller["product"], 2)], note="",
                           currency=models.currency(at_b, "USD"), langs=("es",), now=utcnow())

        def status(db):
            found = fetch(db, "SELECT kind FROM order_events WHERE order_id = ?",
                                 [order_id])
            return models.status_of(e["kind"] for e in found)

        wait_for(lambda: fetch(at_a, "SELECT 1 FROM orders WHERE id = ?", [order_id])
                 and status(at_a) == "received", 60, "the order to be received at A")
        models.seller_step(at_a, order_id, "confirmed", centre_id=seller["centre_id"],
                           by_id=seller["member"]["id"], now=utcnow())
        wait_for(lambda: status(at_b) == "confirmed", 60, "the confirmation to reach B")
        return time.monotonic() - started
    finally:
        at_a.close()
        at_b.close()


def run(clients: int, requests_each: int, orders: int) -> dict:
    rng = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="bench-market-") as tmp:
        work = Path(tmp)
        hub, home, buyers = work / "hub", work / "centre-a", work / "centre-b"
        infocentre(hub, "init", "--role", "hub", "--name", "Hub Regional", "--currency", "USD")
        hub_server, hub_url = serve(hub, environment())
        servers = [hub_server]
        try:
            for path, name in ((home, "Centro Guamote"), (buyers, "Centro Colta")):
                made = json.loads(infocentre(hub, "hub", "add-node", name, "--json"))
                infocentre(path, "init", "--role", "node", "--name", name, "--hub", hub_url,
                           "--token", made["token"])
            started = time.monotonic()
            seeded = seed_catalogue(buyers, rng)
            seller = seed_cooperative(home)
            from kiosk.auth import models as accounts
            from kiosk.data import open_db, utcnow

            db = open_db(buyers / "infocentre.db")
            buyer_id = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
            buyer = accounts.add_account(db, centre_id=buyer_id, name="Rosa Quishpe",
                                         role="villager", now=utcnow())
            db.close()
            seed_s = time.monotonic() - started
            log(f"seeded {PRODUCTS} products in {seed_s:.1f} s; serving both centres, each "
                "syncing every 2 s")
            daemon = environment(SYNC_INTERVAL=2, SYNC_RETRY_MIN=2)
            for path in (home, buyers):
                server, url = serve(path, daemon)
                servers.append(server)
            base = url  # B's

            ids = seeded["products"]
            pages = {
                "catalogue": ["/market"],
                "category": [f"/market?category={c}" for c in
                             ("food", "crafts", "textiles", "drinks")],
                "search": [f"/market?q={q}" for q in ("cafe", "miel", "poncho tejido",
                                                      "jabon", "queso", "mermelada mora")],
                "product": [f"/market/products/{rng.choice(ids)}" for _ in range(50)],
            }
            found = {}
            for name, paths in pages.items():
                found[name] = measure(base, paths, clients, requests_each)
                log(f"{name}: {found[name]}")
            weight = catalogue_weight(base)
            weight["cards_24_kb"] = cards_weight(base, buyers, weight["html_kb"])

            log("the order's round trip: waiting for A's product to reach B")
            wait_for(lambda: sqlite3.connect(buyers / "infocentre.db").execute(
                "SELECT 1 FROM products WHERE id = ?", [seller["product"]]).fetchone(), 60,
                "A's product at B")
            trips = [round(round_trip(home, buyers, seller, buyer), 2) for _ in range(orders)]
        finally:
            for process in reversed(servers):
                process.terminate()
                process.wait(timeout=30)
    result = {f"{name}_p95_ms": figures["p95_ms"] for name, figures in found.items()}
    result.update({f"{name}_p50_ms": figures["p50_ms"] for name, figures in found.items()})
    result.update({
        "catalogue_kb": weight["kb"], "catalogue_html_kb": weight["html_kb"],
        "catalogue_images": weight["images"], "catalogue_with_24_cards_kb": weight["cards_24_kb"],
        "order_round_trip_s": round(statistics.median(trips), 2), "order_round_trips_s": trips,
        "products": PRODUCTS, "cooperatives": COOPERATIVES, "clients": clients,
        "requests_per_page": clients * requests_each, "seed_s": round(seed_s, 1),
        "errors": sum(f.get("errors", 0) for f in found.values()),
        "missing_pages": [n for n, f in found.items() if f["p95_ms"] is None],
    })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=20, help="per client and page")
    parser.add_argument("--orders", type=int, default=3, help="round trips timed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not (1 <= args.clients <= 50 and 1 <= args.requests <= 500 and 1 <= args.orders <= 10):
        parser.error("--clients 1-50, --requests 1-500, --orders 1-10")
    started = time.monotonic()
    result = run(args.clients, args.requests, args.orders)
    result["total_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{PRODUCTS:,} products of {COOPERATIVES} cooperatives; {args.clients} clients at "
          f"once, {result['requests_per_page']} requests per page; {result['total_s']} s")
    print(f"{'page':<12} {'p50 ms':>8} {'p95 ms':>8}  goal")
    for name in ("catalogue", "category", "search", "product"):
        p50, p95 = result[f"{name}_p50_ms"], result[f"{name}_p95_ms"]
        goal = GOALS[f"{name}_p95_ms"]
        verdict = "no such page here" if p95 is None else (
            f"<= {goal}: {'met' if p95 <= goal else 'MISSED'}")
        print(f"{name:<12} {'-' if p50 is None else p50:>8} {'-' if p95 is None else p95:>8}  "
              f"{verdict}")
    print(f"catalogue weight: {result['catalogue_kb']} KB ({result['catalogue_html_kb']} KB "
          f"HTML gzip + {result['catalogue_images']} images; goal <= {GOALS['catalogue_kb']} KB); "
          f"with 24 cards "
          f"of 320 px thumbnails: {result['catalogue_with_24_cards_kb']} KB")
    print(f"order round trip (B -> A received -> confirmed -> B): "
          f"{result['order_round_trip_s']} s median of {result['order_round_trips_s']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
