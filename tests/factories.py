"""Rows made through the areas' models, with sensible defaults (no factory library)."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from pathlib import Path

from kiosk.auth import models as accounts
from sync.engine.state import applying

_numbers = itertools.count(1)
PIN = "2468"
PASSWORD = "a-long-staff-password"
WHEN = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc)


def make_account(db, centre_id: str, *, role: str = "villager", name: str | None = None,
                 pin: str | None = PIN, password: str | None = None, lang: str | None = None,
                 now: dt.datetime = WHEN) -> dict:
    """An account; one of another centre arrives as sync would bring it (a node may not write
    another centre's rows itself)."""
    if role == "regional":
        pin, password = None, password or PASSWORD
    with received(db, centre_id):
        return accounts.add_account(db, centre_id=centre_id,
                                    name=name or f"Persona {next(_numbers)}", role=role, pin=pin,
                                    password=password, lang=lang, now=now)


def make_village(db, centre_id: str, names, *, pin: str = PIN) -> list[dict]:
    """Villagers of this centre who all sign in with ``pin``, hashed once: a thousand slow
    hashes would take minutes."""
    people = [accounts.add_account(db, centre_id=centre_id, name=name, role="villager",
                                   now=WHEN) for name in names]
    db.execute("UPDATE accounts SET pin_hash = ? WHERE centre_id = ? AND pin_hash IS NULL "
               "AND role = 'villager'", [accounts.hash_secret(pin), centre_id])
    return people


@contextlib.contextmanager
def received(db, centre_id: str):
    """Writes in this block are made as the sync engine applies rows from the hub."""
    own = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    with applying(db) if centre_id != own else contextlib.nullcontext():
        yield


def count(db, table: str) -> int:
    return db.table(table).count


def make_course(db, tmp_path, *, lessons: int = 3, pack_id: str = "basics", version: int = 1,
                questions: int = 3, pass_mark: int = 60, languages=("es", "en"),
                centre_id: str | None = None, role: str = "node", now: dt.datetime = WHEN
                ) -> dict:
    """A course installed from a pack written in ``tmp_path``: ``lessons`` reading lessons
    ("lesson-1"...) then one quiz ("final-quiz") of ``questions`` questions (see
    ``tests/packs.py`` for the right answers). Media go to the store beside the database.

    Returns ``{"id", "pack", "folder", "lessons": [reading lesson ids], "quiz": its id}``.
    """
    from kiosk.courses import packs

    from .packs import install, write_pack

    keys = tuple(f"lesson-{n}" for n in range(1, lessons + 1))
    folder = write_pack(Path(tmp_path) / f"pack-{pack_id}-{version}", pack_id=pack_id,
                        version=version, lessons=keys, questions=questions,
                        pass_mark=pass_mark, languages=tuple(languages))
    database = Path(db.execute("PRAGMA database_list").fetchone()[2])
    own = db.execute("SELECT node_id FROM _sync_state").fetchone()[0]
    install(db, folder, centre_id=centre_id or own, role=role, data_dir=database.parent,
            now=now)
    return {"id": packs.course_id(pack_id), "pack": pack_id, "folder": folder,
            "lessons": [packs.lesson_id(pack_id, key) for key in keys],
            "quiz": packs.lesson_id(pack_id, "final-quiz") if questions else None}


def take_quiz(db, course: dict, learner_id: str, *, right: bool, centre_id: str,
              now: dt.datetime = WHEN) -> dict:
    """One whole try of the course's quiz, every answer right or every answer wrong."""
    from kiosk.courses import models

    lesson = models.get_lesson(db, course["id"], course["quiz"], "en")
    result = {}
    for question in models.questions_of(db, course["quiz"], "en"):
        wrong = [c for c, _words in question["choices"] if c not in question["correct"]]
        result = models.answer(db, centre_id=centre_id, learner_id=learner_id, lesson=lesson,
                               question_id=question["id"], now=now,
                               chosen=question["correct"] if right else wrong[:1])
    return result


def finish_lessons(db, course: dict, learner_id: str, *, upto: int | None = None,
                   centre_id: str, now: dt.datetime = WHEN) -> None:
    """Read the course's first ``upto`` reading lessons (all of them by default) to the end."""
    from kiosk.courses import models

    for lesson_id in course["lessons"][:upto]:
        lesson = models.get_lesson(db, course["id"], lesson_id, "en")
        models.finish_lesson(db, centre_id=centre_id, learner_id=learner_id, lesson=lesson,
                             now=now)


# The market: cooperatives and products made through its models.


def make_cooperative(db, centre_id: str, *, name: str | None = None, village: str = "Peguche",
                     description: str = "", contact: str = "", photo: str | None = None,
                     now: dt.datetime = WHEN) -> dict:
    """A cooperative of ``centre_id`` (one of another centre arrives as sync would bring it)."""
    from kiosk.market import models

    with received(db, centre_id):
        coop_id = models.create_cooperative(
            db, centre_id=centre_id, now=now, photo=photo,
            fields={"name": name or f"Cooperativa {next(_numbers)}", "village": village,
                    "description": description, "contact": contact})
    return models.get_cooperative(db, coop_id)


def make_product(db, coop: dict, *, names: dict[str, str] | None = None,
                 descriptions: dict[str, str] | None = None, price: int = 250,
                 stock: int = 10, category: str = "food", unit: str = "jar",
                 photos: list[str] = (), active: bool = True, now: dt.datetime = WHEN) -> str:
    """A product of the cooperative, named per language (``{"es": "Mermelada"}``); ``price``
    in cents; ``photos``: SHA-256s already in the media store."""
    from kiosk.market import models

    names = names or {"es": f"Producto {next(_numbers)}"}
    descriptions = descriptions or {}
    texts = {lang: {"name": name, "description": descriptions.get(lang, "")}
             for lang, name in names.items()}
    with received(db, coop["centre_id"]):
        return models.save_product(
            db, centre_id=coop["centre_id"], coop_id=coop["id"], languages=tuple(names),
            now=now, by_id=None, photos=list(photos),
            # as typed: check_product reads an int price as whole units, not cents
            fields={"texts": texts, "category": category, "unit": unit,
                    "price": f"{price // 100}.{price % 100:02}", "stock": stock,
                    "active": active})


def make_centre(db, name: str, *, centre_id: str | None = None, now: dt.datetime = WHEN) -> str:
    """Another centre of the region, as the hub's sync would bring its row."""
    import uuid

    from kiosk.admin import models as admin

    centre_id = centre_id or str(uuid.uuid4())
    with received(db, "hub"):
        admin.add_centre(db, centre_id=centre_id, name=name, role="node", now=now,
                         owner_id="hub")
    return centre_id


# Stories: told, reviewed, through the area's models.


def make_story(db, centre_id: str, *, by: dict, status: str = "approved", note: str = "",
               audio: dict | None = None, photos: list[str] = (), now: dt.datetime = WHEN,
               **fields) -> str:
    """A story told at ``centre_id``, recorded by ``by`` (an account), then reviewed into
    ``status`` ("pending" leaves it waiting); ``fields`` as the form sends them (title,
    teller_name, teller_id, village, when, lang, tags, body, transcript, consent). One of
    another centre arrives as sync would bring it. Returns its id."""
    from kiosk.stories import models

    values = {"title": f"Historia {next(_numbers)}", "teller_name": by["name"],
              "consent": "region", "lang": "es", "transcript": "Había una vez", **fields}
    action = {"approved": "approve", "returned": "return", "hidden": "hide"}.get(status)
    with received(db, centre_id):
        story_id = models.save_story(db, centre_id=centre_id, fields=values, by=by, now=now,
                                     audio=audio, photos=list(photos))
        if action:
            models.review(db, centre_id=centre_id, story_id=story_id, action=action,
                          note=note or ("" if action == "approve" else "Falta el final"),
                          by=by, now=now)
    return story_id


# Stories: told at a centre (at the hub, one of a centre arrives as sync would bring it).


def told_story(db, centre_id: str, *, title: str = "La minga del canal",
               status: str = "approved", consent: str = "region", audio: bytes | None = None,
               photos: list[bytes] = (), now: dt.datetime = WHEN, **fields) -> str:
    """A story of ``centre_id``, reviewed into ``status``; ``audio`` and ``photos``: the bytes
    of a recording and of photos, put in the media store beside the database. Its id."""
    from kiosk.audio import recognise
    from kiosk.stories import models
    from sync.media import Store

    database = Path(db.execute("PRAGMA database_list").fetchone()[2])
    store = Store(database.parent / "media")
    sound = None
    if audio is not None:
        kind = recognise(audio)
        sound = {"sha": store.add_bytes(audio).sha, "kind": kind.kind, "bytes": len(audio),
                 "seconds": 0}
    shas = [store.add_bytes(p).sha for p in photos]
    values = {"teller_name": "Mama Rosa", "village": "Urcuquí", "when": "1970s", "lang": "es",
              "tags": "agua, minga", "body": "", "transcript": "Cuando éramos jóvenes.",
              **fields, "title": title, "consent": consent}
    by = {"id": "", "name": "Facilitadora"}
    with received(db, centre_id):
        story_id = models.save_story(db, centre_id=centre_id, fields=values, by=by, now=now,
                                     audio=sound, photos=shas, reviewer=True)
        action = {"approved": "approve", "returned": "return", "hidden": "hide"}.get(status)
        if action:
            models.review(db, centre_id=centre_id, story_id=story_id, action=action,
                          note="" if action == "approve" else "Falta el año.", by=by, now=now)
    return story_id
