"""Installing course packs in one transaction, and what is installed.

Imports ``kiosk.data``, ``kiosk.i18n``, ``sync`` and the area's ``packs`` and ``reading``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json

from sqlite_utils import Database

from sync.engine.state import applying, immediate
from sync.errors import MediaError

from ...data import fetch, iso
from ...errors import KioskError
from ...i18n import _
from .. import packs
from ..packs import Pack
from .reading import course_text


def _upsert(db: Database, table: str, row: dict) -> bool:
    """Insert the row, or update the columns that differ; True if anything changed."""
    columns = list(row)
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    others = [c for c in columns if c != "id"]
    sets = ", ".join(f'"{c}" = excluded."{c}"' for c in others)
    differs = " OR ".join(f'"{c}" IS NOT excluded."{c}"' for c in others)
    cursor = db.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks}) ON CONFLICT (id) DO '
                        f"UPDATE SET {sets} WHERE {differs}", [row[c] for c in columns])
    return cursor.rowcount > 0


def installed_version(db: Database, pack_id: str) -> int | None:
    row = db.execute("SELECT version FROM courses WHERE id = ?",
                     [packs.course_id(pack_id)]).fetchone()
    return row[0] if row else None


def import_pack(db: Database, pack: Pack, *, centre_id: str, role: str, store,
                now: dt.datetime, on_step=None) -> str:
    """Install or update a checked pack in one transaction: "new", "updated" or "same".

    Raises KioskError for a version older than the one installed (nothing changes). Files go to
    the media store first; they are content-addressed, so a failed import leaves nothing wrong.
    """
    before = installed_version(db, pack.id)
    if before == pack.version:
        return "same"
    if before is not None and before > pack.version:
        raise KioskError(_("%(pack)s: version %(version)d is older than the installed version "
                           "%(installed)d; nothing was changed.", pack=pack.id,
                           version=pack.version, installed=before))
    step = on_step or (lambda what: None)
    for sha, relative in pack.files.items():
        if not store.has(sha):
            try:
                with packs.open_file(pack.folder, relative) as f:  # still no link followed
                    stored = store.add(f).sha
            except MediaError:  # grew past its limit since it was checked
                stored = None
            if stored != sha:
                raise KioskError(_("%(file)s changed while the pack was being imported; "
                                   "nothing was changed. Import it again.", file=relative))
    step("media")
    cid = pack.course_id
    quiet = applying(db) if role == "node" else contextlib.nullcontext()
    with immediate(db), quiet:
        _upsert(db, "courses", {"id": cid, "centre_id": centre_id, "pack": pack.id,
                                "version": pack.version, "topic": pack.topic,
                                "languages": " ".join(pack.languages), "image": pack.image,
                                "updated_at": iso(now)})
        for lang in pack.languages:
            _upsert(db, "course_texts", {"id": packs.text_id(cid, lang), "centre_id": centre_id,
                                         "course_id": cid, "lang": lang,
                                         "title": pack.title[lang],
                                         "summary": pack.summary[lang]})
        kept_lessons, kept_questions = [], []
        for position, lesson in enumerate(pack.lessons, 1):
            lid = packs.lesson_id(pack.id, lesson.key)
            kept_lessons.append(lid)
            _upsert(db, "lessons", {"id": lid, "centre_id": centre_id, "course_id": cid,
                                    "key": lesson.key, "position": position,
                                    "kind": lesson.kind, "minutes": lesson.minutes,
                                    "image": lesson.image, "pass_mark": lesson.pass_mark,
                                    "retired": 0})
            for lang in pack.languages:
                _upsert(db, "lesson_texts", {"id": packs.text_id(lid, lang),
                                             "centre_id": centre_id, "lesson_id": lid,
                                             "lang": lang, "title": lesson.titles[lang],
                                             "body": lesson.bodies.get(lang, ""),
                                             "audio": lesson.audio.get(lang)})
            for qpos, question in enumerate(lesson.questions, 1):
                qid = packs.question_id(pack.id, question.key)
                kept_questions.append(qid)
                _upsert(db, "questions", {"id": qid, "centre_id": centre_id, "lesson_id": lid,
                                          "key": question.key, "position": qpos,
                                          "choices": json.dumps(question.choices),
                                          "correct": json.dumps(question.correct),
                                          "image": question.image, "retired": 0})
                for lang in pack.languages:
                    _upsert(db, "question_texts", {
                        "id": packs.text_id(qid, lang), "centre_id": centre_id,
                        "question_id": qid, "lang": lang, "prompt": question.prompt[lang],
                        "choices": json.dumps(question.choice_texts[lang], ensure_ascii=False),
                        "explanation": question.explanation.get(lang, "")})
            step("lesson")
        # Left out of this version: retired, never deleted (progress points at them).
        marks = ",".join("?" for _ in kept_lessons)
        db.execute(f"UPDATE lessons SET retired = 1 WHERE course_id = ? AND retired = 0 "
                   f"AND id NOT IN ({marks})", [cid, *kept_lessons])
        marks = ",".join("?" for _ in kept_questions) or "''"
        db.execute(f"UPDATE questions SET retired = 1 WHERE retired = 0 AND lesson_id IN "
                   f"(SELECT id FROM lessons WHERE course_id = ?) AND id NOT IN ({marks})",
                   [cid, *kept_questions])
        for sha in pack.files:
            _upsert(db, "course_media", {"id": packs.media_id(cid, sha), "centre_id": centre_id,
                                         "course_id": cid, "sha256": sha})
    return "new" if before is None else "updated"


def installed(db: Database, lang: str) -> list[dict]:
    """The installed courses, for ``content list``."""
    found = []
    for course in fetch(db, "SELECT id, pack, version, topic, languages FROM courses "
                            "ORDER BY pack"):
        languages = course["languages"].split()
        text = course_text(db, course["id"], lang)
        lessons = db.execute("SELECT count(*) FROM lessons WHERE course_id = ? AND retired = 0",
                             [course["id"]]).fetchone()[0]
        found.append({"id": course["pack"], "title": text["title"],
                      "version": course["version"], "languages": languages,
                      "lessons": lessons, "topic": course["topic"],
                      "course_id": course["id"]})
    return found

