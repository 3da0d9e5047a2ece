"""Voices: a facilitator's recording of one text of a course read aloud (a lesson's page, a
question, one of its answers), in one language, so that people who read little can listen.

A voice belongs to the centre that recorded it and travels to every centre (``SYNCED_TABLES``:
the blob follows its row). Its id is a UUIDv5 of the centre, the text and the language, so
recording again replaces the centre's own; where two centres recorded the same text in the same
language, the newest recording is the one heard. Taking a voice away keeps the row with no
audio (a deleted id could never be recorded again, ``sync/README.md``).

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and the area's ``packs`` and
``reading``.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from sqlite_utils import Database

from ...data import fetch, iso, writing
from ...errors import ValidationError
from ...i18n import _
from ..packs import NAMESPACE, split_pages
from .reading import questions_of

KINDS = ("page", "prompt", "choice")


def voice_id(centre_id: str, kind: str, target_id: str, part: str, lang: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"voice:{centre_id}:{kind}:{target_id}:{part}:{lang}"))


def page_count(db: Database, lesson_id: str) -> int:
    """The most pages the lesson has in any of its languages."""
    rows = db.execute("SELECT body FROM lesson_texts WHERE lesson_id = ?", [lesson_id])
    return max((len([p for p in split_pages(r[0]) if p.strip()]) or 1 for r in rows), default=0)


def check_target(db: Database, lesson: dict, kind: str, target_id: str, part: str) -> None:
    """ValidationError unless (kind, target, part) is one text of ``lesson``."""
    wrong = ValidationError({"target": [_("This text is not part of the lesson. Go back to the "
                                          "lesson and try again.")]})
    if kind not in KINDS or not isinstance(part, str) or len(part) > 40:
        raise wrong
    if kind == "page":
        if lesson["kind"] != "lesson" or target_id != lesson["id"]:
            raise wrong
        if not (part.isascii() and part.isdigit() and 1 <= int(part) <= page_count(
                db, lesson["id"])):
            raise wrong
        return
    if lesson["kind"] != "quiz":
        raise wrong
    row = db.execute("SELECT choices FROM questions WHERE id = ? AND lesson_id = ? AND "
                     "retired = 0", [target_id, lesson["id"]]).fetchone()
    if row is None:
        raise wrong
    if kind == "prompt" and part != "":
        raise wrong
    if kind == "choice" and part not in json.loads(row[0]):
        raise wrong


def texts_of(db: Database, lesson: dict, pages: list[str], lang: str) -> list[dict]:
    """Every text of ``lesson`` that a voice can read, in order: ``kind``, ``target``,
    ``part``, ``text`` (Markdown for a page) and ``lang`` (the language of the words shown).
    ``pages``: the lesson's pages in the language shown (lessons only)."""
    if lesson["kind"] == "lesson":
        return [{"kind": "page", "target": lesson["id"], "part": str(n), "text": page,
                 "lang": lesson["lang"]} for n, page in enumerate(pages, 1)]
    found = []
    for question in questions_of(db, lesson["id"], lang):
        found.append({"kind": "prompt", "target": question["id"], "part": "",
                      "text": question["prompt"], "lang": question["lang"]})
        found.extend({"kind": "choice", "target": question["id"], "part": choice,
                      "text": words, "lang": question["lang"]}
                     for choice, words in question["choices"])
    return found


def record(db: Database, *, centre_id: str, lesson: dict, kind: str, target_id: str, part: str,
           lang: str, sha: str | None, account_id: str, now: dt.datetime) -> bool:
    """Keep ``sha`` as this centre's voice of the text in ``lang``; None takes away the voice
    heard (another centre's too: the newest decision wins everywhere). The same recording sent
    twice changes nothing; returns whether anything changed."""
    check_target(db, lesson, kind, target_id, part)
    vid = voice_id(centre_id, kind, target_id, part, lang)
    with writing(db):
        row = db.execute("SELECT audio FROM voices WHERE id = ?", [vid]).fetchone()
        if row is not None and row[0] == sha:
            return False
        if row is None and sha is None and lang not in voices_of(db, lesson["id"]).get(
                (kind, target_id, part), {}):
            return False  # nothing heard to take away
        db.execute(
            "INSERT INTO voices (id, centre_id, course_id, lesson_id, target_kind, target_id, "
            "part, lang, audio, recorded_by, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?) ON CONFLICT (id) DO UPDATE SET audio = excluded.audio, recorded_by = "
            "excluded.recorded_by, recorded_at = excluded.recorded_at",
            [vid, centre_id, lesson["course_id"], lesson["id"], kind, target_id, part, lang,
             sha, account_id, iso(now)])
    return True


def voices_of(db: Database, lesson_id: str) -> dict[tuple[str, str, str], dict[str, dict]]:
    """The voices heard for the texts of a lesson: (kind, target, part) -> language -> the
    newest recording (``audio``, ``centre_id``, ``recorded_by``, ``recorded_at``); a text
    whose newest recording was taken away has none."""
    rows = fetch(db, "SELECT id, centre_id, target_kind, target_id, part, lang, audio, "
                     "recorded_by, recorded_at FROM voices WHERE lesson_id = ? "
                     "ORDER BY recorded_at, id", [lesson_id])
    found: dict[tuple[str, str, str], dict[str, dict]] = {}
    for row in rows:  # oldest first: the newest of each text and language stays
        found.setdefault((row["target_kind"], row["target_id"], row["part"]), {})[
            row["lang"]] = row
    return {key: kept for key, langs in found.items()
            if (kept := {lang: row for lang, row in langs.items() if row["audio"]})}


__all__ = ["KINDS", "check_target", "page_count", "record", "texts_of", "voice_id",
           "voices_of"]
