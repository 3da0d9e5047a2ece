"""Browsing the market (issue 17): the catalogue by category, cooperative and centre, a search
that ignores accents and case, a product's and a cooperative's pages, the printable price
list, prices in the region's currency in the reader's language, and the hub's read-only
copy of the same pages."""

from __future__ import annotations

import io
import re

import pytest

from kiosk.market import models

from .conftest import SignIn
from .factories import PIN, make_account, make_centre, make_cooperative, make_product


@pytest.fixture
def centre(app) -> str:
    return app.config["CENTRE_ID"]


@pytest.fixture
def coop(db, centre) -> dict:
    return make_cooperative(db, centre, name="Mermeladas Peguche", village="Peguche",
                            description="Frutas del valle", contact="098 123 4567")


@pytest.fixture
def other_centre(db) -> str:
    return make_centre(db, "Centro Cotacachi")


@pytest.fixture
def far_coop(db, other_centre) -> dict:
    return make_cooperative(db, other_centre, name="Tejidos Cotacachi", village="Cotacachi")


def choose(client, lang: str) -> None:
    client.post("/language", data={"lang": lang, "csrf_token": SignIn(client).token()})


def text(response) -> str:
    return response.get_data(as_text=True)


def names_on(page: str) -> list[str]:
    return re.findall(r'<span class="market-name" dir="auto">([^<]*)</span>', page)


def photo(colour=(180, 60, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), colour).save(out, "JPEG")
    return out.getvalue()


def test_the_catalogue_shows_each_product_with_its_price_unit_cooperative_and_village(
        client, db, coop):
    make_product(db, coop, names={"en": "Blackberry jam", "es": "Mermelada de mora"},
                 price=350, unit="jar", stock=4)
    page = text(client.get("/market"))
    assert names_on(page) == ["Blackberry jam"]
    assert "$3.50" in page and "/&nbsp;jar" in page
    assert "Mermeladas Peguche" in page and "Peguche" in page
    assert "Sold out" not in page


def test_a_product_with_no_stock_says_sold_out(client, db, coop):
    make_product(db, coop, names={"en": "Honey"}, stock=0)
    assert "Sold out" in text(client.get("/market"))


def test_names_come_in_the_readers_language_and_else_in_another(client, db, coop):
    make_product(db, coop, names={"en": "Cheese", "es": "Queso"})
    make_product(db, coop, names={"es": "Chicha"})
    assert sorted(names_on(text(client.get("/market")))) == ["Cheese", "Chicha"]
    choose(client, "es")
    assert sorted(names_on(text(client.get("/market")))) == ["Chicha", "Queso"]


def test_withdrawn_products_are_not_listed(client, db, coop):
    make_product(db, coop, names={"en": "Old soap"}, active=False)
    make_product(db, coop, names={"en": "New soap"})
    assert names_on(text(client.get("/market"))) == ["New soap"]


def test_categories_are_buttons_with_their_counts_and_filter(client, db, coop):
    make_product(db, coop, names={"en": "Poncho"}, category="textiles")
    make_product(db, coop, names={"en": "Scarf"}, category="textiles")
    make_product(db, coop, names={"en": "Jam"}, category="food")
    page = text(client.get("/market"))
    assert re.search(r"Weaving and clothes <span class=\"market-count\">2</span>", page)
    assert re.search(r"Food <span class=\"market-count\">1</span>", page)
    assert "Soap and remedies" not in page  # a category with nothing is not offered
    assert sorted(names_on(text(client.get("/market?category=textiles")))) == [
        "Poncho", "Scarf"]
    assert names_on(text(client.get("/market?category=food"))) == ["Jam"]
    # an unknown category is ignored rather than an error
    assert len(names_on(text(client.get("/market?category=nonsense")))) == 3


@pytest.mark.parametrize("typed, found", [
    ("cafe", ["Café de altura", "cafe tostado"]),
    ("CAFÉ", ["Café de altura", "cafe tostado"]),
    ("Cafe", ["Café de altura", "cafe tostado"]),
    ("caf", ["Café de altura", "cafe tostado"]),
    ("altura", ["Café de altura"]),
    ("miel", []),
])
def test_search_ignores_accents_and_case(client, db, coop, typed, found):
    make_product(db, coop, names={"en": "Café de altura"})
    make_product(db, coop, names={"en": "cafe tostado"})
    make_product(db, coop, names={"en": "Queso"})
    page = text(client.get("/market", query_string={"q": typed}))
    assert sorted(names_on(page)) == sorted(found)
    if not found:
        assert "Nothing found" in page


def test_search_reads_descriptions_and_keeps_the_words_in_the_box(client, db, coop):
    make_product(db, coop, names={"en": "Jar of honey"},
                 descriptions={"en": "From the bees of Ilumán"})
    page = text(client.get("/market?q=iluman"))
    assert names_on(page) == ["Jar of honey"]
    assert 'value="iluman"' in page


def test_a_search_of_only_signs_finds_nothing_and_does_not_fail(client, db, coop):
    make_product(db, coop, names={"en": "Jam"})
    response = client.get("/market", query_string={"q": '"*() OR NEAR'})
    assert response.status_code == 200


def test_filter_by_cooperative_and_by_centre(client, db, coop, far_coop):
    make_product(db, coop, names={"en": "Jam"})
    make_product(db, far_coop, names={"en": "Poncho"})
    page = text(client.get("/market"))
    assert sorted(names_on(page)) == ["Jam", "Poncho"]
    assert "Centro Cotacachi" in page  # both centres are offered as a filter
    assert names_on(text(client.get(f"/market?cooperative={far_coop['id']}"))) == ["Poncho"]
    assert names_on(text(client.get(f"/market?centre={coop['centre_id']}"))) == ["Jam"]
    assert names_on(text(client.get(f"/market?centre={far_coop['centre_id']}&q=jam"))) == []


def test_the_catalogue_has_pages_of_24(client, db, coop):
    for n in range(30):
        make_product(db, coop, names={"en": f"Thing {n:02}"})
    first = text(client.get("/market"))
    second = text(client.get("/market?page=2"))
    assert len(names_on(first)) == 24 and len(names_on(second)) == 6
    assert not set(names_on(first)) & set(names_on(second))
    assert "Page 1 of 2" in first and 'rel="next"' in first
    for page in ("0", "x", "²", "9" * 40):
        assert client.get("/market", query_string={"page": page}).status_code == 200


def test_a_product_page_shows_everything_and_its_photos(app, client, db, coop):
    with app.app_context():
        from kiosk.media import add_photo

        shas = [add_photo(photo()), add_photo(photo((20, 120, 40)))]
    product_id = make_product(db, coop, names={"en": "Blackberry jam"}, price=350,
                              stock=7, unit="jar", category="food", photos=shas,
                              descriptions={"en": "Made with\nwild berries"})
    page = text(client.get(f"/market/products/{product_id}"))
    assert "Blackberry jam" in page and "$3.50" in page and "/&nbsp;jar" in page
    assert "7 left" in page and "Food" in page and "Peguche" in page
    assert f'/market/cooperatives/{coop["id"]}' in page
    assert f"/media/{shas[0]}/800" in page and f"/media/{shas[1]}/160" in page
    assert "wild berries" in page
    # a list shows thumbnails only, lazily, with their size set
    listing = text(client.get("/market"))
    assert f"/media/{shas[0]}/160" in listing and f'/media/{shas[0]}"' not in listing
    assert 'loading="lazy"' in listing and 'width="160" height="160"' in listing


def test_an_unknown_product_or_cooperative_is_a_404_page(client):
    for path in ("/market/products/nope", "/market/cooperatives/nope",
                 "/market/price-list?cooperative=nope", "/market/price-list?centre=nope"):
        response = client.get(path)
        assert response.status_code == 404
        assert "<!doctype html>" in text(response)


def test_script_in_a_description_shows_as_text(client, db, coop):
    product_id = make_product(db, coop, names={"en": "<b>Jam</b>"},
                              descriptions={"en": "<script>alert('x')</script>"})
    page = text(client.get(f"/market/products/{product_id}"))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<b>Jam</b>" not in text(client.get("/market"))


@pytest.mark.parametrize("lang, price", [("es", "$3,50"), ("ar", "3.50\xa0US$")])
def test_prices_are_in_the_region_currency_in_the_readers_language(client, db, coop, lang,
                                                                  price):
    product_id = make_product(db, coop, names={"en": "Jam"}, price=350)
    choose(client, lang)
    for path in ("/market", f"/market/products/{product_id}",
                 f"/market/price-list?cooperative={coop['id']}"):
        page = text(client.get(path))
        assert price in page, path


def test_prices_follow_the_currency_the_hub_gave(app, client, db, coop):
    from kiosk.admin.models import region_setting

    make_product(db, coop, names={"en": "Jam"}, price=350)
    with app.app_context():
        assert models.currency(db, app.config["CURRENCY"]) == "USD"
    assert region_setting(db, "currency", "USD") == "USD"
    assert "$3.50" in text(client.get("/market"))


def test_the_cooperatives_list_and_a_cooperatives_page(client, db, coop, far_coop):
    make_product(db, coop, names={"en": "Jam"})
    make_product(db, coop, names={"en": "Honey"})
    listing = text(client.get("/market/cooperatives"))
    assert listing.index("Mermeladas Peguche") < listing.index("Tejidos Cotacachi")
    assert "2 products" in listing and "0 products" in listing
    assert "Centro Cotacachi" in listing
    page = text(client.get(f"/market/cooperatives/{coop['id']}"))
    assert "Frutas del valle" in page and "098 123 4567" in page and "Peguche" in page
    assert sorted(names_on(page)) == ["Honey", "Jam"]
    assert f"/market/price-list?cooperative={coop['id']}" in page


def test_the_price_list_of_a_cooperative_and_of_a_centre(client, db, coop, far_coop):
    for n in range(50):
        make_product(db, coop, names={"en": f"Jam {n:02}"}, price=100 + n)
    make_product(db, far_coop, names={"en": "Poncho"}, price=4500, unit="piece")
    page = text(client.get(f"/market/price-list?cooperative={coop['id']}"))
    assert names_on(page) == [f"Jam {n:02}" for n in range(50)]  # every one, by name
    assert "$1.49" in page and "Poncho" not in page
    assert "data-print" in page and "#print" in page
    of_centre = text(client.get(f"/market/price-list?centre={far_coop['centre_id']}"))
    assert names_on(of_centre) == ["Poncho"] and "$45.00" in of_centre
    chooser = text(client.get("/market/price-list"))
    assert f"cooperative={coop['id']}" in chooser and f"centre={far_coop['centre_id']}" in chooser


def test_links_follow_what_the_person_may_do(app, client, db, centre, coop):
    page = text(client.get("/market"))
    assert "/market/cooperatives" in page
    villager = make_account(db, centre, name="Rosa Pilataxi")
    signed = app.test_client()
    assert SignIn(signed).pin(villager, PIN).status_code == 302
    page = text(signed.get("/market"))
    have = app.view_functions
    assert ("/market/basket" in page) == ("market.basket" in have)
    assert "/market/mine" not in page


def test_the_edit_link_is_for_those_who_may_keep_the_cooperative(app, db, centre, coop):
    product_id = make_product(db, coop, names={"en": "Jam"})
    facilitator = make_account(db, centre, role="facilitator", name="Lucía Andrango")
    villager = make_account(db, centre, name="Rosa Pilataxi")
    edit = f"/market/products/{product_id}/edit"
    for person, sees in ((facilitator, "market.product_edit" in app.view_functions),
                         (villager, False)):
        signed = app.test_client()
        assert SignIn(signed).pin(person, PIN).status_code == 302
        assert (edit in text(signed.get(f"/market/products/{product_id}"))) == sees


def test_the_hub_shows_every_product_of_the_region_read_only(hub_app, hub_client, hub_db):
    far = make_centre(hub_db, "Centro Cotacachi")
    coop = make_cooperative(hub_db, far, name="Tejidos Cotacachi")
    product_id = make_product(hub_db, coop, names={"en": "Poncho"})
    assert names_on(text(hub_client.get("/market"))) == ["Poncho"]
    page = text(hub_client.get(f"/market/products/{product_id}"))
    assert "Poncho" in page and "/edit" not in page and "/market/basket" not in page
