"""``infocentre market ...``: importing a cooperative's products from a spreadsheet (checked
whole, refused whole), the products and orders as JSON, adding a cooperative, and the market's
demo (at a centre, twice; at the hub)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from kiosk.data import open_db

from .factories import count

MARKET_TABLES = ("cooperatives", "cooperative_members", "products", "product_texts",
                 "product_photos", "stock_moves", "orders", "order_lines", "order_events")


def photo(path, colour=(200, 40, 40), kind="JPEG"):
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, kind)
    path.write_bytes(out.getvalue())


def counts(db) -> dict[str, int]:
    return {table: count(db, table) for table in MARKET_TABLES}


def blobs(data_dir) -> set[str]:
    media = data_dir / "media"
    return {p.name for p in media.rglob("*") if p.is_file() and "thumbs" not in p.parts} \
        if media.exists() else set()


@pytest.fixture
def coop(data_dir, run_cli):
    result = run_cli(data_dir, "market", "cooperative", "add", "Mermeladas Sumak Mishki",
                     "--village", "San Pablo del Lago")
    assert result.exit_code == 0, result.output
    return "Mermeladas Sumak Mishki"


@pytest.fixture
def mdb(data_dir, coop):
    database = open_db(data_dir / "infocentre.db")
    yield database
    database.close()


GOOD = ("code;name;name_qu_EC;description;category;unit;price;stock;active;photos\n"
        "MORA;Mermelada de mora;Mora mishki;Frasco de 300 g;food;jar;2,50;24;yes;"
        "mora.jpg|mora2.png\n"
        "MIEL;Miel de abeja;Abejapak mishki;<script>alert(1)</script>;food;bottle;6.00;10;;\n"
        "VIEJA;Mermelada vieja;;;food;jar;3;0;no;\n")


def write_good(tmp_path, text=GOOD, *, bom=True, name="products.csv"):
    folder = tmp_path / "sheet"
    folder.mkdir(exist_ok=True)
    photo(folder / "mora.jpg")
    photo(folder / "mora2.png", (90, 20, 60), "PNG")
    path = folder / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_a_spreadsheet_with_semicolons_a_bom_kichwa_names_and_photos_is_imported(
        data_dir, run_cli, coop, mdb, tmp_path):
    path = write_good(tmp_path)
    result = run_cli(data_dir, "market", "import", path, "--cooperative", "mermeladas sumak "
                     "MISHKI")  # the name as typed: case and spaces do not matter
    assert result.exit_code == 0, result.output + result.stderr
    assert "Mermeladas Sumak Mishki: 3 added, 0 updated, 0 unchanged." in result.output
    listed = json.loads(run_cli(data_dir, "market", "products", "--json").output)
    centre = json.loads((data_dir / "config.json").read_text())["centre_id"]
    by_name = {p["name"]: p for p in listed}
    assert set(by_name) == {"Mermelada de mora", "Miel de abeja", "Mermelada vieja"}
    assert all(set(p) == {"id", "name", "cooperative", "centre", "price", "currency", "unit",
                          "stock", "active"} for p in listed)
    mora = by_name["Mermelada de mora"]
    assert mora == {"id": mora["id"], "name": "Mermelada de mora",
                    "cooperative": "Mermeladas Sumak Mishki", "centre": centre, "price": 250,
                    "currency": "USD", "unit": "jar", "stock": 24, "active": True}
    assert by_name["Mermelada vieja"]["active"] is False
    assert by_name["Miel de abeja"]["active"] is True  # empty: yes
    [(code, name)] = mdb.execute("SELECT p.code, t.name FROM products p JOIN product_texts t "
                                 "ON t.product_id = p.id WHERE t.lang = 'qu_EC' AND "
                                 "p.code = 'MORA'").fetchall()
    assert name == "Mora mishki"
    # The script is text like any other (pages escape it).
    assert mdb.execute("SELECT description FROM product_texts WHERE description LIKE "
                       "'%script%'").fetchone()[0] == "<script>alert(1)</script>"
    # Two photos, shrunk and stored once each; the first is the product's.
    photos = mdb.execute("SELECT photo FROM product_photos WHERE product_id = ? ORDER BY "
                         "position", [mora["id"]]).fetchall()
    assert len(photos) == 2 and {p[0] for p in photos} <= blobs(data_dir)
    assert mdb.execute("SELECT photo FROM products WHERE id = ?", [mora["id"]]
                       ).fetchone()[0] == photos[0][0]


def test_importing_again_updates_by_code_and_counts_what_is_unchanged(
        data_dir, run_cli, coop, mdb, tmp_path):
    path = write_good(tmp_path)
    assert run_cli(data_dir, "market", "import", path, "--cooperative", coop).exit_code == 0
    before = counts(mdb)
    again = run_cli(data_dir, "market", "import", path, "--cooperative", coop, "--json")
    assert again.exit_code == 0, again.stderr
    made = json.loads(again.output)
    assert (made["added"], made["updated"], made["unchanged"]) == (0, 0, 3)
    assert [p["line"] for p in made["products"]] == [2, 3, 4]
    assert counts(mdb) == before  # nothing written at all

    # Comma-separated this time, no BOM: a price and a stock change, a new product, and the
    # Kichwa name left out (it stays).
    changed = ("code,name,category,unit,price,stock\n"
               "MORA,Mermelada de mora,food,jar,\"2,75\",30\n"
               "MIEL,Miel de abeja,food,bottle,6.00,10\n"
               "UVILLA,Mermelada de uvilla,food,jar,3.00,5\n")
    path = write_good(tmp_path, changed, bom=False, name="second.csv")
    result = run_cli(data_dir, "market", "import", path, "--cooperative", coop)
    assert result.exit_code == 0, result.stderr
    assert "1 added, 1 updated, 1 unchanged" in result.output
    listed = {p["name"]: p for p in json.loads(
        run_cli(data_dir, "market", "products", "--json").output)}
    assert listed["Mermelada de mora"]["price"] == 275
    assert listed["Mermelada de mora"]["stock"] == 30
    assert listed["Mermelada de uvilla"]["stock"] == 5
    assert count(mdb, "products") == 4
    assert mdb.execute("SELECT count(*) FROM product_texts WHERE lang = 'qu_EC'"
                       ).fetchone()[0] == 2
    # Columns the file lacks leave those fields as they were.
    assert mdb.execute("SELECT count(*) FROM product_texts WHERE description = "
                       "'<script>alert(1)</script>'").fetchone()[0] == 1
    assert listed["Mermelada vieja"]["active"] is False
    # The stock is the sum of its movements (a count of the difference).
    mora = listed["Mermelada de mora"]["id"]
    assert mdb.execute("SELECT sum(quantity) FROM stock_moves WHERE product_id = ?",
                       [mora]).fetchone()[0] == 30


BAD = ("code;name;description;category;unit;price;stock;photos\n"
       "A1;Bueno;<script>alert('x')</script>;food;jar;2.50;3;\n"          # 2: fine
       "A2;Negativo;;food;jar;-1;3;\n"                                      # 3
       "A3;Letras;;food;jar;abc;3;\n"                                       # 4
       "A4;Enorme;;food;jar;1000000000000000;3;\n"                          # 5
       "A5;Menos;;food;jar;1.00;-3;\n"                                      # 6
       "A6;Rara;;magic;jar;1.00;3;\n"                                       # 7
       "A7;Foto falsa;;food;jar;1.00;3;fake.jpg\n"                          # 8
       "A8;Sin foto;;food;jar;1.00;3;missing.jpg\n"                         # 9
       "A1;Repetido;;food;tonne;1.00;3;\n")                                 # 10


def test_a_file_with_bad_lines_is_refused_whole_with_every_problem_by_line(
        data_dir, run_cli, coop, mdb, tmp_path):
    assert run_cli(data_dir, "market", "import", write_good(tmp_path), "--cooperative",
                   coop).exit_code == 0
    before, stored = counts(mdb), blobs(data_dir)
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "fake.jpg").write_text("not a photo at all")
    path = folder / "bad.csv"
    path.write_text(BAD, encoding="utf-8")
    result = run_cli(data_dir, "market", "import", path, "--cooperative", coop)
    assert result.exit_code == 1
    problems = result.stderr.splitlines()
    expected = ["line 3: price:", "line 4: price:", "line 5: price:", "line 6: stock:",
                "line 7: category:", "line 8: photos: fake.jpg: This file is not a photo",
                "line 9: photos: missing.jpg: There is no such file", "line 10: code: A1 is "
                "on line 2 too", "line 10: unit:"]
    for start in expected:
        assert any(p.startswith(start) for p in problems), (start, result.stderr)
    assert not any(p.startswith("line 2:") for p in problems)  # the script is only text
    assert problems[-1] == "infocentre: Nothing was imported: bad.csv has 9 problems (above)."
    assert counts(mdb) == before and blobs(data_dir) == stored

    as_json = run_cli(data_dir, "market", "import", path, "--cooperative", coop, "--json")
    assert as_json.exit_code == 1
    errors = json.loads(as_json.stdout)["errors"]
    assert {(e["line"], e["column"]) for e in errors} >= {(3, "price"), (6, "stock"),
                                                         (8, "photos"), (10, "code")}
    assert counts(mdb) == before


def test_a_file_in_another_encoding_or_with_unknown_columns_is_refused(
        data_dir, run_cli, coop, mdb, tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("code;name;category;unit;price\nP1;Piña dulce;food;jar;1\n"
                      .encode("latin-1"))
    result = run_cli(data_dir, "market", "import", latin, "--cooperative", coop)
    assert result.exit_code == 1
    assert "latin.csv is not UTF-8 text (line 2)" in result.stderr
    assert "CSV UTF-8" in result.stderr and result.stderr.count("\n") == 1
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("code;name;category;unit;price\n".encode("utf-16"))
    assert "is not UTF-8" in run_cli(data_dir, "market", "import", utf16,
                                     "--cooperative", coop).stderr
    odd = tmp_path / "odd.csv"
    odd.write_text("code,nombre,category,unit,price,name_xx\nP1,Piña,food,jar,1,Pinya\n",
                   encoding="utf-8")
    result = run_cli(data_dir, "market", "import", odd, "--cooperative", coop)
    assert result.exit_code == 1
    assert "line 1: nombre: Unknown column" in result.stderr
    assert "line 1: name_xx: This language is not offered here" in result.stderr
    assert "line 1: name: The column is missing" in result.stderr
    assert count(mdb, "products") == 0


def test_import_names_a_cooperative_of_this_centre_and_runs_at_a_centre(
        data_dir, hub_dir, run_cli, coop, tmp_path):
    path = write_good(tmp_path)
    result = run_cli(data_dir, "market", "import", path, "--cooperative", "Nadie")
    assert result.exit_code == 1
    assert "There is no cooperative called Nadie at this centre." in result.stderr
    at_hub = run_cli(hub_dir, "market", "import", path, "--cooperative", coop)
    assert at_hub.exit_code == 1 and "runs at a centre" in at_hub.stderr
    twice = run_cli(data_dir, "market", "cooperative", "add", "mermeladas sumak mishki")
    assert twice.exit_code == 1 and "already has a cooperative" in twice.stderr
    empty = run_cli(data_dir, "market", "cooperative", "add", "  ")
    assert empty.exit_code == 1 and "Give the cooperative a name" in empty.stderr
    listed = json.loads(run_cli(data_dir, "market", "cooperative", "list", "--json").output)
    assert [(c["name"], c["village"]) for c in listed] == [
        ("Mermeladas Sumak Mishki", "San Pablo del Lago")]


def test_the_demo_adds_two_cooperatives_with_products_and_orders_once(data_dir, run_cli):
    first = run_cli(data_dir, "demo")
    assert first.exit_code == 0, first.output
    assert "Segundo Tenemaza     cooperative  PIN 3333" in first.output
    assert "Market: the cooperatives" in first.output
    db = open_db(data_dir / "infocentre.db")
    made, listed = counts(db), count(db, "demo_rows")
    second = run_cli(data_dir, "demo")
    assert second.exit_code == 0 and "0 new accounts" in second.output
    assert counts(db) == made and count(db, "demo_rows") == listed
    # Every market row the demo made is listed, so joining a hub removes it.
    for table in MARKET_TABLES:
        assert db.execute("SELECT count(*) FROM demo_rows WHERE table_name = ?",
                          [table]).fetchone()[0] == made[table] > 0, table
    coops = list(db.query("SELECT id, photo FROM cooperatives"))
    assert len(coops) == 2 and all(c["photo"] for c in coops)
    member = db.execute("SELECT id FROM accounts WHERE name = 'Segundo Tenemaza'").fetchone()[0]
    for c in coops:
        products = list(db.query("SELECT id, photo FROM products WHERE cooperative_id = ? AND "
                                 "active = 1", [c["id"]]))
        assert len(products) >= 3 and all(p["photo"] for p in products)
        for p in products:
            langs = {r[0] for r in db.execute("SELECT lang FROM product_texts WHERE "
                                              "product_id = ?", [p["id"]])}
            assert langs == {"es", "en", "qu_EC"}
        assert db.execute("SELECT count(*) FROM cooperative_members WHERE cooperative_id = ? "
                          "AND account_id = ? AND active = 1", [c["id"], member]
                          ).fetchone()[0] == 1
    photos = {r[0] for r in db.execute("SELECT photo FROM products")}
    assert photos <= blobs(data_dir)
    assert all((data_dir / "media" / s[:2] / s).stat().st_size < 40_000 for s in photos)

    orders = json.loads(run_cli(data_dir, "market", "orders", "--json").output)
    assert {o["status"] for o in orders} == {"received", "confirmed", "ready", "collected",
                                             "declined", "cancelled"}
    keys = {"id", "cooperative", "buyer", "centre", "seller_centre", "status", "cancel_asked",
            "reason", "total", "currency", "placed_at", "lines"}
    assert all(keys <= set(o) for o in orders)
    declined = next(o for o in orders if o["status"] == "declined")
    assert declined["reason"] and declined["buyer"] == "María Chimbo"
    collected = [o for o in orders if o["status"] == "collected"]
    assert all(o["paid"] == o["total"] for o in collected)
    line = orders[0]["lines"][0]
    assert set(line) == {"product", "name", "quantity", "price"} and line["quantity"] >= 1
    assert [o["placed_at"] for o in orders] == sorted((o["placed_at"] for o in orders),
                                                      reverse=True)
    table = run_cli(data_dir, "market", "orders")
    assert "Declined (" in table.output and "7 orders." in table.output
    readable = run_cli(data_dir, "market", "products")
    assert "Mermelada de mora" not in readable.output  # English terminal: English names
    assert "Blackberry jam" in readable.output and "$3.50 / jar" in readable.output
    db.close()


def test_the_demo_at_the_hub_adds_no_market(hub_dir, run_cli):
    assert run_cli(hub_dir, "demo").exit_code == 0
    db = open_db(hub_dir / "infocentre.db")
    assert counts(db) == dict.fromkeys(MARKET_TABLES, 0)
    assert json.loads(run_cli(hub_dir, "market", "products", "--json").output) == []
    assert json.loads(run_cli(hub_dir, "market", "orders", "--json").output) == []
