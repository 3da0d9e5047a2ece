"""The archive export: a ZIP of the stories consent lets leave the hub, with a catalogue in JSON
and in CSV (Dublin Core fields) and each story's recording and photos, named after the story.
Imports the area's models, ``kiosk.data``, ``kiosk.errors`` and ``kiosk.i18n``; no Flask.

What is exported (``kiosk/stories/README.md``, "Exports"): approved stories only (one waiting
for review, sent back or hidden is nobody's to publish), whose teller allowed ``region`` or
``public`` (``consent="region"``, the default), or ``public`` only (``consent="public"``);
optionally of one centre. A ``centre`` story never leaves its centre and the hub; a withdrawn
one is a deleted row, so it is in no later export.

The ZIP is written beside ``target`` under a hidden name and renamed over it when whole, so a
cut or a failure never leaves half an archive under the name asked for. Media are copied into
it from the store in chunks, stored as they are (recordings and photos are compressed already):
a large export never sits in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import secrets
import tempfile
import unicodedata
import zipfile
from pathlib import Path
from typing import Callable

from sqlite_utils import Database

from ..data import fetch, iso, reading
from ..errors import KioskError, ValidationError
from ..i18n import LANGUAGES, _
from . import models

CHOICES = {"region": ("region", "public"), "public": ("public",)}
EXTENSIONS = {"audio/webm": "webm", "audio/ogg": "ogg", "audio/mpeg": "mp3",
              "audio/wav": "wav", "audio/mp4": "m4a"}

# The catalogue's columns: Dublin Core elements first, then what an archivist needs besides.
DC = ("dc:identifier", "dc:title", "dc:creator", "dc:contributor", "dc:publisher", "dc:date",
      "dc:coverage", "dc:language", "dc:subject", "dc:description", "dc:rights", "dc:format",
      "dc:type")
EXTRA = ("transcript", "consent", "consent_at", "consent_by", "centre_id", "created_at",
         "reviewed_at", "audio_file", "audio_sha256", "audio_seconds", "photo_files",
         "photo_sha256")
COLUMNS = DC + EXTRA

Progress = Callable[[int, int], None]


def check_choice(db: Database, consent: str, centre: str | None) -> tuple[tuple, str | None]:
    """The consents to export and the centre, checked; ValidationError naming what is wrong."""
    errors = {}
    if consent not in CHOICES:
        errors["consent"] = [_("Choose what to export: stories for the region, or public "
                               "stories only.")]
    if centre:
        if not isinstance(centre, str) or not fetch(db, "SELECT 1 FROM centres WHERE id = ?",
                                                    [centre]):
            errors["centre"] = [_("There is no such centre in the region.")]
    if errors:
        raise ValidationError(errors)
    return CHOICES[consent], centre or None


def file_stem(story: dict, taken: set) -> str:
    """A file name for the story's media: its title in plain letters and the end of its id
    ("la-minga-del-canal-3f9a1c2e"), never the same twice in one archive."""
    plain = unicodedata.normalize("NFKD", story.get("title") or "").encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "-", plain.decode().lower()).strip("-")[:50].strip("-")
    tail = re.sub(r"[^0-9a-f]", "", story["id"].lower())[-8:] or "story"
    stem = f"{slug}-{tail}" if slug else f"story-{tail}"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def dc_date(story: dict) -> str:
    """When it happened, as W3C-DTF a year ("1978") or an ISO 8601 interval for a decade
    ("1970/1979"); "" when not known."""
    if story.get("year"):
        return str(story["year"])
    if story.get("decade"):
        return f"{story['decade']}/{story['decade'] + 9}"
    return ""


def _types(story: dict, photos: list) -> list[str]:
    """The DCMI types the story is made of."""
    found = []
    if story["audio"]:
        found.append("Sound")
    if story["body"] or story["transcript"]:
        found.append("Text")
    if photos:
        found.append("StillImage")
    return found


def record(story: dict, *, audio_file: str | None, photos: list[tuple[str, str | None]]) -> dict:
    """A story's catalogue entry. ``photos``: (SHA-256, file name or None when missing)."""
    lang = LANGUAGES[story["lang"]].tag if story["lang"] in LANGUAGES else story["lang"]
    formats = [story["audio_kind"]] if story["audio"] else []
    if story["body"] or story["transcript"]:
        formats.append("text/plain")
    if photos:
        formats.append("image/jpeg")
    return {
        "dc:identifier": f"urn:uuid:{story['id']}",
        "dc:title": story["title"],
        "dc:creator": story["teller_name"],
        "dc:contributor": story["recorded_by_name"],
        "dc:publisher": story["centre_name"] or "",
        "dc:date": dc_date(story),
        "dc:coverage": story["village"],
        "dc:language": lang,
        "dc:subject": models._tags(story["tags"]),
        "dc:description": story["body"],
        "dc:rights": f"{story['consent']}: {models.consent_label(story['consent'])}",
        "dc:format": formats,
        "dc:type": _types(story, photos),
        "transcript": story["transcript"],
        "consent": story["consent"],
        "consent_at": story["consent_at"],
        "consent_by": story["consent_by"],
        "centre_id": story["centre_id"],
        "created_at": story["created_at"],
        "reviewed_at": story["reviewed_at"],
        "audio_file": audio_file,
        "audio_sha256": story["audio"],
        "audio_seconds": story["audio_seconds"] or None,
        "photo_files": [name for _sha, name in photos],
        "photo_sha256": [sha for sha, _name in photos],
    }


def _cell(value) -> str | int:
    """A CSV cell: lists joined by "; ", and text a spreadsheet would read as a formula kept as
    text ("=1+2" becomes "'=1+2"), as every CSV the kiosk writes."""
    if isinstance(value, list):
        value = "; ".join(v or "" for v in value)
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def start_zip(target: Path) -> tuple[Path, zipfile.ZipFile]:
    """A ZIP being written beside ``target`` under a hidden name; KioskError when the folder
    is not there."""
    target = Path(target)
    if not target.parent.is_dir():
        raise KioskError(_("The folder %(folder)s does not exist.", folder=str(target.parent)))
    if target.is_dir():
        raise KioskError(_("%(path)s is a folder: name the ZIP file to write.",
                           path=str(target)))
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    return part, zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, allowZip64=True)


def finish_zip(archive: zipfile.ZipFile, part: Path, target: Path) -> int:
    """Close the ZIP, put it to disk for good and rename it over ``target``; its size."""
    archive.close()
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    os.replace(part, target)
    return target.stat().st_size


STORY_SQL = (f"SELECT {models.STORY_COLUMNS}, (SELECT name FROM centres WHERE id = "
             f"s.centre_id) AS centre_name FROM stories s WHERE s.status = 'approved' AND "
             f"s.consent IN ({{consents}}) {{centre}} ORDER BY s.created_at, s.id")


def chosen(db: Database, consents: tuple, centre: str | None) -> list[dict]:
    sql = STORY_SQL.format(consents=",".join("?" * len(consents)),
                           centre="AND s.centre_id = ?" if centre else "")
    return fetch(db, sql, [*consents, *([centre] if centre else [])])


def export_archive(db: Database, store, target: Path, *, now: dt.datetime,
                   consent: str = "region", centre: str | None = None,
                   progress: Progress | None = None) -> dict:
    """Write the archive ZIP to ``target``: ``catalogue.json``, ``catalogue.csv`` and
    ``media/`` (each story's recording and photos). ``progress(done, total)`` is called as
    stories are written. Returns {"stories", "files", "missing", "bytes"} (``missing``: media
    not arrived at the hub yet, named in the catalogue with no file). ValidationError for a
    wrong consent or centre, KioskError for a target that cannot be written; nothing is
    written then."""
    consents, centre = check_choice(db, consent, centre)
    with reading(db):  # one moment of the database: a story and its photos agree
        stories = chosen(db, consents, centre)
        photos: dict[str, list[str]] = {}
        for row in fetch(db, "SELECT story_id, photo FROM story_photos WHERE photo IS NOT NULL "
                             "ORDER BY story_id, position, id"):
            photos.setdefault(row["story_id"], []).append(row["photo"])
    total, files, missing, names = len(stories), 0, 0, set()
    part, archive = start_zip(Path(target))
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8", dir=Path(target).parent) as listing:
            for done, story in enumerate(stories):
                if progress:
                    progress(done, total)
                stem = file_stem(story, names)
                audio_file = None
                if story["audio"]:
                    if store.has(story["audio"]):
                        ext = EXTENSIONS.get(story["audio_kind"], "audio")
                        audio_file = f"media/{stem}.{ext}"
                        archive.write(store.path(story["audio"]), audio_file,
                                      compress_type=zipfile.ZIP_STORED)
                        files += 1
                    else:
                        missing += 1
                kept = []
                for n, sha in enumerate(photos.get(story["id"], []), start=1):
                    name = None
                    if store.has(sha):
                        name = f"media/{stem}-photo-{n}.jpg"
                        archive.write(store.path(sha), name, compress_type=zipfile.ZIP_STORED)
                        files += 1
                    else:
                        missing += 1
                    kept.append((sha, name))
                listing.write(json.dumps(record(story, audio_file=audio_file, photos=kept),
                                         ensure_ascii=False) + "\n")
            _catalogues(archive, listing, now=now, consents=consents, centre=centre,
                        count=total)
    except BaseException:
        archive.close()
        part.unlink(missing_ok=True)
        raise
    size = finish_zip(archive, part, Path(target))
    if progress:
        progress(total, total)
    return {"stories": total, "files": files, "missing": missing, "bytes": size}


def _catalogues(archive: zipfile.ZipFile, listing, *, now, consents, centre, count) -> None:
    """catalogue.json and catalogue.csv from the records in ``listing`` (one JSON a line),
    written into the ZIP as they are read."""
    head = {"exported_at": iso(now), "consent": list(consents), "centre": centre,
            "count": count}
    with archive.open("catalogue.json", "w") as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8")
        out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "stories": [\n')
        listing.seek(0)
        for n, line in enumerate(listing):
            out.write((",\n" if n else "") + line.rstrip("\n"))
        out.write("\n]}\n")
        out.flush()
        out.detach()
    with archive.open("catalogue.csv", "w") as raw:
        # UTF-8 with a BOM, so a spreadsheet on Windows reads the accents.
        out = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        listing.seek(0)
        for line in listing:
            entry = json.loads(line)
            writer.writerow([_cell(entry[c]) for c in COLUMNS])
        out.flush()
        out.detach()


__all__ = ["CHOICES", "COLUMNS", "check_choice", "export_archive", "file_stem"]
