"""Setting up an installation's data directory: config file, secret key, database, centre row.

``infocentre init`` and the tests' fixtures both call ``init_installation``. Imports
``kiosk.config``, ``kiosk.data`` and the admin area's models.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from . import config as config_module
from .admin import models as centres
from .data import migrate, open_db, stamp, utcnow
from .errors import KioskError
from .i18n import LANGUAGES, _

OWN_FILES = (config_module.CONFIG_FILE, config_module.SECRET_FILE,
             config_module.DATABASE_FILE, config_module.DATABASE_FILE + "-wal",
             config_module.DATABASE_FILE + "-shm")


def init_installation(data_dir: Path, *, role: str, name: str, language: str = "es",
                      currency: str = "USD", force: bool = False) -> dict:
    """Create a centre or hub in ``data_dir``; returns ``{"centre_id", "replaced"}``.

    Refuses an existing installation unless ``force``; then its files are moved aside into a
    ``replaced-<time>`` folder, never deleted.
    """
    if role not in config_module.ROLES:
        raise KioskError(_("The role must be 'node' or 'hub'."))
    name = " ".join(name.split())
    if not name or len(name) > 80 or "\ufffd" in name or not name.isprintable():
        raise KioskError(_("The centre's name must have 1 to 80 readable characters."))
    if language not in LANGUAGES:
        raise KioskError(_("Languages must be chosen among: %(codes)s.",
                           codes=", ".join(LANGUAGES)))
    existing = [data_dir / f for f in OWN_FILES if (data_dir / f).exists()]
    if existing and not force:
        raise KioskError(_("A centre is already set up in %(path)s; nothing was changed. Use "
                           "--force to replace it.", path=data_dir))
    replaced = None
    if existing:
        replaced = data_dir / f"replaced-{stamp()}"
        replaced.mkdir(parents=True)
        for path in existing:
            shutil.move(str(path), replaced / path.name)
    centre_id = str(uuid.uuid4())
    try:
        config_module.write_new(data_dir, role, name, centre_id, default_language=language,
                                currency=currency.upper())
    except OSError as e:
        raise KioskError(_("Cannot write to %(path)s: %(error)s", path=data_dir,
                           error=e.strerror)) from e
    db = open_db(data_dir / config_module.DATABASE_FILE)
    try:
        migrate(db, data_dir)
        centres.add_centre(db, centre_id=centre_id, name=name, role=role, now=utcnow())
    finally:
        db.close()
    return {"centre_id": centre_id, "replaced": replaced}
