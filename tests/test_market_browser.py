"""The market's two paths in Chromium at 1024 x 600, in Spanish and Arabic (issue 17): a villager
finds a demo product by searching without its accent, puts two in her basket and sends the
order; the cooperative's member sees it among the incoming orders and confirms it; the villager
reads "confirmed" in her language on her order's page. No page scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .live import start_demo_server
from .test_browser import sign_in_as
from .test_classes_browser import no_sideways_scroll

pytestmark = pytest.mark.browser

CONFIRMED = {"es": "Confirmado", "ar": "مؤكَّد"}


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    server = start_demo_server(tmp_path_factory.mktemp("market"), role="node", courses=False)
    yield server
    server.stop()


def demo_product(data_dir) -> dict:
    """A demo jam of the first demo cooperative, with stock, its Spanish name and its coop."""
    from kiosk.data import open_db

    db = open_db(data_dir / "infocentre.db")
    try:
        row = db.execute("""
            SELECT p.id, p.cooperative_id, t.name, p.stock FROM products p
            JOIN product_texts t ON t.product_id = p.id AND t.lang = 'es'
            WHERE p.active = 1 AND p.stock >= 5 ORDER BY t.name LIMIT 1""").fetchone()
        return {"id": row[0], "coop": row[1], "name": row[2], "stock": row[3]}
    finally:
        db.close()


def orders_of(data_dir, product_id: str) -> list[dict]:
    from kiosk.data import open_db
    from kiosk.market import models

    db = open_db(data_dir / "infocentre.db")
    try:
        ids = [r[0] for r in db.execute(
            "SELECT order_id FROM order_lines WHERE product_id = ?", [product_id])]
        return [models.get_order(db, i) for i in ids]
    finally:
        db.close()


def unaccented(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).lower()


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_a_villager_orders_and_the_cooperative_confirms(browser, centre, lang):
    product = demo_product(centre.data_dir)
    before = {o["id"] for o in orders_of(centre.data_dir, product["id"])}
    base = centre.url

    buyer = browser.new_context(viewport={"width": 1024, "height": 600})
    page = buyer.new_page()
    sign_in_as(page, base, "villager", lang)
    page.goto(f"{base}/market")
    no_sideways_scroll(page)
    page.fill("#q", unaccented(product["name"]).upper())
    page.locator("#q").press("Enter")
    page.wait_for_load_state()
    card = page.locator(f"a[href$='/market/products/{product['id']}']").first
    expect(card).to_be_visible()
    no_sideways_scroll(page)
    card.click()
    page.wait_for_url(f"**/market/products/{product['id']}")
    no_sideways_scroll(page)
    page.fill("#order-quantity", "2")
    page.locator(".order-form button[type=submit]").click()
    page.wait_for_load_state()
    page.goto(f"{base}/market/basket")
    no_sideways_scroll(page)
    place = page.locator("button[name=action][value=place]")
    expect(place).to_be_in_viewport()  # Send stays on a 600-pixel screen
    place.click()
    page.wait_for_url("**/market/orders**")
    no_sideways_scroll(page)
    made = [o for o in orders_of(centre.data_dir, product["id"]) if o["id"] not in before]
    assert len(made) == 1, "one order, placed once"
    order = made[0]
    assert order["status"] == "received"  # the cooperative is of this centre: it has it at once
    assert [(line["product_id"], line["quantity"]) for line in order["lines"]] == [
        (product["id"], 2)]
    expect(page.locator(f"a[href$='/market/orders/{order['id']}']").first).to_be_visible()

    seller = browser.new_context(viewport={"width": 1024, "height": 600})
    member = seller.new_page()
    sign_in_as(member, base, "cooperative", lang)
    member.goto(f"{base}/market/mine")
    no_sideways_scroll(member)
    member.goto(f"{base}/market/cooperatives/{product['coop']}/orders")
    no_sideways_scroll(member)
    confirm = member.locator(f"form[action$='/market/orders/{order['id']}/step']",
                             has=member.locator("input[name=kind][value=confirmed]"))
    confirm.locator("button[type=submit]").click()
    member.wait_for_load_state()
    assert [o["status"] for o in orders_of(centre.data_dir, product["id"])
            if o["id"] == order["id"]] == ["confirmed"]

    page.goto(f"{base}/market/orders/{order['id']}")
    no_sideways_scroll(page)
    expect(page.locator("main")).to_contain_text(CONFIRMED[lang])
    buyer.close()
    seller.close()
