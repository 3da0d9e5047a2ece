"""A cooperative's own pages (issue 17): who may keep which cooperative and product, creating and
changing them, members, photos, withdrawing; and every bad input answered with a message while
the database stays exactly as it was."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kiosk.market import models

from .conftest import SignIn, csrf_from
from .factories import PIN, WHEN, make_account, received

MARKET_TABLES = ("cooperatives", "cooperative_members", "products", "product_texts",
                 "product_photos", "stock_moves")


def jpeg(colour=(200, 120, 40), size=(400, 300)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def snapshot(db) -> dict:
    return {t: db.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in MARKET_TABLES}


def blobs(app) -> int:
    root = Path(app.config["DATA_DIR"]) / "media"
    return sum(1 for p in root.rglob("*") if p.is_file() and "thumbs" not in p.parts)


def text(response) -> str:
    return response.get_data(as_text=True)


def signed_in(app, account):
    client = app.test_client()
    assert SignIn(client).pin(account, PIN).status_code == 302
    return client


def post(client, path, data, **files):
    """Send the page's form as the browser does (multipart, with the page's CSRF token)."""
    page = client.get(path)
    assert page.status_code == 200, text(page)
    form = {"csrf_token": csrf_from(page), **data}
    for field, contents in files.items():
        form[field] = [(io.BytesIO(body), name) for name, body in contents]
    return client.post(path, data=form, content_type="multipart/form-data")


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def people(db, centre) -> dict:
    return {role: make_account(db, centre, role=role, name=name) for role, name in (
        ("facilitator", "Lucía Andrango"), ("cooperative", "Rosa Quishpe"),
        ("villager", "Manuel Guamán"))}


@pytest.fixture
def coops(db, centre, people) -> dict:
    """Two cooperatives of this centre, Rosa a member of the first, each with one product."""
    made = {}
    for key, name in (("a", "Mermeladas Sumak"), ("b", "Tejidos Pakcha")):
        coop_id = models.create_cooperative(db, centre_id=centre, fields={"name": name},
                                            now=WHEN)
        product_id = models.save_product(
            db, centre_id=centre, coop_id=coop_id, languages=("en", "es"), now=WHEN,
            by_id=None, fields={"texts": {"en": {"name": f"{name} product"}},
                                "category": "food", "unit": "jar", "price": "2.50",
                                "stock": "10"})
        made[key], made[f"{key}_product"] = coop_id, product_id
    models.set_member(db, made["a"], people["cooperative"]["id"], centre_id=centre,
                      active=True, now=WHEN)
    return made


@pytest.fixture
def rosa(app, people):
    return signed_in(app, people["cooperative"])


@pytest.fixture
def lucia(app, people):
    return signed_in(app, people["facilitator"])


GOOD = {"name_en": "Blackberry jam", "description_en": "From the hills", "category": "food",
        "unit": "jar", "price": "3.75", "stock": "12", "active": "1"}


# Who may do what.


def test_a_villager_may_keep_nothing(app, people, coops):
    client = signed_in(app, people["villager"])
    for path in ("/market/mine", "/market/cooperatives/new",
                 f"/market/cooperatives/{coops['a']}/edit",
                 f"/market/cooperatives/{coops['a']}/products/new",
                 f"/market/products/{coops['a_product']}/edit"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "You cannot open this page" in text(response)


def test_signed_out_people_are_sent_to_sign_in(client, coops):
    response = client.get("/market/mine")
    assert response.status_code == 302 and "/auth/signin" in response.location


def test_a_member_keeps_only_their_own_cooperative(app, db, rosa, coops):
    page = text(rosa.get("/market/mine"))
    assert "Mermeladas Sumak" in page and "Tejidos Pakcha" not in page
    assert "New cooperative" not in page  # only facilitators add cooperatives
    assert "/market/cooperatives/new" not in page
    before = snapshot(db)
    for path in (f"/market/cooperatives/{coops['b']}/edit",
                 f"/market/cooperatives/{coops['b']}/products/new",
                 f"/market/products/{coops['b_product']}/edit"):
        assert rosa.get(path).status_code == 403, path
        token = csrf_from(rosa.get("/market/mine"))
        response = rosa.post(path, data={**GOOD, "name": "Taken", "csrf_token": token})
        assert response.status_code == 403, path
    assert rosa.get("/market/cooperatives/new").status_code == 403
    assert snapshot(db) == before
    # Her own: she may.
    assert rosa.get(f"/market/products/{coops['a_product']}/edit").status_code == 200
    assert rosa.get(f"/market/cooperatives/{coops['a']}/edit").status_code == 200


def test_a_facilitator_keeps_every_cooperative_of_the_centre(app, db, lucia, coops):
    page = text(lucia.get("/market/mine"))
    assert "Mermeladas Sumak" in page and "Tejidos Pakcha" in page
    assert "New cooperative" in page
    assert "Mermeladas Sumak product" in page and "$2.50" in page
    response = post(lucia, f"/market/products/{coops['b_product']}/edit",
                    {**GOOD, "stock": "10", "stock_was": "10"})
    assert response.status_code == 302
    assert models.texts_of(db, coops["b_product"])["en"]["name"] == "Blackberry jam"


def test_a_product_of_another_centre_is_refused(app, db, lucia):
    other = "another-centre"
    with received(db, other):
        coop_id = models.create_cooperative(db, centre_id=other, fields={"name": "Lejos"},
                                            now=WHEN)
        db.execute("INSERT INTO products (id, centre_id, cooperative_id, price) "
                   "VALUES ('far-product', ?, ?, 100)", [other, coop_id])
    assert lucia.get("/market/products/far-product/edit").status_code == 403
    assert lucia.get(f"/market/cooperatives/{coop_id}/edit").status_code == 403
    assert "Lejos" not in text(lucia.get("/market/mine"))
    assert lucia.get("/market/products/no-such-product/edit").status_code == 404


def test_nobody_keeps_a_cooperative_at_the_hub(hub_client):
    for path in ("/market/mine", "/market/cooperatives/new", "/market/products/x/edit",
                 "/market/cooperatives/x/products/new", "/market/cooperatives/x/edit"):
        assert hub_client.get(path).status_code == 404, path


# Creating and changing products.


def test_a_member_adds_a_product_with_photos_texts_in_two_languages_and_a_count(
        app, db, rosa, coops):
    response = post(rosa, f"/market/cooperatives/{coops['a']}/products/new",
                    {**GOOD, "name_es": "Mermelada de mora", "description_es": ""},
                    photos=[("one.jpg", jpeg()), ("two.png", jpeg((10, 90, 200)))])
    assert response.status_code == 302, text(response)
    row = db.execute("SELECT * FROM products WHERE cooperative_id = ? AND id != ?",
                     [coops["a"], coops["a_product"]]).fetchone()
    product = models.get_product(db, row[0], ("en",))
    assert (product["price"], product["stock"], product["unit"], product["active"]) == \
        (375, 12, "jar", 1)
    assert {k: v["name"] for k, v in models.texts_of(db, product["id"]).items()} == \
        {"en": "Blackberry jam", "es": "Mermelada de mora"}
    assert len(product["photos"]) == 2 and product["photo"] == product["photos"][0]["photo"]
    assert db.execute("SELECT quantity, reason FROM stock_moves WHERE product_id = ?",
                      [product["id"]]).fetchall() == [(12, "count")]
    page = text(rosa.get(response.location))
    assert "Saved: Blackberry jam." in page and "/media/" in page


def test_a_price_is_typed_as_the_page_language_writes_numbers(app, db, centre, coops):
    ana = make_account(db, centre, role="cooperative", name="Ana", lang="es")
    models.set_member(db, coops["a"], ana["id"], centre_id=centre, active=True, now=WHEN)
    client = signed_in(app, ana)
    page = text(client.get(f"/market/products/{coops['a_product']}/edit"))
    assert 'value="2,50"' in page  # shown as a Spanish reader writes it
    response = post(client, f"/market/products/{coops['a_product']}/edit",
                    {"name_es": "Mermelada", "category": "food", "unit": "jar",
                     "price": "1.234,5", "stock": "10", "stock_was": "10", "active": "1"})
    assert response.status_code == 302, text(response)
    assert models.get_product_row(db, coops["a_product"])["price"] == 123450


def test_an_unchanged_count_leaves_the_stock_orders_took_alone(app, db, rosa, coops, centre):
    path = f"/market/products/{coops['a_product']}/edit"
    page = rosa.get(path)
    # While the form is open, an order takes 3 jars.
    models.move_stock(db, coops["a_product"], -3, reason="order", centre_id=centre, now=WHEN)
    data = {**GOOD, "stock": "10", "stock_was": "10", "price": "4.00",
            "csrf_token": csrf_from(page)}
    assert rosa.post(path, data=data, content_type="multipart/form-data").status_code == 302
    assert models.get_product_row(db, coops["a_product"])["stock"] == 7
    assert models.get_product_row(db, coops["a_product"])["price"] == 400
    # A new count is written as one movement of the difference.
    assert post(rosa, path, {**GOOD, "stock": "20", "stock_was": "7"}).status_code == 302
    assert models.get_product_row(db, coops["a_product"])["stock"] == 20
    assert db.execute("SELECT quantity FROM stock_moves WHERE product_id = ? ORDER BY at, id",
                      [coops["a_product"]]).fetchall()[-1] == (13,)


def test_withdrawing_and_returning_a_product(app, db, rosa, coops):
    path = f"/market/products/{coops['a_product']}/edit"
    assert post(rosa, path, {**GOOD, "active": "0", "stock_was": "12"}).status_code == 302
    assert models.get_product_row(db, coops["a_product"])["active"] == 0
    page = text(rosa.get("/market/mine"))
    assert "Withdrawn" in page
    assert 'value="0" checked' in text(rosa.get(path))
    assert post(rosa, path, {**GOOD, "active": "1", "stock_was": "12"}).status_code == 302
    assert models.get_product_row(db, coops["a_product"])["active"] == 1


def test_a_script_in_a_description_is_kept_as_text_and_shown_escaped(app, db, rosa, coops):
    script = "<script>alert('x')</script> & <b>bold</b>"
    path = f"/market/products/{coops['a_product']}/edit"
    assert post(rosa, path, {**GOOD, "description_en": script,
                             "stock_was": "10", "stock": "10"}).status_code == 302
    assert models.texts_of(db, coops["a_product"])["en"]["description"] == script
    page = text(rosa.get(path))
    assert script not in page and "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page


def test_photos_are_added_up_to_the_limit_and_removed_one_at_a_time(app, db, rosa, coops):
    path = f"/market/products/{coops['a_product']}/edit"
    base = {**GOOD, "stock": "10", "stock_was": "10"}
    shades = [jpeg((30 * n, 100, 100)) for n in range(models.MAX_PHOTOS + 1)]
    stored = blobs(app)
    assert post(rosa, path, base, photos=[(f"{n}.jpg", s) for n, s in
                                          enumerate(shades[:2])]).status_code == 302
    assert blobs(app) == stored + 2
    product = models.get_product(db, coops["a_product"], ("en",))
    first, second = product["photos"]
    # One more than the limit: refused whole.
    before = snapshot(db)
    response = post(rosa, path, base, photos=[(f"{n}.jpg", s) for n, s in
                                              enumerate(shades[2:], 2)])
    assert response.status_code == 400
    assert "A product can have up to 6 photos." in text(response)
    assert snapshot(db) == before
    # Removing the first makes the second the one lists show.
    page = rosa.get(path)
    response = rosa.post(f"/market/products/{coops['a_product']}/photos/{first['id']}/remove",
                         data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert "The photo was removed. 1 photo is left." in text(rosa.get(response.location))
    product = models.get_product(db, coops["a_product"], ("en",))
    assert [p["id"] for p in product["photos"]] == [second["id"]]
    assert product["photo"] == second["photo"]
    # A photo of another product, through this one's address: not found, nothing changes.
    models.add_photos(db, coops["b_product"], [first["photo"]], centre_id=app.config[
        "CENTRE_ID"])
    theirs = models.get_product(db, coops["b_product"], ("en",))["photos"][0]["id"]
    before = snapshot(db)
    response = rosa.post(f"/market/products/{coops['a_product']}/photos/{theirs}/remove",
                         data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404 and snapshot(db) == before
    response = rosa.post(f"/market/products/{coops['b_product']}/photos/{theirs}/remove",
                         data={"csrf_token": csrf_from(page)})
    assert response.status_code == 403 and snapshot(db) == before


# Bad input: a message in the page, what was typed kept, nothing written.

NAME_MESSAGE = "Give the product a name of 1 to 80 characters."
PRICE_MESSAGE = "Write the price as a number from 0 to 1,000,000, such as 2.50."
STOCK_MESSAGE = "Write how many you have as a whole number from 0 to 1,000,000."
PHOTO_MESSAGE = "This file is not a photo we can read."


@pytest.mark.parametrize("change, photos, message, kept", [
    ({"name_en": "", "description_en": ""}, [], NAME_MESSAGE, None),
    ({"name_en": ""}, [], "Give the product a name in this language too.", "From the hills"),
    ({"name_en": "J" * 81}, [], NAME_MESSAGE, "J" * 81),
    ({"price": "-1"}, [], PRICE_MESSAGE, 'value="-1"'),
    ({"price": "abc"}, [], PRICE_MESSAGE, 'value="abc"'),
    ({"price": "1000000000000000"}, [], PRICE_MESSAGE, 'value="1000000000000000"'),
    ({"stock": "-3"}, [], STOCK_MESSAGE, 'value="-3"'),
    ({"stock": "many"}, [], STOCK_MESSAGE, 'value="many"'),
    ({"category": "weapons"}, [], "Choose one of the categories of the list.", None),
    ({}, [("notes.jpg", b"just some text, not a photo")], "notes.jpg: " + PHOTO_MESSAGE,
     'value="Blackberry jam"'),
    ({"price": "abc"}, [("good.jpg", jpeg())], PRICE_MESSAGE,
     "The photos you chose were not kept: choose them again."),
], ids=["empty-name", "description-without-name", "81-char-name", "negative-price",
        "price-abc", "price-10e15", "negative-stock", "stock-words", "unknown-category",
        "text-as-photo",
        "good-photo-bad-price"])
@pytest.mark.parametrize("where", ["new", "edit"])
def test_bad_product_input_changes_nothing(app, db, rosa, coops, where, change, photos,
                                           message, kept):
    path = (f"/market/cooperatives/{coops['a']}/products/new" if where == "new"
            else f"/market/products/{coops['a_product']}/edit")
    before, stored = snapshot(db), blobs(app)
    response = post(rosa, path, {**GOOD, "stock_was": "10", **change},
                    photos=photos)
    page = text(response)
    assert response.status_code == 400
    assert message in page and 'class="field-error"' in page
    assert "Nothing was saved." in page
    if kept:
        assert kept in page
    assert snapshot(db) == before
    assert blobs(app) == stored  # not even the good photo was kept


def test_a_photo_too_big_to_send_changes_nothing(app, db, rosa, coops):
    path = f"/market/products/{coops['a_product']}/edit"
    before = snapshot(db)
    huge = b"\xff\xd8\xff" + b"\0" * (17 * 1024 * 1024)
    response = post(rosa, path, GOOD, photos=[("huge.jpg", huge)])
    assert response.status_code == 413
    assert "The photos are too big" in text(response)
    assert snapshot(db) == before


def test_a_photo_of_too_many_pixels_is_refused(app, db, rosa, coops):
    from PIL import Image

    out = io.BytesIO()
    Image.new("P", (7000, 7000)).save(out, format="PNG")
    before = snapshot(db)
    response = post(rosa, f"/market/products/{coops['a_product']}/edit",
                    {**GOOD, "stock_was": "10"}, photos=[("map.png", out.getvalue())])
    assert response.status_code == 400 and "This photo is too large to use." in text(response)
    assert snapshot(db) == before


def test_letters_that_are_not_utf8_change_nothing(app, db, rosa, coops):
    path = f"/market/products/{coops['a_product']}/edit"
    token = csrf_from(rosa.get(path))
    before = snapshot(db)
    # A file form: the field arrives damaged, and is named.
    boundary = "XyZ"
    parts = [(k, v.encode()) for k, v in {**GOOD, "csrf_token": token}.items()
             if k != "name_en"] + [("name_en", b"Mermelada \xff\xfe")]
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                    .encode() + v + b"\r\n" for k, v in parts) + f"--{boundary}--\r\n".encode()
    response = rosa.post(path, data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 400
    assert "Some letters arrived damaged. Please type them again." in text(response)
    # A plain form: refused whole.
    response = rosa.post(path, data=f"csrf_token={token}&name_en=Mermelada%FF&price=2",
                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "Some letters arrived damaged" in text(response)
    assert snapshot(db) == before


def test_a_form_without_its_csrf_token_changes_nothing(app, db, rosa, coops):
    before = snapshot(db)
    for path in (f"/market/products/{coops['a_product']}/edit",
                 f"/market/cooperatives/{coops['a']}/products/new",
                 f"/market/cooperatives/{coops['a']}/edit"):
        response = rosa.post(path, data={**GOOD, "name": "Forged"},
                             content_type="multipart/form-data")
        assert response.status_code == 400 and "This page has expired" in text(response)
    assert snapshot(db) == before


# Cooperatives and their members.


def test_a_facilitator_creates_a_cooperative_with_a_photo(app, db, lucia, centre):
    response = post(lucia, "/market/cooperatives/new",
                    {"name": "Quesos Chimborazo", "village": "Guamote",
                     "contact": "099 123 4567", "description": "<i>Queso</i> fresco"},
                    photo=[("coop.jpg", jpeg())])
    assert response.status_code == 302, text(response)
    coop = models.find_cooperative(db, "quesos chimborazo", centre_id=centre)
    assert (coop["village"], coop["contact"], coop["description"]) == \
        ("Guamote", "099 123 4567", "<i>Queso</i> fresco")
    assert coop["photo"]
    page = text(lucia.get(response.location))
    assert "Now add its members and its products." in page
    assert "&lt;i&gt;Queso&lt;/i&gt; fresco" in page


@pytest.mark.parametrize("change, photo, message", [
    ({"name": ""}, [], "Give the cooperative a name of 1 to 80 characters."),
    ({"name": "Q" * 81}, [], "Give the cooperative a name of 1 to 80 characters."),
    ({"village": "V" * 81}, [], "The village can have up to 80 characters."),
    ({}, [("coop.jpg", b"<html>not a photo</html>")], PHOTO_MESSAGE),
    ({"name": ""}, [("coop.jpg", jpeg())], "Give the cooperative a name"),
])
def test_bad_cooperative_input_changes_nothing(app, db, lucia, coops, change, photo,
                                               message):
    data = {"name": "Quesos", "village": "Guamote", **change}
    for path in ("/market/cooperatives/new", f"/market/cooperatives/{coops['a']}/edit"):
        before, stored = snapshot(db), blobs(app)
        response = post(lucia, path, data, photo=photo)
        assert response.status_code == 400 and message in text(response), path
        assert f'value="{data["village"]}"' in text(response)
        assert snapshot(db) == before and blobs(app) == stored


def test_a_member_changes_the_profile_and_only_changed_fields_are_written(app, db, rosa,
                                                                          coops, clock):
    path = f"/market/cooperatives/{coops['a']}/edit"
    same = {k: models.get_cooperative(db, coops["a"])[k] for k in
            ("name", "village", "description", "contact")}
    before = snapshot(db)
    assert post(rosa, path, same).status_code == 302
    assert snapshot(db) == before  # nothing changed: nothing written
    clock.advance(seconds=30)
    assert post(rosa, path, {**same, "village": "Cacha"}).status_code == 302
    coop = models.get_cooperative(db, coops["a"])
    assert coop["village"] == "Cacha" and coop["updated_at"] > coop["created_at"]


def test_a_facilitator_adds_and_takes_out_members(app, db, lucia, rosa, coops, centre,
                                                  people):
    pedro = make_account(db, centre, role="cooperative", name="Pedro Yupanqui")
    path = f"/market/cooperatives/{coops['a']}/edit"
    page = text(lucia.get(path))
    assert '<option value="%s">Pedro Yupanqui</option>' % pedro["id"] in page
    assert people["villager"]["id"] not in page  # only the cooperative role is offered
    assert f'value="{people["cooperative"]["id"]}">Rosa' not in page  # already a member
    token = csrf_from(lucia.get(path))
    members_path = f"/market/cooperatives/{coops['a']}/members"
    response = lucia.post(members_path, data={"account": pedro["id"], "action": "add",
                                              "csrf_token": token})
    assert response.status_code == 302
    assert "Pedro Yupanqui is now a member of Mermeladas Sumak." in \
        text(lucia.get(response.location))
    assert coops["a"] in models.member_of(db, pedro["id"])
    # A villager cannot be added; nothing changes.
    before = snapshot(db)
    response = lucia.post(members_path, data={"account": people["villager"]["id"],
                                              "action": "add", "csrf_token": token})
    assert response.status_code == 400
    assert "Choose a person of this centre with the cooperative role." in text(response)
    assert snapshot(db) == before
    # A member may not add or take out members.
    response = rosa.post(members_path, data={"account": pedro["id"], "action": "remove",
                                             "csrf_token": csrf_from(rosa.get(path))})
    assert response.status_code == 403 and snapshot(db) == before
    response = lucia.post(members_path, data={"account": pedro["id"], "action": "remove",
                                              "csrf_token": token})
    assert response.status_code == 302
    assert "Pedro Yupanqui is no longer a member of Mermeladas Sumak." in \
        text(lucia.get(response.location))
    assert coops["a"] not in models.member_of(db, pedro["id"])
    # Once out, Pedro cannot keep it.
    assert signed_in(app, pedro).get(f"/market/products/{coops['a_product']}/edit"
                                     ).status_code == 403
