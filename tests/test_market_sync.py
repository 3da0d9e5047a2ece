"""The market across centres: a real hub served by ``infocentre serve`` on 127.0.0.1, centres set
up with the real command line, each synced by the real client (``run_sync``, what ``infocentre
sync now`` and the daemon run, with the areas' ``after_sync``), writing through the area's
models as its pages do. A is the cooperative's home centre; B (and C) are buyers' centres.

At every step the status of an order is derived at each replica from the events it holds, and
must be the same on A, B and the hub; stock is the sum of its movements at A, never below 0."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time
from pathlib import Path

import pytest

from kiosk import create_app
from kiosk.data import fetch, new_id, open_db, utcnow
from kiosk.errors import ValidationError
from kiosk.market import models
from kiosk.media import prepare_photo
from kiosk.syncing import run_sync
from sync.media import Store

from .factories import make_account
from .live import infocentre, join_centre, start_server

pytestmark = pytest.mark.live

LANGS = ("es", "en")


def jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), colour).save(out, "JPEG")
    return out.getvalue()


class Centre:
    """An installation set up with the real command line: its app (for the real sync client)
    and the test's own connection (for the models, as the pages use them)."""

    def __init__(self, path: Path, centre_id: str):
        self.path, self.id = path, centre_id
        self.app = create_app({"DATA_DIR": str(path)})
        self.db = open_db(path / "infocentre.db")
        self.store = Store(path / "media")

    def sync(self) -> dict:
        report = run_sync(self.app).as_dict()
        assert report["status"] == "synced" and report["quarantined"] == 0, report
        return report

    def status(self, order_id: str) -> str:
        return models.get_order(self.db, order_id)["status"]

    def stock(self, product_id: str) -> int:
        return models.get_product_row(self.db, product_id)["stock"]

    def close(self) -> None:
        self.db.close()


class Region:
    def __init__(self, tmp_path: Path, currency: str = "EUR"):
        self.tmp = tmp_path
        self.hub_dir = tmp_path / "hub"
        infocentre(self.hub_dir, "init", "--role", "hub", "--name", "Hub Sierra Centro",
                   "--currency", currency)
        self.server = start_server(self.hub_dir)
        self.hub = open_db(self.hub_dir / "infocentre.db")
        self.centres: list[Centre] = []

    def centre(self, name: str) -> Centre:
        path = self.tmp / name.replace(" ", "-")
        node_id, _token = join_centre(self.hub_dir, path, name, self.server.url)
        made = Centre(path, node_id)
        self.centres.append(made)
        return made

    def statuses(self, order_id: str) -> list[str]:
        """The order's status derived at each replica that holds it: centres, then the hub."""
        return [models.get_order(db, order_id)["status"]
                for db in [*(c.db for c in self.centres), self.hub]
                if fetch(db, "SELECT 1 FROM orders WHERE id = ?", [order_id])]

    def sync_all(self, rounds: int = 2) -> None:
        for _ in range(rounds):
            for centre in self.centres:
                centre.sync()

    def close(self) -> None:
        for centre in self.centres:
            centre.close()
        self.hub.close()
        self.server.stop()


@pytest.fixture
def region(tmp_path):
    made = Region(tmp_path)
    yield made
    made.close()


def now() -> dt.datetime:
    return utcnow()


def cooperative(a: Centre, *, name: str = "Mermeladas Guamote") -> tuple[str, dict]:
    member = make_account(a.db, a.id, role="cooperative", name="Segundo Tenemaza")
    coop_id = models.create_cooperative(a.db, centre_id=a.id, now=now(), fields={
        "name": name, "village": "Guamote", "contact": "099 123 4567"})
    models.set_member(a.db, coop_id, member["id"], centre_id=a.id, active=True, now=now())
    return coop_id, member


def product(a: Centre, coop_id: str, member: dict, *, stock: int, name: str = "Mermelada de mora",
            photos: list[str] = (), price: str = "3.50") -> str:
    return models.save_product(
        a.db, centre_id=a.id, coop_id=coop_id, languages=LANGS, now=now(), by_id=member["id"],
        photos=list(photos), fields={"texts": {"es": {"name": name, "description": "Casera."}},
                                     "category": "food", "unit": "jar", "price": price,
                                     "stock": stock})


def order(b: Centre, buyer: dict, product_id: str, quantity: int,
          order_id: str | None = None) -> str:
    order_id = order_id or new_id()
    made = models.place_order(b.db, order_id=order_id, centre_id=b.id, buyer=buyer,
                              placed_by=buyer, lines=[(product_id, quantity)], note="",
                              currency=models.currency(b.db, "USD"), langs=LANGS, now=now())
    assert made == [order_id]
    return order_id


def step(a: Centre, order_id: str, kind: str, member: dict, **extra) -> None:
    models.seller_step(a.db, order_id, kind, centre_id=a.id, by_id=member["id"], now=now(),
                       **extra)


def moves(a: Centre, order_id: str) -> list[tuple[str, int]]:
    return [(m["reason"], m["quantity"]) for m in fetch(
        a.db, "SELECT reason, quantity FROM stock_moves WHERE order_id = ? ORDER BY at, rowid",
        [order_id])]


def assert_stock_sound(region: Region, a: Centre, product_id: str) -> int:
    """Stock at A is the sum of its movements, never below 0 at any point of their history,
    and every replica shows that figure."""
    quantities = [r[0] for r in a.db.execute(
        "SELECT quantity FROM stock_moves WHERE product_id = ? ORDER BY at, rowid",
        [product_id])]
    running = 0
    for quantity in quantities:
        running += quantity
        assert running >= 0, quantities
    assert a.stock(product_id) == running == models.stock_of(a.db, product_id)
    for centre in region.centres:
        assert centre.stock(product_id) == running, centre.path.name
    assert models.get_product_row(region.hub, product_id)["stock"] == running
    return running


def test_an_order_travels_from_the_buyers_centre_to_the_cooperative_and_back(region):
    a, b = region.centre("Centro Guamote"), region.centre("Centro Colta")
    region.sync_all(1)
    # The region's currency, a hub setting, reached the centres.
    assert models.currency(b.db, "USD") == "EUR" and models.currency(a.db, "USD") == "EUR"

    coop_id, member = cooperative(a)
    photo = a.store.add_bytes(prepare_photo(jpeg((150, 30, 60)))).sha
    jam = product(a, coop_id, member, stock=10, photos=[photo])
    assert a.sync()["blobs_sent"] >= 1
    assert b.sync()["blobs_received"] >= 1
    assert b.store.has(photo)
    seen, total = models.catalogue(b.db, langs=LANGS, query="MERMELADA")
    assert total == 1 and seen[0]["id"] == jam and seen[0]["photo"] == photo
    assert seen[0]["stock"] == 10 and seen[0]["price"] == 350

    # Offline, a villager at B orders two jars.
    villager = make_account(b.db, b.id, name="Rosa Quishpe")
    order_id = order(b, villager, jam, 2)
    assert region.statuses(order_id) == ["placed"]  # only B has it
    assert models.get_order(b.db, order_id)["currency"] == "EUR"
    b.sync()
    a.sync()  # the order arrives; A takes it up and sends "received" in the same sync
    assert moves(a, order_id) == [("order", -2)]
    assert a.stock(jam) == 8
    b.sync()
    assert region.statuses(order_id) == ["received"] * 3
    assert b.stock(jam) == 8
    assert_stock_sound(region, a, jam)

    # The cooperative's member confirms; then it is ready; then collected and paid.
    for kind, extra in (("confirmed", {}), ("ready", {}), ("collected", {"amount": "7.00"})):
        step(a, order_id, kind, member, **extra)
        assert a.status(order_id) == kind and b.status(order_id) != kind  # not heard yet
        a.sync()
        b.sync()
        assert region.statuses(order_id) == [kind] * 3, kind
    for db in (a.db, b.db, region.hub):
        placed = models.get_order(db, order_id)
        assert placed["paid"] == 700 and placed["total"] == 700 and not placed["cancel_asked"]
    assert moves(a, order_id) == [("order", -2)]
    assert assert_stock_sound(region, a, jam) == 8
    # Stock movements stay at the home centre and the hub.
    assert fetch(b.db, "SELECT count(*) AS n FROM stock_moves")[0]["n"] == 0

    # Asking to cancel after the collection (B had not heard of it) changes nothing.
    late = order(b, villager, jam, 1)
    b.sync()
    a.sync()
    step(a, late, "confirmed", member)
    step(a, late, "ready", member)
    step(a, late, "collected", member)
    models.ask_cancel(b.db, late, centre_id=b.id, by_id=villager["id"], now=now())
    region.sync_all()
    assert region.statuses(late) == ["collected"] * 3
    assert moves(a, late) == [("order", -1)]
    assert assert_stock_sound(region, a, jam) == 7


def test_two_centres_ordering_the_last_jar_offline_never_both_get_it(region):
    a = region.centre("Centro Guamote")
    b, c = region.centre("Centro Colta"), region.centre("Centro Alausí")
    coop_id, member = cooperative(a)
    last = product(a, coop_id, member, stock=1, name="Miel de páramo")
    region.sync_all(1)
    assert b.stock(last) == c.stock(last) == 1

    # Both offline, each of them orders the last jar.
    first = order(b, make_account(b.db, b.id, name="Rosa Quishpe"), last, 1)
    second = order(c, make_account(c.db, c.id, name="Manuel Lema"), last, 1)
    c.sync()  # C reaches the hub first; B's order was placed first
    b.sync()
    a.sync()
    region.sync_all()

    outcome = {region.statuses(first)[0], region.statuses(second)[0]}
    assert outcome == {"received", "declined"}
    for order_id in (first, second):
        assert len(set(region.statuses(order_id))) == 1 and len(region.statuses(order_id)) == 3
    won, lost = (first, second) if region.statuses(first)[0] == "received" else (second, first)
    assert won == first  # taken in the order they were placed
    for centre in region.centres:
        if fetch(centre.db, "SELECT 1 FROM orders WHERE id = ?", [lost]):
            got = models.get_order(centre.db, lost)
            assert got["reason"] == "sold_out"
            assert models.decline_reason(got["reason"]) == "Sold out"
    assert moves(a, lost) == [] and moves(a, won) == [("order", -1)]
    assert assert_stock_sound(region, a, last) == 0
    # The winner goes on as usual: confirmable; the loser is finished.
    step(a, won, "confirmed", member)
    with pytest.raises(ValidationError):
        step(a, lost, "confirmed", member)
    region.sync_all()
    assert region.statuses(won) == ["confirmed"] * 3
    assert region.statuses(lost) == ["declined"] * 3
    assert assert_stock_sound(region, a, last) == 0


@pytest.mark.parametrize("first", ["buyer", "cooperative"])
def test_a_cancellation_that_crosses_a_confirmation_ends_cancelled_everywhere(region, first):
    a, b = region.centre("Centro Guamote"), region.centre("Centro Colta")
    coop_id, member = cooperative(a)
    jam = product(a, coop_id, member, stock=5)
    region.sync_all(1)
    villager = make_account(b.db, b.id, name="Rosa Quishpe")
    order_id = order(b, villager, jam, 2)
    b.sync()
    a.sync()
    b.sync()
    assert region.statuses(order_id) == ["received"] * 3 and a.stock(jam) == 3

    # Both offline: the buyer asks to cancel while the member confirms.
    models.ask_cancel(b.db, order_id, centre_id=b.id, by_id=villager["id"], now=now())
    step(a, order_id, "confirmed", member)
    assert models.get_order(b.db, order_id)["cancel_asked"]
    for centre in ((b, a) if first == "buyer" else (a, b)):
        centre.sync()
    region.sync_all()

    assert region.statuses(order_id) == ["cancelled"] * 3
    assert moves(a, order_id) == [("order", -2), ("returned", 2)]  # back once, never twice
    assert assert_stock_sound(region, a, jam) == 5
    # Neither a later step of the member nor another sync gives it back again.
    with pytest.raises(ValidationError):
        step(a, order_id, "ready", member)
    region.sync_all()
    assert moves(a, order_id) == [("order", -2), ("returned", 2)]


def test_a_decline_gives_the_stock_back_and_a_replayed_order_is_refused(region):
    a, b = region.centre("Centro Guamote"), region.centre("Centro Colta")
    coop_id, member = cooperative(a)
    cheese = product(a, coop_id, member, stock=4, name="Queso fresco")
    region.sync_all(1)
    villager = make_account(b.db, b.id, name="Rosa Quishpe")
    order_id = order(b, villager, cheese, 3)
    # The same form sent twice: the second is refused and writes nothing.
    with pytest.raises(ValidationError) as refused:
        order(b, villager, cheese, 3, order_id=order_id)
    assert "already sent" in str(refused.value.errors)
    region.sync_all()
    assert fetch(region.hub, "SELECT count(*) AS n FROM orders WHERE buyer_id = ?",
                 [villager["id"]])[0]["n"] == 1
    assert fetch(region.hub, "SELECT count(*) AS n FROM order_lines WHERE order_id = ?",
                 [order_id])[0]["n"] == 1
    assert region.statuses(order_id) == ["received"] * 3 and b.stock(cheese) == 1

    # The member declines, with a reason the buyer reads: the three come back.
    with pytest.raises(ValidationError):
        step(a, order_id, "declined", member, reason="  ")
    step(a, order_id, "declined", member, reason="Las vacas no dieron leche esta semana")
    region.sync_all()
    assert region.statuses(order_id) == ["declined"] * 3
    assert models.get_order(b.db, order_id)["reason"] == "Las vacas no dieron leche esta semana"
    assert moves(a, order_id) == [("order", -3), ("returned", 3)]
    assert assert_stock_sound(region, a, cheese) == 4
    # Asking to cancel a declined order is refused at B, and changes nothing anywhere.
    with pytest.raises(ValidationError):
        models.ask_cancel(b.db, order_id, centre_id=b.id, by_id=villager["id"], now=now())
    region.sync_all()
    assert moves(a, order_id) == [("order", -3), ("returned", 3)]


def test_writes_landing_during_syncs_converge(region):
    a, b = region.centre("Centro Guamote"), region.centre("Centro Colta")
    coop_id, member = cooperative(a)
    products = [product(a, coop_id, member, stock=6, name=f"Tejido {i}") for i in range(6)]
    region.sync_all(1)
    villagers = [make_account(b.db, b.id, name=f"Persona {i}") for i in range(4)]
    waiting = [order(b, villagers[i % 4], products[i % 6], 1) for i in range(24)]
    b.sync()

    # A takes up 24 orders in its sync, while its member keeps editing the products and B
    # keeps placing orders and syncing.
    errors, edits, placed = [], [], []
    done = threading.Event()

    def run(centre):
        try:
            centre.sync()
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    def buyer():
        db = open_db(b.path / "infocentre.db")
        try:
            for i in range(12):
                placed.append(models.place_order(
                    db, order_id=new_id(), centre_id=b.id, buyer=villagers[i % 4],
                    placed_by=villagers[i % 4], lines=[(products[(i + 3) % 6], 1)], note="",
                    currency="EUR", langs=LANGS, now=now())[0])
            run(b)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    syncing = threading.Thread(target=lambda: (run(a), done.set()))
    buying = threading.Thread(target=buyer)
    syncing.start()
    buying.start()
    i = during = 0
    while not done.is_set() or i < 5:
        target = products[i % 6]
        models.save_product(
            a.db, centre_id=a.id, coop_id=coop_id, product_id=target, languages=LANGS,
            now=now(), by_id=member["id"], fields={
                "texts": {"es": {"name": f"Tejido {i % 6}", "description": f"Edición {i}"}},
                "category": "textiles", "unit": "piece", "price": str(400 + i), "stock": None})
        edits.append(i)
        during += not done.is_set()
        i += 1
        time.sleep(0.001)
    syncing.join(60)
    buying.join(60)
    assert not errors, errors
    assert len(placed) == 12
    assert during > 3, "the member's edits did not land during the sync"

    for _ in range(3):
        region.sync_all(1)
    everyone = waiting + placed
    for order_id in everyone:
        found = region.statuses(order_id)
        assert len(found) == 3 and len(set(found)) == 1, (order_id, found)
        assert found[0] in ("received", "declined")
    received = [o for o in everyone if region.statuses(o)[0] == "received"]
    assert len(received) == 36  # 6 × 6 jars: exactly enough for every order
    for target in products:
        assert assert_stock_sound(region, a, target) == 0
    # Every replica holds the same products, with the member's last edits.
    listing = "SELECT id, category, price, stock, active FROM products ORDER BY id"
    texts = "SELECT id, name, description FROM product_texts ORDER BY id"
    for query in (listing, texts):
        here = fetch(a.db, query)
        assert fetch(b.db, query) == here == fetch(region.hub, query)
    assert {p["price"] for p in fetch(a.db, listing)} <= {(400 + n) * 100 for n in edits}
    # The search index at B follows the texts that arrived.
    assert models.catalogue(b.db, langs=LANGS, query="edicion")[1] == 6


def test_the_hubs_currency_reaches_a_centre_and_its_command_line(region):
    b = region.centre("Centro Colta")
    assert models.currency(b.db, "USD") == "USD"  # before its first sync: its own
    report = json.loads(infocentre(b.path, "sync", "now", "--json").stdout)
    assert report["status"] == "synced"
    assert models.currency(b.db, "USD") == "EUR"
    assert fetch(b.db, "SELECT value FROM region_settings WHERE key = 'currency'") == [
        {"value": "EUR"}]
