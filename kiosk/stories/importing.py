"""An existing collection of stories from a spreadsheet (``infocentre stories import``): read a
CSV, check every row and every file it names, then store the media and write every story in one
transaction, or nothing.

The columns are documented in this folder's README ("Importing a collection"). Imports
``kiosk.audio``, ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and the area's models; no Flask
request globals: the media store and the photo preparer are passed in.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sqlite_utils import Database

from .. import audio as sounds
from ..data import writing
from ..errors import KioskError, ValidationError
from ..i18n import LANGUAGES, _
from ..spreadsheets import ImportRefused, Problem, data_rows, decode, separator
from . import models

MiB = 1024 * 1024
MAX_FILE = 32 * MiB  # 2,000 stories with long transcripts
MAX_ROWS = 2000
MAX_RECORDING = 40 * MiB  # as a recording uploaded at the kiosk
MAX_PHOTO_FILE = 30 * MiB  # a phone's photo; kiosk.media shrinks it before keeping it
COLUMNS = ("title", "teller", "village", "when", "language", "tags", "consent", "status",
           "transcript", "text", "recording", "photos", "recorded_by")
REQUIRED = ("title", "teller", "consent")
STATUSES = ("pending", "approved")
# The checks' field names, as the file names its columns.
FIELD_COLUMNS = {"teller_name": "teller", "body": "text", "lang": "language",
                 "audio": "recording"}


@dataclass
class Row:
    line: int
    story_id: str
    fields: dict
    status: str
    recorded_by: str
    recording: Path | None = None
    audio: dict | None = None  # {"sha", "kind", "bytes", "seconds"}
    photos: list[Path] = field(default_factory=list)
    outcome: str = "added"  # added; already (imported before); withdrawn (by its teller)


def read_rows(path: Path) -> tuple[list[dict], list[Problem]]:
    """The file's rows as {column: text} with their line numbers (``_line``), and the problems
    of its header and of lines that cannot be read."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise KioskError(_("Cannot read %(path)s: %(error)s", path=path, error=e.strerror)) \
            from None
    if size > MAX_FILE:
        raise KioskError(_("%(path)s is larger than %(size)d MB: split it into smaller files.",
                           path=path.name, size=MAX_FILE // MiB))
    text = decode(path.read_bytes(), path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator(text))
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise KioskError(_("%(path)s is not a CSV file we can read: %(error)s", path=path.name,
                           error=e)) from None
    if not header or not any(h.strip() for h in header):
        raise KioskError(_("%(path)s is empty: its first line must name the columns (title, "
                           "teller, consent...).", path=path.name))
    problems: list[Problem] = []
    columns: list[str] = []
    for raw in header:
        name = unicodedata.normalize("NFC", raw).strip()
        key = name.lower()
        if key not in COLUMNS:
            problems.append(Problem(1, name, _("Unknown column. The columns are: %(columns)s.",
                                               columns=", ".join(COLUMNS))))
        elif key in columns:
            problems.append(Problem(1, name, _("This column is there twice.")))
        columns.append(key if key in COLUMNS else "")
    for needed in REQUIRED:
        if needed not in columns:
            problems.append(Problem(1, needed, _("The column is missing.")))
    rows = data_rows(reader, columns, problems, limit=MAX_ROWS, too_many=_(
        "%(path)s has more than %(count)d stories: split it into smaller files.",
        path=path.name, count=MAX_ROWS))
    return rows, problems


def beside(folder: Path, name: str) -> tuple[Path | None, str | None]:
    """The file a row names: its name, or a path inside the CSV file's folder (never outside
    it, not even through a link); or the problem with it."""
    text = name.strip().replace("\\", "/")
    inside = _("Give the file's name, or a path inside the CSV file's folder.")
    if PurePosixPath(text).is_absolute() or re.match(r"^[A-Za-z]:", text) or \
            ".." in PurePosixPath(text).parts:
        return None, inside
    path = folder / text
    try:
        real = path.resolve()
        if not real.is_relative_to(folder.resolve()):
            return None, inside
        if not real.is_file():
            return None, _("There is no such file beside the CSV file.")
    except OSError as e:
        return None, e.strerror or str(e)
    return real, None


def read_recording(path: Path) -> tuple[dict | None, str | None]:
    """The recording's SHA-256, kind, size and length, checked by its content (a sound of the
    kinds a story keeps, within the kiosk's limit), without keeping it; or the problem."""
    try:
        size = path.stat().st_size
        if size > MAX_RECORDING:  # refused before it is read
            return None, _("The recording is larger than %(size)d MB.",
                           size=MAX_RECORDING // MiB)
        data = path.read_bytes()
    except OSError as e:
        return None, e.strerror or str(e)
    try:
        sound = sounds.check(data, kinds=sounds.STORY_KINDS, limit=MAX_RECORDING)
    except KioskError as e:
        return None, str(e)
    return {"sha": hashlib.sha256(data).hexdigest(), "kind": sound.kind, "bytes": len(data),
            "seconds": seconds(data, sound)}, None


def seconds(data: bytes, sound) -> int:
    """How long a recording lasts, from its container (Ogg's last granule position, WAV's byte
    rate); 0 when it does not say cheaply (WebM, MP3)."""
    try:
        if sound.extension == "ogg":
            last = data.rfind(b"OggS", max(0, len(data) - 65536))
            granule = int.from_bytes(data[last + 6:last + 14], "little", signed=True)
            segments = data[26]
            head = data[27 + segments:27 + segments + 16]
            if head.startswith(b"OpusHead"):
                skip = int.from_bytes(head[10:12], "little")
                return max(0, round((granule - skip) / 48000))
            if head.startswith(b"\x01vorbis"):
                rate = int.from_bytes(head[12:16], "little")
                return max(0, round(granule / rate)) if rate else 0
        if sound.extension == "wav":
            rate = int.from_bytes(data[28:32], "little")
            return max(0, round((len(data) - 44) / rate)) if rate else 0
    except (IndexError, ValueError):
        pass
    return 0


def check_photo(path: Path, prepare_photo) -> str | None:
    """The problem with a photo, or None when it can be kept."""
    try:
        if path.stat().st_size > MAX_PHOTO_FILE:
            return _("The file is larger than 30 MB.")
        prepare_photo(path.read_bytes())
    except KioskError as e:
        return str(e)
    except OSError as e:
        return e.strerror or str(e)
    return None


def _key(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def story_key(centre_id: str, title: str, teller: str, sha: str | None) -> str:
    """An imported story's id: a UUIDv5 of its centre, title, teller and recording, so a file
    imported twice finds its stories already there (and a withdrawn one stays withdrawn)."""
    return models.stable_id("import", json.dumps([centre_id, _key(title), _key(teller),
                                                  sha or ""]))


def _language(value: str) -> str | None:
    text = value.strip()
    if not text:
        return ""
    for code, language in LANGUAGES.items():
        if text.lower().replace("-", "_") == code.lower() or \
                text.casefold() == language.name.casefold():
            return code
    return None


def check_file(db: Database, path: Path, *, centre_id: str, now: dt.datetime,
               prepare_photo) -> list[Row]:
    """Every row of the file checked, with every file it names; ImportRefused with every
    problem, by line, otherwise. Rows imported before are marked ``already``; rows whose story
    was withdrawn by its teller, ``withdrawn``."""
    rows, problems = read_rows(path)
    folder = path.parent
    seen: dict[str, int] = {}
    checked = []
    for row in rows:
        line = row["_line"]
        said = len(problems)

        def problem(column: str, message: str) -> None:
            problems.append(Problem(line, column, message))

        recording = None
        audio = None
        if row.get("recording", "").strip():
            recording, trouble = beside(folder, row["recording"])
            if recording is not None:
                audio, trouble = read_recording(recording)
            if trouble:
                problem("recording", f"{row['recording'].strip()}: {trouble}")
        photos = []
        for name in [n.strip() for n in re.split(r"[;|]", row.get("photos", "")) if n.strip()]:
            photo, trouble = beside(folder, name)
            if photo is not None:
                trouble = check_photo(photo, prepare_photo)
            if trouble:
                problem("photos", f"{name}: {trouble}")
            else:
                photos.append(photo)
        if len(photos) > models.MAX_PHOTOS:
            problem("photos", _("A story may have %(count)d photos at most.",
                                count=models.MAX_PHOTOS))
        consent = row.get("consent", "").strip().lower()
        if consent not in models.CONSENTS:
            problem("consent", _("Write who may hear the story: centre, region or public."))
        status = row.get("status", "").strip().lower() or "pending"
        if status not in STATUSES:
            problem("status", _("Write approved, or pending (or leave it empty): the story "
                                "then waits for review."))
        lang = _language(row.get("language", ""))
        if lang is None:
            problem("language", _("Write one of these languages: %(codes)s.",
                                  codes=", ".join(LANGUAGES)))
        fields = {"title": row.get("title", ""), "teller_name": row.get("teller", ""),
                  "village": row.get("village", ""), "when": row.get("when", ""),
                  "lang": lang or "", "tags": row.get("tags", ""),
                  "body": row.get("text", ""), "transcript": row.get("transcript", ""),
                  "consent": consent if consent in models.CONSENTS else "centre"}
        # A recording or photo named but refused is said once, above.
        named = bool(row.get("recording", "").strip() or row.get("photos", "").strip())
        values, errors = models.validate(fields, this_year=now.year, has_media=named)
        for name, messages in errors.items():
            for message in messages:
                problem(FIELD_COLUMNS.get(name, name), message)
        if not errors.get("teller_name") and not values["teller_name"]:
            problem("teller", _("Write who tells the story."))
        recorded_by = models._text(row.get("recorded_by", ""), models.MAX_NAME)
        if recorded_by is None:
            problem("recorded_by", _("Write who recorded the story, %(count)d letters at "
                                     "most.", count=models.MAX_NAME))
        if len(problems) > said:
            continue
        story_id = story_key(centre_id, values["title"], values["teller_name"],
                             audio and audio["sha"])
        if story_id in seen:
            problem("", _("The same story as line %(other)d (the same title, teller and "
                          "recording).", other=seen[story_id]))
            continue
        seen[story_id] = line
        item = Row(line=line, story_id=story_id, fields=fields, status=status,
                   recorded_by=recorded_by or "", recording=recording, audio=audio,
                   photos=photos)
        if db.execute("SELECT 1 FROM stories WHERE id = ?", [story_id]).fetchone():
            item.outcome = "already"
        elif models.was_withdrawn(db, story_id):
            item.outcome = "withdrawn"
        checked.append(item)
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: p.line), path)
    return checked


def write_rows(db: Database, rows: list[Row], *, centre_id: str, store, prepare_photo,
               now: dt.datetime, source: str) -> list[dict]:
    """Store the recordings and photos first (blobs are named by their content: a file refused
    later leaves only blobs nothing names), then write every new story in one transaction.
    ``source``: the file's name, kept as who reviewed the rows marked approved."""
    new = [row for row in rows if row.outcome == "added"]
    shas: dict[int, list[str]] = {}
    for row in new:
        if row.recording is not None:
            with row.recording.open("rb") as f:
                sha = store.add(f).sha
            if sha != row.audio["sha"]:
                raise KioskError(_("%(file)s changed while it was imported: nothing was "
                                   "imported. Import the file again.", file=row.recording.name))
        shas[row.line] = [store.add_bytes(prepare_photo(p.read_bytes())).sha
                          for p in row.photos]
    with writing(db):
        for row in new:
            by = {"id": "", "name": row.recorded_by}
            models.save_story(db, centre_id=centre_id, fields=row.fields, by=by, now=now,
                              audio=row.audio, photos=shas[row.line],
                              new_story_id=row.story_id)
            if row.status == "approved":
                models.review(db, centre_id=centre_id, story_id=row.story_id,
                              action="approve", note="", by={"id": "", "name": source},
                              now=now)
    return [{"line": row.line, "id": row.story_id, "outcome": row.outcome} for row in rows]


def import_file(db: Database, path: Path, *, centre_id: str, store, prepare_photo,
                now: dt.datetime) -> list[dict]:
    """Check the whole file, then write it; ImportRefused (nothing written) when any row is
    wrong. Returns each story's line, id and outcome (added, already, withdrawn)."""
    rows = check_file(db, path, centre_id=centre_id, now=now, prepare_photo=prepare_photo)
    try:
        return write_rows(db, rows, centre_id=centre_id, store=store,
                          prepare_photo=prepare_photo, now=now, source=path.name)
    except ValidationError as e:  # changed between the check and the write (another writer)
        raise KioskError(_("Nothing was imported: %(error)s", error=e)) from None
