"""Orders at one centre, through the pages: the basket, placing an order (for oneself and on a
villager's behalf), a form sent twice, every bad input of issue 17 refused with nothing written,
cancelling, each step of the cooperative and a step no longer allowed, who sees what, the pick
list and the sales CSV. The buyer and the cooperative are at the same centre, so an order is
received by the cooperative as soon as it is placed. (Two centres: the sync tests.)"""

from __future__ import annotations

import csv
import io
import re

import pytest
from flask import g, render_template

from kiosk.data import get_db
from kiosk.market import models

from .conftest import SignIn
from .factories import PASSWORD, PIN, WHEN, count, make_account


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def people(db, centre) -> dict:
    return {
        "rosa": make_account(db, centre, name="Rosa Quishpe"),
        "manuel": make_account(db, centre, name="Manuel Guamán"),
        "lucia": make_account(db, centre, role="facilitator", name="Lucía Andrango"),
        "segundo": make_account(db, centre, role="cooperative", name="Segundo Tenemaza"),
    }


@pytest.fixture
def coop(db, centre, people) -> str:
    coop_id = models.create_cooperative(db, centre_id=centre, now=WHEN,
                                        fields={"name": "Mermeladas Sumak", "village": "Peguche"})
    models.set_member(db, coop_id, people["segundo"]["id"], centre_id=centre, active=True,
                      now=WHEN)
    return coop_id


def product(db, app, coop, name: str, *, price: str = "2.50", stock: int = 5,
            unit: str = "jar") -> str:
    return models.save_product(
        db, centre_id=app.config["CENTRE_ID"], coop_id=coop, now=WHEN, by_id=None,
        languages=tuple(app.config["LANGUAGES"]),
        fields={"texts": {"en": {"name": name, "description": ""}}, "category": "food",
                "unit": unit, "price": price, "stock": stock})


@pytest.fixture
def jam(db, app, coop) -> str:
    return product(db, app, coop, "Blackberry jam")


@pytest.fixture
def cheese(db, app, coop) -> str:
    return product(db, app, coop, "Fresh cheese", price="4.00", stock=10, unit="piece")


def signed_in(app, account):
    client = app.test_client()
    helper = SignIn(client)
    assert helper.pin(account, PIN).status_code == 302
    return client, helper


def text(response) -> str:
    return response.get_data(as_text=True)


def add(client, helper, product_id, quantity="1"):
    return client.post("/market/basket/add", data={
        "product_id": product_id, "quantity": quantity, "csrf_token": helper.token()})


def basket_form(client) -> dict:
    """What the basket page's form would send as it is shown."""
    page = text(client.get("/market/basket"))
    form = {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page)[1],
            "order_id": re.search(r'name="order_id" value="([^"]+)"', page)[1],
            "product": re.findall(r'name="product" value="([^"]+)"', page),
            "quantity": re.findall(r'name="quantity" type="number"[^>]* value="([^"]*)"', page),
            "note": ""}
    assert len(form["product"]) == len(form["quantity"])
    return form


def place(client, **changes):
    form = {**basket_form(client), "action": "place", **changes}
    return client.post("/market/basket", data=form), form


def stock(db, product_id) -> int:
    return models.get_product_row(db, product_id)["stock"]


def only_order(db) -> dict:
    [row] = db.execute("SELECT id FROM orders").fetchall()
    return models.get_order(db, row[0])


def step(client, helper, order_id, kind, **data):
    return client.post(f"/market/orders/{order_id}/step",
                       data={"kind": kind, "csrf_token": helper.token(), **data})


# The basket.


def test_the_basket_adds_updates_and_removes_products(app, db, people, jam, cheese):
    client, helper = signed_in(app, people["rosa"])
    response = add(client, helper, jam, "2")
    assert response.status_code == 302 and response.location.endswith("/market/basket")
    page = text(client.get(response.location))
    assert "Blackberry jam is in your basket." in page
    add(client, helper, jam, "1")
    add(client, helper, cheese, "1")
    form = basket_form(client)
    assert dict(zip(form["product"], form["quantity"])) == {jam: "3", cheese: "1"}
    page = text(client.get("/market/basket"))
    assert "$11.50" in page  # 3 × 2.50 + 4.00

    form["quantity"] = ["4", "2"]
    response = client.post("/market/basket", data={**form, "action": "update"})
    assert response.status_code == 200
    assert "$18.00" in text(response)
    client.post("/market/basket", data={"remove": jam, "csrf_token": form["csrf_token"]})
    form = basket_form(client)
    assert dict(zip(form["product"], form["quantity"])) == {cheese: "2"}
    assert count(db, "orders") == 0


@pytest.mark.parametrize("quantity", ["abc", "0", "-1", "99999999999", "", "1.5"])
def test_a_bad_quantity_in_the_basket_is_refused_and_nothing_changes(app, db, people, jam,
                                                                     quantity):
    client, helper = signed_in(app, people["rosa"])
    response = add(client, helper, jam, quantity)
    assert "Write how many you want as a whole number from 1 to 10,000." in text(
        client.get(response.location))
    add(client, helper, jam, "2")
    form = basket_form(client)
    response = client.post("/market/basket", data={**form, "quantity": [quantity],
                                                   "action": "place"})
    assert response.status_code == 400
    page = text(response)
    assert "Write how many you want as a whole number from 1 to 10,000." in page
    assert 'aria-invalid="true"' in page
    assert count(db, "orders") == 0 and stock(db, jam) == 5
    assert basket_form(client)["quantity"] == ["2"]  # the basket kept what it had


def order_box(app, user, product_id) -> str:
    """The order box as the product page (another part's) includes it, for ``user``."""
    with app.test_request_context("/market"):
        g.user = user
        return render_template("market/_order_box.html", currency="USD",
                               product=models.get_product(get_db(), product_id, ("en",)))


def test_a_person_who_is_not_signed_in_is_asked_to_sign_in(app, client, jam):
    response = client.get("/market/basket")
    assert response.status_code == 302 and "/auth/signin" in response.location
    box = order_box(app, None, jam)
    assert "Sign in to order" in box and "Add to my basket" not in box


def test_the_order_box_offers_a_quantity_up_to_the_stock_or_says_sold_out(app, db, people,
                                                                          jam, cheese):
    models.set_stock(db, cheese, 0, centre_id=app.config["CENTRE_ID"], by_id=None, now=WHEN)
    box = order_box(app, people["rosa"], jam)
    sold = order_box(app, people["rosa"], cheese)
    assert 'name="quantity" type="number"' in box and 'max="5"' in box and 'min="1"' in box
    assert "Add to my basket" in box
    assert "Sold out" in sold and "Add to my basket" not in sold


# Placing an order.


def test_placing_empties_the_basket_and_says_the_order_is_sent(app, db, people, jam, cheese):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "2")
    add(client, helper, cheese, "1")
    response, _form = place(client, note="Por la tarde, por favor")
    assert response.status_code == 302 and response.location.endswith("/market/orders")
    page = text(client.get(response.location))
    assert "Your order is sent." in page
    assert "You pay in cash when you collect it here, at Centro de Prueba." in page
    order = only_order(db)
    assert order["buyer_id"] == order["placed_by"] == people["rosa"]["id"]
    assert order["total"] == 900 and order["note"] == "Por la tarde, por favor"
    assert order["status"] == "received"  # the cooperative is at this centre
    assert "The cooperative has it" in page and "Mermeladas Sumak" in page
    assert stock(db, jam) == 3 and stock(db, cheese) == 9
    assert "Your basket is empty." in text(client.get("/market/basket"))


def test_the_same_form_sent_twice_places_one_order(app, db, people, jam):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "2")
    response, form = place(client)
    assert response.status_code == 302
    again = client.post("/market/basket", data=form)
    assert again.status_code == 302
    assert "This order was already sent. It is in your orders." in text(
        client.get(again.location))
    assert count(db, "orders") == 1 and stock(db, jam) == 3


@pytest.mark.parametrize("change, message", [
    ("withdrawn", "Blackberry jam is no longer sold."),
    ("more", "Only 1 of Blackberry jam are left."),
    ("sold_out", "Blackberry jam is sold out."),
])
def test_an_order_the_products_cannot_fill_is_refused_and_nothing_is_written(
        app, db, people, coop, jam, change, message):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "2")
    centre = app.config["CENTRE_ID"]
    if change == "withdrawn":
        models.save_product(db, centre_id=centre, coop_id=coop, product_id=jam, now=WHEN,
                            by_id=None, languages=("en",), fields={
                                "texts": {"en": {"name": "Blackberry jam"}}, "active": False,
                                "category": "food", "unit": "jar", "price": "2.50"})
    else:
        models.set_stock(db, jam, 1 if change == "more" else 0, centre_id=centre, by_id=None,
                         now=WHEN)
    moves = count(db, "stock_moves")
    response, _form = place(client)
    assert response.status_code == 400
    assert message in text(response)
    assert count(db, "orders") == 0 and count(db, "order_lines") == 0
    assert count(db, "stock_moves") == moves


def test_a_note_too_long_is_refused_and_a_script_in_a_note_is_shown_as_text(app, db, people,
                                                                            jam):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "1")
    response, _form = place(client, note="x" * 501)
    assert response.status_code == 400
    assert "The note can have up to 500 characters." in text(response)
    assert count(db, "orders") == 0
    response, _form = place(client, note="<script>alert(1)</script>")
    order = only_order(db)
    page = text(client.get(f"/market/orders/{order['id']}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page


def test_an_empty_basket_places_nothing(app, db, people):
    client, helper = signed_in(app, people["rosa"])
    response = client.post("/market/basket", data={
        "csrf_token": helper.token(), "order_id": models.new_id(), "action": "place"})
    assert response.status_code == 400 and count(db, "orders") == 0


# Cancelling, and the cooperative's steps.


def test_the_buyer_cancels_and_the_stock_comes_back(app, db, people, jam):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "2")
    place(client)
    order = only_order(db)
    assert "Cancel my order" in text(client.get(f"/market/orders/{order['id']}"))
    response = client.post(f"/market/orders/{order['id']}/cancel",
                           data={"csrf_token": helper.token()})
    page = text(client.get(response.location))
    assert "The order is cancelled." in page and "Cancel my order" not in page
    assert models.get_order(db, order["id"])["status"] == "cancelled"
    assert stock(db, jam) == 5
    again = client.post(f"/market/orders/{order['id']}/cancel",
                        data={"csrf_token": helper.token()})
    assert "This order is finished: it cannot be cancelled." in text(client.get(again.location))


def test_the_cooperative_confirms_marks_ready_and_collected_and_the_buyer_sees_each_step(
        app, db, clock, people, jam):
    buyer, buyer_helper = signed_in(app, people["rosa"])
    add(buyer, buyer_helper, jam, "2")
    place(buyer)
    order = only_order(db)
    seller, helper = signed_in(app, people["segundo"])
    coop_id = order["cooperative_id"]
    page = text(seller.get(f"/market/cooperatives/{coop_id}/orders"))
    assert "New: confirm or decline" in page and "Rosa Quishpe" in page

    for kind, status, buyer_sees in (("confirmed", "confirmed", "Confirmed"),
                                     ("ready", "ready", "Ready to collect"),
                                     ("collected", "collected", "Collected and paid")):
        clock.advance(minutes=2)
        data = {"amount": "5.00"} if kind == "collected" else {}
        response = step(seller, helper, order["id"], kind, **data)
        assert response.status_code == 302, text(response)
        assert models.get_order(db, order["id"])["status"] == status
        assert buyer_sees in text(buyer.get(f"/market/orders/{order['id']}"))
        if kind == "ready":  # the cash to collect, prefilled
            assert 'name="amount" type="text" inputmode="decimal" value="5.00"' in text(
                seller.get(f"/market/cooperatives/{coop_id}/orders"))
    done = models.get_order(db, order["id"])
    assert done["paid"] == 500
    page = text(buyer.get(f"/market/orders/{order['id']}"))
    assert "Paid: $5.00." in page and "Cancel my order" not in page

    events = count(db, "order_events")
    response = step(seller, helper, order["id"], "confirmed")  # a page left open meanwhile
    assert response.status_code == 400
    assert "This order is now: Collected and paid. Nothing was changed." in text(response)
    assert count(db, "order_events") == events


@pytest.mark.parametrize("amount", ["abc", "-5", "10000000000", "1.234"])
def test_a_bad_amount_paid_is_refused(app, db, people, jam, amount):
    buyer, buyer_helper = signed_in(app, people["rosa"])
    add(buyer, buyer_helper, jam, "1")
    place(buyer)
    order = only_order(db)
    seller, helper = signed_in(app, people["segundo"])
    step(seller, helper, order["id"], "confirmed")
    step(seller, helper, order["id"], "ready")
    response = step(seller, helper, order["id"], "collected", amount=amount)
    assert response.status_code == 400
    assert "Write the amount paid as a number, such as 2.50." in text(response)
    assert models.get_order(db, order["id"])["status"] == "ready"


def test_collected_with_no_amount_typed_records_the_orders_total(app, db, people, jam):
    buyer, buyer_helper = signed_in(app, people["rosa"])
    add(buyer, buyer_helper, jam, "3")
    place(buyer)
    order = only_order(db)
    seller, helper = signed_in(app, people["segundo"])
    for kind in ("confirmed", "ready", "collected"):
        assert step(seller, helper, order["id"], kind, amount="").status_code == 302
    assert models.get_order(db, order["id"])["paid"] == 750


def test_the_amount_paid_is_read_in_the_readers_language(app, db, people, jam):
    buyer, buyer_helper = signed_in(app, people["rosa"])
    add(buyer, buyer_helper, jam, "3")
    place(buyer)
    order = only_order(db)
    seller, helper = signed_in(app, people["segundo"])
    seller.post("/language", data={"lang": "es", "csrf_token": helper.token()})
    step(seller, helper, order["id"], "confirmed")
    step(seller, helper, order["id"], "ready")
    page = text(seller.get(f"/market/cooperatives/{order['cooperative_id']}/orders"))
    assert 'inputmode="decimal" value="7,50"' in page
    assert step(seller, helper, order["id"], "collected", amount="7,00").status_code == 302
    assert models.get_order(db, order["id"])["paid"] == 700


def test_a_decline_needs_a_reason_which_the_buyer_reads(app, db, people, jam):
    buyer, buyer_helper = signed_in(app, people["rosa"])
    add(buyer, buyer_helper, jam, "2")
    place(buyer)
    order = only_order(db)
    seller, helper = signed_in(app, people["segundo"])
    response = step(seller, helper, order["id"], "declined", reason="   ")
    assert response.status_code == 400
    assert "Say in a few words why (up to 200 characters)." in text(response)
    assert models.get_order(db, order["id"])["status"] == "received"
    response = step(seller, helper, order["id"], "declined",
                    reason="No blackberries this week")
    assert response.status_code == 302
    assert stock(db, jam) == 5  # given back
    page = text(buyer.get("/market/orders"))
    assert "Declined" in page and "No blackberries this week" in page
    assert "No blackberries this week" in text(buyer.get(f"/market/orders/{order['id']}"))


# Who sees what.


def test_a_villager_sees_neither_anothers_order_nor_a_cooperatives_pages(app, db, people, jam,
                                                                        coop):
    rosa, rosa_helper = signed_in(app, people["rosa"])
    add(rosa, rosa_helper, jam, "1")
    place(rosa)
    order = only_order(db)
    manuel, helper = signed_in(app, people["manuel"])
    assert manuel.get(f"/market/orders/{order['id']}").status_code == 404
    assert "Rosa" not in text(manuel.get("/market/orders"))
    assert manuel.post(f"/market/orders/{order['id']}/cancel",
                       data={"csrf_token": helper.token()}).status_code == 404
    for path in (f"/market/cooperatives/{coop}/orders", f"/market/cooperatives/{coop}/sales",
                 f"/market/cooperatives/{coop}/pick-list"):
        assert manuel.get(path).status_code == 403
    assert step(manuel, helper, order["id"], "confirmed").status_code == 403
    assert models.get_order(db, order["id"])["status"] == "received"


def test_a_member_of_another_cooperative_cannot_answer_its_orders(app, db, centre, people, jam):
    other = make_account(db, centre, role="cooperative", name="Carmen Paucar")
    theirs = models.create_cooperative(db, centre_id=centre, now=WHEN,
                                       fields={"name": "Tejidos Otavalo"})
    models.set_member(db, theirs, other["id"], centre_id=centre, active=True, now=WHEN)
    rosa, rosa_helper = signed_in(app, people["rosa"])
    add(rosa, rosa_helper, jam, "1")
    place(rosa)
    order = only_order(db)
    client, helper = signed_in(app, other)
    assert client.get(f"/market/orders/{order['id']}").status_code == 404
    assert step(client, helper, order["id"], "confirmed").status_code == 403
    assert client.get(f"/market/cooperatives/{order['cooperative_id']}/orders"
                      ).status_code == 403


def test_a_facilitator_orders_on_a_villagers_behalf(app, db, people, jam):
    client, helper = signed_in(app, people["lucia"])
    add(client, helper, jam, "2")
    form = basket_form(client)
    page = text(client.post("/market/basket", data={**form, "buyer_q": "rosa",
                                                     "action": "find"}))
    assert "Who is this order for?" in page
    rosa = people["rosa"]["id"]
    assert f'name="buyer" value="{rosa}"' in page
    response = client.post("/market/basket", data={**form, "buyer": rosa, "action": "place"})
    assert response.status_code == 302
    assert "The order for Rosa Quishpe is sent." in text(client.get(response.location))
    order = only_order(db)
    assert order["buyer_id"] == rosa and order["placed_by"] == people["lucia"]["id"]
    page = text(client.get("/market/orders"))
    assert "Orders of this centre" in page and "Rosa Quishpe" in page
    assert "Rosa Quishpe" not in text(client.get("/market/orders?q=manuel"))
    villager, _helper = signed_in(app, people["rosa"])
    assert "Mermeladas Sumak" in text(villager.get("/market/orders"))
    assert villager.get(f"/market/orders/{order['id']}").status_code == 200


def test_a_villager_cannot_order_on_someone_elses_behalf(app, db, people, jam):
    client, helper = signed_in(app, people["manuel"])
    add(client, helper, jam, "1")
    response, _form = place(client, buyer=people["rosa"]["id"])
    assert response.status_code == 400
    assert "Choose a person of this centre." in text(response)
    assert "Who is this order for?" not in text(response)
    assert count(db, "orders") == 0


def test_the_hub_has_no_basket_nor_orders(hub_app, hub_db, hub_client):
    for path in ("/market/basket", "/market/orders", "/market/orders/x"):
        assert hub_client.get(path).status_code == 404
    staff = make_account(hub_db, hub_app.config["CENTRE_ID"], role="regional", name="Patricia")
    SignIn(hub_client).password(staff["name"], PASSWORD)
    assert hub_client.get("/market/basket").status_code == 404


# The cooperative's lists.


def test_the_pick_list_shows_each_confirmed_order_and_the_quantities_to_take(
        app, db, people, jam, cheese):
    for who, quantities in (("rosa", {jam: "2", cheese: "1"}), ("manuel", {jam: "1"})):
        client, helper = signed_in(app, people[who])
        for product_id, quantity in quantities.items():
            add(client, helper, product_id, quantity)
        place(client)
    seller, helper = signed_in(app, people["segundo"])
    orders = models.orders(db, centre_id=app.config["CENTRE_ID"])
    for o in orders:
        assert step(seller, helper, o["id"], "confirmed").status_code == 302
    coop_id = orders[0]["cooperative_id"]
    page = text(seller.get(f"/market/cooperatives/{coop_id}/pick-list"
                           f"?centre={app.config['CENTRE_ID']}"))
    assert "Rosa Quishpe" in page and "Manuel Guamán" in page
    summary = page.split("Everything to take")[1].split("Each order")[0]
    assert re.search(r"Blackberry jam</bdi></td><td><strong dir=\"ltr\">3</strong> jar", summary)
    assert re.search(r"Fresh cheese</bdi></td><td><strong dir=\"ltr\">1</strong> piece", summary)
    assert "Cash to collect: $11.50" in page and "2 orders" in page


def test_sales_per_product_and_month_as_a_table_a_chart_and_a_csv(app, db, clock, people, jam,
                                                                  cheese):
    client, helper = signed_in(app, people["rosa"])
    add(client, helper, jam, "2")
    add(client, helper, cheese, "1")
    place(client)
    order = only_order(db)
    seller, seller_helper = signed_in(app, people["segundo"])
    for kind in ("confirmed", "ready", "collected"):
        step(seller, seller_helper, order["id"], kind, amount="9.00")
    coop_id = order["cooperative_id"]
    page = text(seller.get(f"/market/cooperatives/{coop_id}/sales"))
    assert "<svg" in page and "$9.00" in page and "November 2026" in page
    response = seller.get(f"/market/cooperatives/{coop_id}/sales?format=csv")
    assert response.mimetype == "text/csv"
    assert "mermeladas-sumak-sales.csv" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows == [["Product", "Month", "Quantity", "Amount"],
                    ["Blackberry jam", "2026-11", "2", "5.00"],
                    ["Fresh cheese", "2026-11", "1", "4.00"]]
