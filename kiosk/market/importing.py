"""A cooperative's products from a spreadsheet (``infocentre market import``): read a CSV, check
every row, and write them all in one transaction, or nothing.

The columns are documented in the project's README ("The market from the command line").
Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n``, ``kiosk.pictures`` (through
``kiosk.media.prepare_photo``) and the area's models; no Flask request globals: the store of
photos, the languages and the currency are passed in.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from ..data import fetch, writing
from ..errors import KioskError, ValidationError
from ..i18n import _
from ..spreadsheets import ImportRefused, Problem, data_rows, decode, separator
from . import models

MAX_FILE = 10 * 1024 * 1024  # a spreadsheet of 5,000 products weighs about 1 MB
MAX_ROWS = 5000
MAX_PHOTO_FILE = 30 * 1024 * 1024  # a phone's photo; kiosk.media shrinks it before keeping it
MAX_CODE = 40
YES = {"yes", "y", "1", "true", "si", "sí", "s", "oui", "ari", "x"}
NO = {"no", "n", "0", "false", "non", "mana"}
COLUMNS = ("code", "name", "description", "category", "unit", "price", "stock", "active",
           "photos")


@dataclass
class Row:
    line: int
    code: str
    fields: dict
    photos: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, prepared JPEG)
    product_id: str | None = None
    outcome: str = "added"  # added, updated, unchanged


def _language_of(suffix: str, languages: tuple[str, ...]) -> str | None:
    for code in languages:
        if code.lower() == suffix.lower().replace("-", "_"):
            return code
    return None


def read_rows(path: Path, *, languages: tuple[str, ...], default_language: str
              ) -> tuple[list[dict], dict[str, tuple[str, str]], list[Problem]]:
    """The file's rows as {column: text} with their line numbers (``_line``); the text columns
    as {column: (field, language)}; and the problems of the header."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise KioskError(_("Cannot read %(path)s: %(error)s", path=path, error=e.strerror)) \
            from None
    if size > MAX_FILE:
        raise KioskError(_("%(path)s is larger than 10 MB: split it into smaller files.",
                           path=path.name))
    text = decode(path.read_bytes(), path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator(text))
    problems: list[Problem] = []
    try:
        header = next(reader, None)
    except csv.Error as e:
        raise KioskError(_("%(path)s is not a CSV file we can read: %(error)s", path=path.name,
                           error=e)) from None
    if not header or not any(h.strip() for h in header):
        raise KioskError(_("%(path)s is empty: its first line must name the columns (code, "
                           "name, category, unit, price...).", path=path.name))
    columns: list[str] = []
    texts: dict[str, tuple[str, str]] = {}
    for raw in header:
        name = unicodedata.normalize("NFC", raw).strip()
        key = name.lower()
        for kind in ("name", "description"):
            if key == kind:
                texts[name] = (kind, default_language)
            elif key.startswith(kind + "_"):
                lang = _language_of(name[len(kind) + 1:], languages)
                if lang is None:
                    problems.append(Problem(1, name, _(
                        "This language is not offered here (%(codes)s).",
                        codes=", ".join(languages))))
                else:
                    texts[name] = (kind, lang)
        if key not in COLUMNS and name not in texts and not problems_for(problems, name):
            problems.append(Problem(1, name, _("Unknown column. The columns are: %(columns)s.",
                                               columns=", ".join(COLUMNS))))
        if name in columns or key in [c.lower() for c in columns]:
            problems.append(Problem(1, name, _("This column is there twice.")))
        columns.append(key if key in COLUMNS else name)
    wanted_langs = [lang for kind, lang in texts.values() if kind == "name"]
    if "code" not in columns:
        problems.append(Problem(1, "code", _("The column is missing: each product needs the "
                                             "cooperative's own code for it.")))
    if not wanted_langs:
        problems.append(Problem(1, "name", _("The column is missing.")))
    for needed in ("category", "unit", "price"):
        if needed not in columns:
            problems.append(Problem(1, needed, _("The column is missing.")))
    seen_langs: dict[tuple[str, str], str] = {}
    for column, key in texts.items():
        if key in seen_langs:
            problems.append(Problem(1, column, _("This column is there twice.")))
        seen_langs[key] = column
    rows = data_rows(reader, columns, problems, limit=MAX_ROWS, too_many=_(
        "%(path)s has more than %(count)d products: split it into smaller files.",
        path=path.name, count=MAX_ROWS))
    return rows, texts, problems


def problems_for(problems: list[Problem], column: str) -> bool:
    return any(p.column == column for p in problems)


def _active(value: str) -> bool | None:
    text = (value or "").strip().lower()
    if not text:
        return True
    if text in YES:
        return True
    if text in NO:
        return False
    return None


def check_file(db: Database, path: Path, *, coop: dict, languages: tuple[str, ...],
               default_language: str, digits: int, prepare_photo) -> list[Row]:
    """Every row of the file checked, its photos read and prepared, and what it would do
    (added, updated, unchanged); ImportRefused with every problem, by line, otherwise."""
    rows, texts, problems = read_rows(path, languages=languages,
                                      default_language=default_language)
    existing = {p["code"]: p for p in fetch(
        db, "SELECT * FROM products WHERE cooperative_id = ? AND code != '' ORDER BY created_at",
        [coop["id"]])}
    seen: dict[str, int] = {}
    checked = []
    for row in rows:
        line = row["_line"]
        code, code_problems = models._text(row.get("code", ""), MAX_CODE, required=True,
                                           message=_("Give each product a code of 1 to 40 "
                                                     "characters, on one line."))
        if "\n" in code:
            code_problems = [_("Give each product a code of 1 to 40 characters, on one line.")]
        for message in code_problems:
            problems.append(Problem(line, "code", message))
        if code and not code_problems:
            if code in seen:
                problems.append(Problem(line, "code", _("%(code)s is on line %(other)d too.",
                                                        code=code, other=seen[code])))
            seen.setdefault(code, line)
        product = existing.get(code)
        # A column the file lacks leaves that field of a product as it is.
        have_texts = models.texts_of(db, product["id"]) if product else {}
        by_lang: dict[str, dict] = {}
        for column, (kind, lang) in texts.items():
            before = have_texts.get(lang, {"name": "", "description": ""})
            by_lang.setdefault(lang, {"name": before["name"],
                                      "description": before["description"]})
            by_lang[lang][kind] = row.get(column, "")
        by_lang = {lang: t for lang, t in by_lang.items() if t["name"].strip() or
                   t["description"].strip()}
        active = _active(row.get("active", ""))
        if active is None:
            problems.append(Problem(line, "active", _("Write yes or no.")))
        if "active" not in row and product:
            active = bool(product["active"])
        stock = row.get("stock", "").strip()
        fields = {"texts": by_lang, "category": row.get("category", "").strip().lower(),
                  "unit": row.get("unit", "").strip().lower(), "price": row.get("price", ""),
                  "stock": stock or None, "active": bool(active)}
        clean, errors = models.check_product(fields, languages=languages, digits=digits)
        # A price typed as 2,50 is read as 2.50 by check_product; a stock of -3 is not a
        # number it accepts. The messages name the column as the file does.
        names = {f"{kind}_{lang}": column for column, (kind, lang) in texts.items()}
        for key, messages in errors.items():
            for message in messages:
                problems.append(Problem(line, names.get(key, key), message))
        photos = []
        for name in [n.strip() for n in row.get("photos", "").split("|") if n.strip()]:
            photo, problem = _read_photo(path.parent, name, prepare_photo)
            if problem:
                problems.append(Problem(line, "photos", f"{name}: {problem}"))
            else:
                photos.append((name, photo))
        have = _photos_of(db, product["id"]) if product else set()
        new = {hashlib.sha256(p).hexdigest() for _name, p in photos} - have
        if len(have) + len(new) > models.MAX_PHOTOS:
            problems.append(Problem(line, "photos", _(
                "A product can have up to %(count)d photos.", count=models.MAX_PHOTOS)))
        if errors or code_problems:
            continue
        item = Row(line=line, code=code, fields=fields, photos=photos,
                   product_id=product["id"] if product else None)
        if product:
            item.outcome = "unchanged" if _same(db, product, clean, new) else "updated"
        checked.append(item)
    if problems:
        raise ImportRefused(sorted(problems, key=lambda p: p.line), path)
    return checked


def _read_photo(folder: Path, name: str, prepare_photo) -> tuple[bytes | None, str | None]:
    """A photo beside the CSV, ready to keep; or the problem with it."""
    if "/" in name or "\\" in name or name in (".", ".."):
        return None, _("Give the photo's file name only; it must be beside the CSV file.")
    path = folder / name
    if not path.is_file():
        return None, _("There is no such file beside the CSV file.")
    if path.stat().st_size > MAX_PHOTO_FILE:
        return None, _("The file is larger than 30 MB.")
    try:
        return prepare_photo(path.read_bytes()), None
    except KioskError as e:
        return None, str(e)
    except OSError as e:
        return None, e.strerror or str(e)


def _photos_of(db: Database, product_id: str) -> set[str]:
    return {r["photo"] for r in fetch(db, "SELECT photo FROM product_photos WHERE "
                                          "product_id = ? AND removed = 0", [product_id])}


def _same(db: Database, product: dict, clean: dict, new_photos: set[str]) -> bool:
    """Whether writing ``clean`` would change nothing of the product."""
    if new_photos or any(product[k] != clean[k] for k in ("category", "unit", "price", "active")):
        return False
    if "stock" in clean and clean["stock"] != models.stock_of(db, product["id"]):
        return False
    have = models.texts_of(db, product["id"])
    return all(lang in have and have[lang]["name"] == t["name"] and
               have[lang]["description"] == t["description"]
               for lang, t in clean["texts"].items())


def write_rows(db: Database, rows: list[Row], *, coop: dict, centre_id: str,
               languages: tuple[str, ...], digits: int, store, now: dt.datetime) -> list[dict]:
    """Store the photos (blobs are named by their content: a file refused later leaves only
    photos nothing points to), then write every product in one transaction."""
    shas = {id(row): [store.add_bytes(photo).sha for _name, photo in row.photos]
            for row in rows if row.outcome != "unchanged"}
    made = []
    with writing(db):
        for row in rows:
            if row.outcome != "unchanged":
                row.product_id = models.save_product(
                    db, centre_id=centre_id, coop_id=coop["id"], fields=row.fields,
                    languages=languages, now=now, by_id=None, product_id=row.product_id,
                    photos=shas[id(row)], digits=digits, code=row.code)
            made.append({"line": row.line, "code": row.code, "id": row.product_id,
                         "outcome": row.outcome})
    return made


def import_file(db: Database, path: Path, *, coop: dict, centre_id: str,
                languages: tuple[str, ...], default_language: str, digits: int, store,
                prepare_photo, now: dt.datetime) -> list[dict]:
    """Check the whole file, then write it; ImportRefused (nothing written) when any row is
    wrong. Returns each product's line, code, id and outcome."""
    rows = check_file(db, path, coop=coop, languages=languages,
                      default_language=default_language, digits=digits,
                      prepare_photo=prepare_photo)
    try:
        return write_rows(db, rows, coop=coop, centre_id=centre_id, languages=languages,
                          digits=digits, store=store, now=now)
    except ValidationError as e:  # changed between the check and the write (another writer)
        raise KioskError(_("Nothing was imported: %(error)s", error=e)) from None
