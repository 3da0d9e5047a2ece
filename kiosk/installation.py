"""Setting up an installation's data directory: config file, secret key, database, centre row.

``infocentre init`` and the tests' fixtures both call ``init_installation``. Imports
``kiosk.config``, ``kiosk.data`` and the admin area's models.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from sync import signing
from sync.engine.clock import wall_ms
from sync.engine.nodes import forget_row, take_identity
from sync.engine.state import applying, immediate
from sync.errors import Refused, Unreachable

from . import areas, migration_sets
from . import config as config_module
from .admin import models as centres
from .data import PRIVATE_DIR, make_private, migrate, open_db, stamp, utcnow
from .errors import KioskError
from .i18n import LANGUAGES, _
from .syncing import make_outcome_file

OWN_FILES = (config_module.CONFIG_FILE, config_module.SECRET_FILE,
             config_module.DATABASE_FILE, config_module.DATABASE_FILE + "-wal",
             config_module.DATABASE_FILE + "-shm")


def init_installation(data_dir: Path, *, role: str, name: str, language: str = "es",
                      currency: str = "USD", force: bool = False, hub_url: str | None = None,
                      token: str | None = None,
                      locales_dir: str | Path = config_module.LOCALES_DIR) -> dict:
    """Create a centre or hub in ``data_dir``; returns ``{"centre_id", "replaced"}``.

    Refuses an existing installation unless ``force``; then its files are moved aside into a
    ``replaced-<time>`` folder, never deleted. Everything is checked before anything is written.
    """
    if role not in config_module.ROLES:
        raise KioskError(_("The role must be 'node' or 'hub'."))
    name = " ".join(name.split())
    if not name or len(name) > 80 or "\ufffd" in name or not name.isprintable():
        raise KioskError(_("The centre's name must have 1 to 80 readable characters."))
    if language not in LANGUAGES:
        raise KioskError(_("Languages must be chosen among: %(codes)s.",
                           codes=", ".join(LANGUAGES)))
    # Issue 15: a missing catalogue found after writing left a centre that would not start.
    config_module.check_catalogue(locales_dir, language)
    joined = None
    if hub_url or token:
        if role != "node" or not (hub_url and token):
            raise KioskError(_("A centre joins a hub with both --hub and --token."))
        joined = _check_hub(hub_url, token)
    # A centre registered at the hub takes the id the hub gave it; its centres row comes from
    # the hub at the first sync.
    centre_id = joined or str(uuid.uuid4())
    extra = {"hub_url": hub_url} if joined else {}
    # The settings are checked, the environment's too, before anything is written or moved.
    config_module.check_new(data_dir, role, name, centre_id, default_language=language,
                            currency=currency.upper(), **extra)
    existing = [data_dir / f for f in OWN_FILES if (data_dir / f).exists()]
    if existing and not force:
        raise KioskError(_("A centre is already set up in %(path)s; nothing was changed. Use "
                           "--force to replace it.", path=data_dir))
    replaced = None
    if existing:
        replaced = data_dir / f"replaced-{stamp()}"
        replaced.mkdir(mode=PRIVATE_DIR, parents=True)
        for path in existing:
            shutil.move(str(path), replaced / path.name)
    try:
        config_module.write_new(data_dir, role, name, centre_id, default_language=language,
                                currency=currency.upper(), **extra)
        if joined:
            config_module.write_token(data_dir, token)
    except OSError as e:
        raise KioskError(_("Cannot write to %(path)s: %(error)s", path=data_dir,
                           error=e.strerror)) from e
    db = open_db(data_dir / config_module.DATABASE_FILE)
    try:
        settings = config_module.load({"DATA_DIR": str(data_dir)})
        migrate(db, data_dir, migration_sets(areas(settings["AREAS"])))
        if not joined:
            centres.add_centre(db, centre_id=centre_id, name=name, role=role, now=utcnow())
    finally:
        db.close()
    if role == "node":
        make_outcome_file(data_dir)  # room for a sync's outcome, taken while there is room
    make_private(data_dir)  # whatever was already there, and whatever the umask
    return {"centre_id": centre_id, "replaced": replaced}


def _check_hub(hub_url: str, token: str) -> str:
    """The node id of a well-formed token for a well-formed hub address (checked offline)."""
    from sync.client import HubClient  # requests is slow to import: only when joining

    try:
        node_id, _secret = signing.parse_token(token)
        HubClient(hub_url, token).close()
    except ValueError:
        raise KioskError(_("The token or the hub's address is not valid: copy them again from "
                           "'infocentre hub add-node' at the hub.")) from None
    return node_id


def join_hub(data_dir: Path, db, *, hub_url: str, token: str, tables: list, schema: int,
             say=print) -> dict:
    """Turn a standalone centre into a node of a hub, keeping its data.

    The credentials are checked with the hub first. Demo rows go (they were never real); every
    row owned by the centre moves to the id the hub registered, still waiting to be sent.
    """
    config = config_module.read_file(data_dir)
    if config.get("ROLE") != "node":
        raise KioskError(_("This command runs at a centre, not at the hub."))
    if config.get("HUB_URL"):
        raise KioskError(_("This centre already syncs with %(hub)s.", hub=config["HUB_URL"]))
    new_id = _check_hub(hub_url, token)
    _probe(hub_url, token, new_id, schema)
    old_id = config["CENTRE_ID"]
    demo = db.execute("SELECT table_name, row_id FROM demo_rows").fetchall()
    if demo:
        say(_("Removing the demo data first (%(n)d rows): it is not this centre's.", n=len(demo)))
    with immediate(db), applying(db):
        # Demo rows, and this centre's own row (the hub's will come), go without tombstones.
        for table, row_id in [*demo, ("centres", old_id)]:
            forget_row(db, table, row_id)
        db.execute("DELETE FROM demo_rows")
        for spec in tables:
            db.execute(f'UPDATE "{spec.name}" SET centre_id = ? WHERE centre_id = ?',
                       [new_id, old_id])
        take_identity(db, new_id)
        config_module.write_token(data_dir, token)
        config_module.update_file(data_dir, centre_id=new_id, hub_url=hub_url)
    return {"centre_id": new_id, "demo_rows": len(demo)}


def _probe(hub_url: str, token: str, node_id: str, schema: int) -> None:
    """One signed request that changes nothing, to check the address and the token now."""
    from sync.client import HubClient

    client = HubClient(hub_url, token)
    try:
        client.exchange({"node": node_id, "instance": str(uuid.uuid4()), "schema": schema,
                         "acked": 0, "batch": None, "cursor": None}, wall_ms())
    except Unreachable as e:
        raise KioskError(_("The hub could not be reached (%(error)s); join again when the link "
                           "is up.", error=e)) from None
    except Refused as e:
        raise KioskError(_("The hub refused this token: %(error)s", error=e)) from None
    finally:
        client.close()
