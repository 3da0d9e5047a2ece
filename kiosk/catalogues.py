"""Gettext catalogues: extract messages from the code, update the ``.po`` files, compile them.

Used by ``scripts/catalogues.py``, the tests and the wheel build (``setup.py`` loads this file on
its own, so it must import Babel and the standard library only). Where to look for messages is
``babel.cfg``'s, as ``pybabel extract -F babel.cfg`` reads it. Kichwa entries that no
Kichwa speaker has reviewed carry the comment ``#. unreviewed``; updating keeps it (Babel would
otherwise replace such comments with the ones found in the code).
"""

from __future__ import annotations

import copy
import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None,
            "N_": None}
UNREVIEWED = "unreviewed"


def extract(root: Path = ROOT) -> Catalog:
    """Every translatable message in the code and templates."""
    catalog = Catalog(project="infocentre", version="0.1", charset="utf-8")
    with (root / "babel.cfg").open(encoding="utf-8") as f:
        methods, options = parse_mapping_cfg(f)
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), methods, options_map=options, keywords=KEYWORDS,
            comment_tags=("NOTE:",), strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments,
                    context=context)
    return catalog


def catalogue_path(code: str, locales: Path = LOCALES) -> Path:
    return locales / code / "LC_MESSAGES" / "messages.po"


def codes(locales: Path = LOCALES) -> list[str]:
    return sorted(p.parent.parent.name for p in locales.glob("*/LC_MESSAGES/messages.po"))


def read(code: str, locales: Path = LOCALES) -> Catalog:
    with catalogue_path(code, locales).open("rb") as f:
        return read_po(f, locale=code)


def write(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=False, ignore_obsolete=True,
             include_previous=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def update(locales: Path = LOCALES) -> Catalog:
    """Merge the messages found in the code into every catalogue; returns the template."""
    template = extract()
    write(template, locales / "messages.pot")
    for code in codes(locales):
        catalog = read(code, locales)
        unreviewed = {m.id for m in catalog if m.id and UNREVIEWED in m.auto_comments}
        catalog.update(template, no_fuzzy_matching=True)
        for message in catalog:
            if message.id in unreviewed and UNREVIEWED not in message.auto_comments:
                message.auto_comments.append(UNREVIEWED)
        write(catalog, catalogue_path(code, locales))
    return template


def compile_all(locales: Path = LOCALES, into: Path | None = None) -> list[Path]:
    """Write every ``messages.po``'s ``messages.mo`` beside it, or into the same place under
    ``into`` (the wheel build's copy); fuzzy and untranslated entries are left out (see
    ``translated_only``). Returns the files changed."""
    written = []
    for code in codes(locales):
        catalog = read(code, locales)
        target = catalogue_path(code, into or locales).with_suffix(".mo")
        target.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        write_mo(buffer, translated_only(catalog))
        if not target.exists() or target.read_bytes() != buffer.getvalue():
            target.write_bytes(buffer.getvalue())
            written.append(target)
    return written


def translated_only(catalog: Catalog) -> Catalog:
    """A copy of ``catalog`` without its fuzzy or untranslated messages, for compiling.

    Babel's ``write_mo`` drops an empty singular but writes a plural whose forms are all
    empty with the source's own forms, and fills one missing form the same way: the compiled
    catalogue then *has* the message, in English, and gettext never asks the fallback
    (Spanish, for Kichwa). Left out, the message falls through to the next catalogue.
    """
    kept = copy.deepcopy(catalog)
    for message in list(kept):
        if message.id and not is_translated(message):
            kept.delete(message.id, context=message.context)
    return kept


def is_translated(message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return bool(message.id) and not message.fuzzy and all(strings)


def problems(catalog: Catalog) -> list[str]:
    """Placeholders that differ from the source, and other errors Babel's checkers find."""
    found = []
    for message, errors in catalog.check():
        for error in errors:
            found.append(f"{message.id!r}: {error}")
    return found
