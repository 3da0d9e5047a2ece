"""The market area's migration set: cooperatives, their products, stock movements, orders and
the steps of orders, and the local search index of products. Imports only sqlite-utils.

Synced tables carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid
sync batch could break (``kiosk/schema.py``). The search index is local: each replica builds it
from the product texts it holds, by triggers, so rows applied by a sync are indexed too.
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("market")


@MIGRATIONS()
def m0001_market(db):
    db.executescript(
        """
        -- synced region-wide; written by the cooperative's home centre (centre_id)
        CREATE TABLE cooperatives (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            village TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            photo TEXT,                              -- SHA-256 of a blob, or NULL
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX cooperatives_by_centre ON cooperatives (centre_id, active);
        -- synced with the hub only; id: UUIDv5 of cooperative and account
        CREATE TABLE cooperative_members (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            cooperative_id TEXT NOT NULL DEFAULT '',
            account_id TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            added_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX members_by_account ON cooperative_members (account_id, active);
        CREATE INDEX members_by_cooperative ON cooperative_members (cooperative_id, active);
        -- synced region-wide, written by the home centre. stock: the sum of the product's
        -- stock_moves, kept by the home centre in the transaction that writes a movement
        CREATE TABLE products (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            cooperative_id TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL DEFAULT 'other',
            unit TEXT NOT NULL DEFAULT 'piece',
            price INTEGER NOT NULL DEFAULT 0,        -- minor units (cents) of the region's currency
            stock INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1,
            photo TEXT,                              -- the first photo, shown in lists
            code TEXT NOT NULL DEFAULT '',           -- the cooperative's own reference (imports)
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX products_by_cooperative ON products (cooperative_id, active);
        CREATE INDEX products_by_category ON products (category, active, created_at, id);
        CREATE INDEX products_by_age ON products (active, created_at, id);  -- newest first
        CREATE INDEX products_by_centre ON products (centre_id, active);
        -- one row per product and language; id: UUIDv5 of product and language
        CREATE TABLE product_texts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            product_id TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX product_texts_by_product ON product_texts (product_id, lang);
        -- a product's photos in order; removing one sets removed = 1 (a delete is final)
        CREATE TABLE product_photos (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            product_id TEXT NOT NULL DEFAULT '',
            photo TEXT,
            position INTEGER NOT NULL DEFAULT 0,
            removed INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX product_photos_by_product ON product_photos (product_id, removed, position);
        -- append-only, written at the home centre only; synced with the hub
        CREATE TABLE stock_moves (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            product_id TEXT NOT NULL DEFAULT '',
            quantity INTEGER NOT NULL DEFAULT 0,     -- added (+) or taken (-)
            reason TEXT NOT NULL DEFAULT '',         -- count, order, returned
            order_id TEXT,
            by_id TEXT,
            at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX stock_moves_by_product ON stock_moves (product_id);
        CREATE INDEX stock_moves_by_order ON stock_moves (order_id);
        -- an order: a record of the buyer's centre (centre_id), sent to the seller's centre
        CREATE TABLE orders (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            seller_centre TEXT NOT NULL DEFAULT '',
            cooperative_id TEXT NOT NULL DEFAULT '',
            buyer_id TEXT NOT NULL DEFAULT '',
            buyer_name TEXT NOT NULL DEFAULT '',
            placed_by TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            currency TEXT NOT NULL DEFAULT '',
            total INTEGER NOT NULL DEFAULT 0,
            items INTEGER NOT NULL DEFAULT 0,        -- how many lines: all must have arrived
            placed_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX orders_by_seller ON orders (seller_centre, cooperative_id, placed_at);
        CREATE INDEX orders_by_centre ON orders (centre_id, placed_at);
        CREATE INDEX orders_by_buyer ON orders (buyer_id, placed_at);
        CREATE TABLE order_lines (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            seller_centre TEXT NOT NULL DEFAULT '',
            order_id TEXT NOT NULL DEFAULT '',
            product_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',           -- as the buyer saw it
            unit TEXT NOT NULL DEFAULT '',
            quantity INTEGER NOT NULL DEFAULT 0,
            price INTEGER NOT NULL DEFAULT 0         -- each, in minor units
        ) STRICT;
        CREATE INDEX order_lines_by_order ON order_lines (order_id);
        CREATE INDEX order_lines_by_product ON order_lines (product_id);
        -- append-only steps of an order, each written by the side that owns it (centre_id) and
        -- sent to the other side (to_centre); id: UUIDv5 of order and kind
        CREATE TABLE order_events (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            to_centre TEXT NOT NULL DEFAULT '',
            order_id TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            amount INTEGER,
            by_id TEXT,
            at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX order_events_by_order ON order_events (order_id);
        CREATE INDEX order_events_by_kind ON order_events (kind, at);

        -- local: the search index of product texts, accents and case ignored
        CREATE VIRTUAL TABLE market_search USING fts5(
            product_id UNINDEXED, lang UNINDEXED, name, description,
            tokenize = "unicode61 remove_diacritics 2");
        CREATE TRIGGER market_search_insert AFTER INSERT ON product_texts BEGIN
            INSERT INTO market_search (rowid, product_id, lang, name, description)
            VALUES (new.rowid, new.product_id, new.lang, new.name, new.description);
        END;
        CREATE TRIGGER market_search_update AFTER UPDATE ON product_texts BEGIN
            DELETE FROM market_search WHERE rowid = old.rowid;
            INSERT INTO market_search (rowid, product_id, lang, name, description)
            VALUES (new.rowid, new.product_id, new.lang, new.name, new.description);
        END;
        CREATE TRIGGER market_search_delete AFTER DELETE ON product_texts BEGIN
            DELETE FROM market_search WHERE rowid = old.rowid;
        END;
        """
    )
