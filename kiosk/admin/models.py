"""Centres: one row per installation of the region, the hub included, and the hub's registry
of them with what each said at its last exchange. Imports ``kiosk.data``, ``kiosk.errors``,
``kiosk.i18n`` and ``sync.engine`` only.

The centres table is synced region-wide and owned by the hub (DESIGN, Data); until a centre joins
a hub, its own row is owned by itself.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid

from sqlite_utils import Database

from sync.engine import REGION, UPLOAD_HUB, SyncedTable, nodes
from sync.engine import node_buckets as nodes_buckets

from ..data import iso, reading, writing
from ..errors import NotFound, ValidationError
from ..i18n import _

# Every centre knows every centre; only the hub changes them.
SYNCED_TABLES = [SyncedTable("centres", scope=REGION, upload=UPLOAD_HUB),
                 SyncedTable("region_settings", scope=REGION, upload=UPLOAD_HUB)]

# Settings the hub gives the whole region, from its own configuration (DESIGN, Data).
REGION_SETTINGS = {"currency": "CURRENCY"}


def publish_region_settings(db: Database, config, now: dt.datetime) -> None:
    """At the hub: write the region's settings from the hub's configuration when they differ
    (at every start, so a changed setting reaches every centre at its next sync)."""
    with writing(db):
        for key, option in REGION_SETTINGS.items():
            value = str(config[option])
            db.execute("""
                INSERT INTO region_settings (id, centre_id, key, value, updated_at)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET value = excluded.value,
                    updated_at = excluded.updated_at
                WHERE value != excluded.value""",
                       [str(uuid.uuid5(uuid.NAMESPACE_URL, f"region-setting:{key}")),
                        config["CENTRE_ID"], key, value, iso(now)])


def region_setting(db: Database, key: str, default: str) -> str:
    """A setting of the region as the hub last gave it; ``default`` (this installation's own)
    before the first sync."""
    row = db.execute("SELECT value FROM region_settings WHERE key = ? ORDER BY updated_at DESC "
                     "LIMIT 1", [key]).fetchone()
    return row[0] if row and row[0] else default


def add_centre(db: Database, *, centre_id: str, name: str, role: str, now: dt.datetime,
               owner_id: str | None = None) -> dict:
    db.table("centres").insert({
        "id": centre_id, "centre_id": owner_id or centre_id, "name": name, "role": role,
        "created_at": iso(now), "updated_at": iso(now)})
    return get_centre(db, centre_id)


def get_centre(db: Database, centre_id: str) -> dict:
    rows = list(db.query("SELECT * FROM centres WHERE id = ?", [centre_id]))
    if not rows:
        raise NotFound("no such centre")
    return rows[0]


# The hub's registry of centres: a centres row (synced, region-wide) and its credentials.


def register_node(db: Database, *, name: str, hub_id: str, now: dt.datetime) -> dict:
    node_id = str(uuid.uuid4())
    with writing(db):
        add_centre(db, centre_id=node_id, name=name, role="node", now=now, owner_id=hub_id)
        generation = nodes.register_node(db, node_id, iso(now))
    return {"node_id": node_id, "generation": generation}


def revoke_node(db: Database, node_id: str, now: dt.datetime) -> bool:
    """Stop a centre's token working at once: the hub answers it 'revoked'."""
    return nodes.revoke_node(db, node_id, iso(now))


def list_nodes(db: Database) -> list[dict]:
    """The registered centres with their names, by name."""
    names = dict(db.execute("SELECT id, name FROM centres").fetchall())
    found = [{"node_id": n["node_id"], "name": names.get(n["node_id"]), **n}
             for n in nodes.list_nodes(db)]
    return sorted(found, key=lambda n: (n["name"] is not None, n["name"] or ""))


NAME_MAX = 80
WAITING_CAP = 10_000  # changes counted for a centre, at most: beyond, "more than"


def clean_centre_name(value) -> str:
    """A centre's name as the registry keeps it: spaces collapsed, 1 to 80 characters a screen
    can show (no control or format characters). ValidationError on ``name`` otherwise."""
    name = " ".join(unicodedata.normalize("NFC", value).split()) if isinstance(value, str) else ""
    if (not name or len(name) > NAME_MAX or not any(c.isalnum() for c in name)
            or any(c == "\ufffd" or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")
                   for c in name)):
        raise ValidationError({"name": [
            _("The centre's name must have 1 to 80 readable characters.")]})
    return name


def name_taken(db: Database, name: str) -> bool:
    """Whether a centre still registered has this name (case and accents as written)."""
    return db.execute(
        "SELECT 1 FROM centres c JOIN _sync_nodes n ON n.node_id = c.id WHERE n.revoked_at IS "
        "NULL AND lower(c.name) = lower(?) LIMIT 1", [name]).fetchone() is not None


def find_node(db: Database, node_id: str) -> dict | None:
    """One registered centre, as ``overview`` gives it, or None (a text that is no id too)."""
    if not isinstance(node_id, str) or len(node_id) > 64:
        return None
    found = _nodes(db, "WHERE n.node_id = ?", [node_id])
    return found[0] if found else None


def overview(db: Database) -> list[dict]:
    """Every registered centre, for the regional staff: its name, when it last exchanged
    (``last_seen_at``, SQLite UTC text), what it said then (``schema_version``, ``software``,
    ``waiting``: its changes still to send), and ``at_hub``: the changes for it waiting at the
    hub since that exchange (at most WAITING_CAP + 1), by name."""
    return sorted(_nodes(db), key=lambda n: ((n["name"] or "").casefold(), n["node_id"]))


def _nodes(db: Database, where: str = "", params=()) -> list[dict]:
    with reading(db):
        rows = list(db.query(
            "SELECT n.node_id, c.name, n.created_at, n.last_seen_at, n.revoked_at, "
            "n.schema_version, n.software, n.waiting, "
            "CASE WHEN n.cursor IS NULL AND n.handed IS NULL THEN NULL ELSE "
            "max(coalesce(n.handed, 0), coalesce(n.cursor, 0)) END AS cursor, "
            "i.id AS instance "
            "FROM _sync_nodes n LEFT JOIN centres c ON c.id = n.node_id "
            f"LEFT JOIN _sync_instances i ON i.instance_id = n.instance_id {where}", params))
        for row in rows:
            row["at_hub"] = (None if row["cursor"] is None or row["revoked_at"]
                             else _waiting_at_hub(db, row["node_id"], row["cursor"],
                                                  row["instance"]))
    return rows


def _waiting_at_hub(db: Database, node_id: str, cursor: int, instance: int | None) -> int:
    """Changes in the centre's feeds after the last page the hub handed it (else the cursor it
    last reported), not its own echo and not overwritten since (as its next pull would bring
    them), counted up to WAITING_CAP + 1."""
    return db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM _sync_feed f WHERE f.bucket IN (?, ?) AND "
        "f.seq > ? AND EXISTS (SELECT 1 FROM _sync_clock c WHERE c.tbl = f.tbl AND c.pk = f.pk "
        "AND c.seq = f.seq AND (c.origin IS NULL OR c.origin != ?)) LIMIT ?)",
        [*nodes_buckets(node_id), cursor, -1 if instance is None else instance,
         WAITING_CAP + 1]).fetchone()[0]


def silent(node: dict, now: dt.datetime, days: float) -> bool:
    """Whether a registered centre has not exchanged for longer than ``days``: since its last
    exchange, or since it was registered if it never exchanged (a centre registered an hour
    ago is not silent yet; one registered a month ago that never synced is)."""
    if node["revoked_at"]:
        return False
    since = last_seen(node) or _moment(node["created_at"])
    return since is None or now - since > dt.timedelta(days=days)


def last_seen(node: dict) -> dt.datetime | None:
    """When the centre last exchanged with the hub, as an aware UTC datetime."""
    return _moment(node["last_seen_at"])


def _moment(text: str | None) -> dt.datetime | None:
    """An aware UTC datetime from ISO text, or SQLite's ``datetime('now')`` (UTC, no zone)."""
    if not text:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
