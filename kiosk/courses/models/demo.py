"""The courses area's demo: the courses shipped in ``content/courses``, everywhere, and the
voices of ``content/demo/voices.json`` (a page and a question read aloud, so "Listen" shows).

Imports ``kiosk.data``, ``kiosk.i18n`` and the area's ``packs``, ``importing`` and ``voices``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlite_utils import Database

from ...data import fetch, writing
from ...i18n import _
from .. import packs
from .importing import import_pack, installed_version
from .voices import record, voice_id


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
    said = [{"message": _("Courses: %(titles)s.", titles="; ".join(titles))}]
    count = _voices(db, Path(content_dir) / "demo", centre_id=centre_id, store=store, now=now)
    if count:
        said.append({"message": _("Recorded voices: %(count)s (the first lesson and the first "
                                  "question of \"Usar una computadora\").", count=count)})
    return said


def _voices(db: Database, folder: Path, *, centre_id: str, store, now: dt.datetime) -> int:
    """The demo's voices, once each, for the courses installed; how many there are."""
    listing = folder / "voices.json"
    if not listing.is_file():
        return 0
    count = 0
    for item in json.loads(listing.read_text(encoding="utf-8"))["voices"]:
        pack = item["course"]
        lesson = fetch(db, "SELECT id, course_id, kind FROM lessons WHERE id = ?",
                       [packs.lesson_id(pack, item["lesson"])])
        if not lesson:
            continue  # that course is not installed here
        target = (packs.question_id(pack, item["question"]) if item.get("question")
                  else lesson[0]["id"])
        vid = voice_id(centre_id, item["kind"], target, item["part"], item["lang"])
        if not db.execute("SELECT 1 FROM voices WHERE id = ?", [vid]).fetchone():
            with (folder / item["file"]).open("rb") as f:
                sha = store.add(f).sha
            record(db, centre_id=centre_id, lesson=lesson[0], kind=item["kind"],
                   target_id=target, part=item["part"], lang=item["lang"], sha=sha,
                   account_id="", now=now)
            with writing(db):
                db.execute("INSERT OR IGNORE INTO demo_rows (table_name, row_id) VALUES (?, ?)",
                           ["voices", vid])
        count += 1
    return count
