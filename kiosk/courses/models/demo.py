"""The courses area's demo: the courses shipped in ``content/courses``, everywhere.

Imports ``kiosk.i18n`` and the area's ``packs`` and ``importing``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlite_utils import Database

from ...i18n import _
from .. import packs
from .importing import import_pack, installed_version


def demo(db: Database, *, centre_id: str, role: str, content_dir: str | Path,
         now: dt.datetime, store=None) -> list[dict]:
    """Import the shipped courses (adds nothing twice)."""
    folder = Path(content_dir) / "courses"
    if store is None or not folder.is_dir():
        return []
    titles = []
    for path in packs.find_packs(folder):
        pack = packs.read_pack(path)
        if (installed_version(db, pack.id) or 0) < pack.version:
            import_pack(db, pack, centre_id=centre_id, role=role, store=store, now=now)
        titles.append(pack.title.get("es") or next(iter(pack.title.values())))
    return [{"message": _("Courses: %(titles)s.", titles="; ".join(titles))}]
