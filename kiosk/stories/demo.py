"""The stories' demo: at a centre, memories of its villages told by the demo people (and one by
a grandmother who has no account), approved under each consent (this centre, the region,
everyone), some with a recorded voice and a photo, and one waiting for the facilitator's
review. The hub gets none (its stories come from the centres).

The voices are the Opus recordings the courses' demo ships (``content/demo/voices``, made with
espeak-ng and opusenc); the photos are drawn here with Pillow, small, the same bytes every time,
so the repository carries no pictures and the demo stays quick (it runs at each test server's
start). Imports ``kiosk.audio``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.media`` (the store),
the auth area's models (the demo people) and the area's models.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from sqlite_utils import Database

from .. import audio as sounds
from ..auth import models as accounts
from ..data import fetch, writing
from ..i18n import ngettext
from . import models
from .importing import seconds

FACILITATOR = "Lucía Andrango"

# The first page of the lesson "parts" of "Usar una computadora", as its demo voice reads it.
PARTS_ES = ("Las partes de la computadora. Una computadora tiene cuatro partes principales. "
            "La pantalla: ahí se ve todo. La caja: es el cerebro de la computadora; muchos le "
            "dicen \"el CPU\". El teclado: sirve para escribir. El mouse, también se llama "
            "ratón: sirve para señalar y elegir.")

STORIES = [
    {"key": "canal", "title": "La minga del canal de agua", "teller": "Rosa Quishpe",
     "village": "San Pablo del Lago", "when": "1978", "lang": "es", "tags": "agua, minga",
     "consent": "public", "status": "approved", "days": 60, "picture": "canal",
     "body": "Ese año no llovía y las chacras se secaban. Toda la comunidad fue a la minga: los "
             "hombres cavaban, las mujeres llevaban la comida y los niños cargaban piedras. En "
             "tres semanas el agua del cerro llegó hasta la plaza, y esa noche hubo fiesta."},
    {"key": "computadoras", "title": "La primera clase de computación",
     "teller": FACILITATOR, "village": "San Pablo del Lago", "when": "2010s", "lang": "es",
     "tags": "centro, computadoras", "consent": "region", "status": "approved", "days": 30,
     "picture": "screen", "voice": "parts-1.es.ogg", "transcript": PARTS_ES,
     "body": "Lucía recuerda el día en que llegaron las computadoras al centro: nadie se "
             "atrevía a tocar el mouse, y ella leyó en voz alta la primera página del curso."},
    {"key": "yachana", "title": "Yachana wasipi kallari punlla", "teller": "Manuel Guamán",
     "village": "Peguche", "when": "2010s", "lang": "qu_EC", "tags": "yachana, ayllu",
     "consent": "centre", "status": "approved", "days": 20, "picture": "house",
     "voice": "parts-1.qu_EC.ogg",
     "body": "Manuel Guamán willan: yachana wasipi kallari punllapi computadorata "
             "rikurkanchik. Kushillami karkanchik."},
    {"key": "inti-raymi", "title": "El Inti Raymi de Peguche", "teller": "Tránsito Lema",
     "village": "Peguche", "when": "1985", "lang": "es", "tags": "fiesta, inti raymi, música",
     "consent": "public", "status": "approved", "days": 15, "picture": "sun",
     "body": "Bajábamos a la cascada a bañarnos a medianoche, y después bailábamos en ronda "
             "tres días seguidos, con los músicos de Peguche tocando flautas y guitarras."},
    {"key": "remedios", "title": "Los remedios de la abuela Dolores",
     "teller": "Dolores Farinango", "village": "Gualaví", "when": "1950s", "lang": "es",
     "tags": "plantas, salud", "consent": "centre", "status": "approved", "days": 10,
     "body": "Para el mal aire, la abuela Dolores limpiaba con ruda, santa maría y un huevo; "
             "para la tos, agua de eucalipto con panela. Todo lo sacaba de su huerto."},
    {"key": "terremoto", "title": "La noche del terremoto", "teller": "Ángel Yupanqui",
     "village": "San Pablo del Lago", "when": "1987", "lang": "es", "tags": "terremoto",
     "consent": "region", "status": "pending", "days": 2,
     "body": "Era de noche cuando la tierra empezó a moverse. Salimos todos a la plaza con "
             "cobijas y esperamos hasta el amanecer. La iglesia se rajó, pero nadie murió."},
]


def demo(db: Database, *, centre_id: str, role: str, now: dt.datetime,
         content_dir: str | Path | None = None, store=None) -> list[dict]:
    """At a centre, the demo stories, each once (a story withdrawn since is not made again);
    the hub gets none."""
    if role != "node":
        return []
    if store is None:
        from .. import media

        store = media.store()
    made = _demo_stories(db, centre_id=centre_id, store=store, now=now,
                         voices=Path(content_dir or ".") / "demo" / "voices")
    if not made:
        return []
    return [{"message": ngettext(
        "Stories: %(num)d memory of the villages, one waiting for review (sign in as "
        "%(facilitator)s).", "Stories: %(num)d memories of the villages, one waiting for "
        "review (sign in as %(facilitator)s).", made, facilitator=FACILITATOR)}]


def story_id(centre_id: str, key: str) -> str:
    return models.stable_id("demo", centre_id, "story", key)


def _demo_stories(db: Database, *, centre_id: str, store, now: dt.datetime,
                  voices: Path) -> int:
    """The demo stories not made yet; how many demo stories there are (0 without the demo
    people)."""
    ids = {s["key"]: story_id(centre_id, s["key"]) for s in STORIES}
    marks = ",".join("?" * len(ids))
    have = {r["id"] for r in fetch(db, f"SELECT id FROM stories WHERE id IN ({marks})",
                                   list(ids.values()))}
    todo = [s for s in STORIES if ids[s["key"]] not in have
            and not models.was_withdrawn(db, ids[s["key"]])]
    if not todo:
        return len(have)

    def person(name: str) -> dict | None:
        found = accounts.find_by_name(db, name, centre_id=centre_id)
        return found[0] if found else None

    facilitator = person(FACILITATOR)
    if facilitator is None:
        return 0
    media = {}  # stored first: blobs are named by their content
    for story in todo:
        media[story["key"]] = (_voice(voices, story.get("voice"), store),
                               [store.add_bytes(picture(story["picture"])).sha]
                               if story.get("picture") else [])
    with writing(db):
        for story in todo:
            teller = person(story["teller"])
            # A villager recorded their own story (it waits); the facilitator the others.
            recorder = teller if story["status"] == "pending" and teller else facilitator
            when = now - dt.timedelta(days=story["days"])
            audio, photos = media[story["key"]]
            models.save_story(
                db, centre_id=centre_id, by=recorder, now=when, audio=audio, photos=photos,
                new_story_id=ids[story["key"]], fields={
                    "title": story["title"], "teller_name": story["teller"],
                    "teller_id": teller["id"] if teller else "", "village": story["village"],
                    "when": story["when"], "lang": story["lang"], "tags": story["tags"],
                    "body": story.get("body", ""),
                    "transcript": story.get("transcript", "") if audio else "",
                    "consent": story["consent"]})
            if story["status"] == "approved":
                models.review(db, centre_id=centre_id, story_id=ids[story["key"]],
                              action="approve", note="", by=facilitator,
                              now=when + dt.timedelta(hours=20))
        made = [ids[s["key"]] for s in todo]
        marks = ",".join("?" * len(made))
        db.execute(f"INSERT OR IGNORE INTO demo_rows (table_name, row_id) SELECT 'stories', id "
                   f"FROM stories WHERE id IN ({marks})", made)
        db.execute(f"INSERT OR IGNORE INTO demo_rows (table_name, row_id) SELECT "
                   f"'story_photos', id FROM story_photos WHERE story_id IN ({marks})", made)
    return len(have) + len(todo)


def _voice(folder: Path, name: str | None, store) -> dict | None:
    """A demo voice stored, as ``save_story`` takes it; None without one (or its file)."""
    if not name or not (folder / name).is_file():
        return None
    data = (folder / name).read_bytes()
    sound = sounds.check(data, kinds=sounds.STORY_KINDS)
    return {"sha": store.add_bytes(data).sha, "kind": sound.kind, "bytes": len(data),
            "seconds": seconds(data, sound)}


# The photos: small drawings of each memory, the same bytes every time.

SIZE = (480, 320)


def picture(kind: str) -> bytes:
    """A JPEG of a village scene: a ``canal`` through the fields, the centre's ``screen``, a
    ``house`` of the village, the ``sun`` of the Inti Raymi."""
    from PIL import Image, ImageDraw

    w, h = SIZE
    image = Image.new("RGB", SIZE, (150, 200, 235))
    d = ImageDraw.Draw(image)
    if kind == "screen":
        _screen(d, w, h)
    else:
        # The sky, the mountains (Imbabura and its neighbours) and the fields.
        d.rectangle([0, int(h * 0.55), w, h], fill=(96, 150, 70))
        d.polygon([(0, h * 0.6), (120, h * 0.2), (260, h * 0.6)], fill=(84, 104, 120))
        d.polygon([(180, h * 0.62), (340, h * 0.12), (w, h * 0.62)], fill=(70, 92, 110))
        d.polygon([(310, h * 0.2), (340, h * 0.12), (370, h * 0.2)], fill=(245, 245, 250))
        for n, y in enumerate(range(int(h * 0.6), h, 22)):
            d.line([0, y, w, y + 10], fill=(80, 130, 60) if n % 2 else (120, 170, 80), width=6)
        {"canal": _canal, "house": _house, "sun": _sun}[kind](d, w, h)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _canal(d, w, h):
    d.polygon([(200, h * 0.58), (230, h * 0.58), (330, h), (190, h)], fill=(70, 130, 190))
    d.line([(214, h * 0.62), (250, h)], fill=(160, 200, 235), width=3)
    for x, colour in ((120, (180, 40, 50)), (380, (40, 70, 150)), (420, (200, 150, 30))):
        _person(d, x, int(h * 0.82), colour)


def _house(d, w, h):
    d.rectangle([150, 170, 330, 280], fill=(214, 180, 140), outline=(120, 80, 50), width=3)
    d.polygon([(130, 175), (240, 110), (350, 175)], fill=(160, 70, 40))
    d.rectangle([220, 215, 260, 280], fill=(110, 70, 40))
    d.rectangle([165, 195, 200, 225], fill=(250, 240, 200), outline=(120, 80, 50), width=2)
    d.rectangle([280, 195, 315, 225], fill=(250, 240, 200), outline=(120, 80, 50), width=2)
    _person(d, 380, 290, (200, 40, 60))


def _sun(d, w, h):
    d.ellipse([360, 20, 440, 100], fill=(250, 200, 40))
    for k, x in enumerate(range(60, 440, 60)):
        _person(d, x, 285 - (k % 2) * 10, ((200, 40, 50), (240, 240, 240), (40, 90, 160))[k % 3])


def _person(d, x, y, colour):
    """Someone seen from afar: a hat, a head and a poncho or anaco."""
    d.polygon([(x - 16, y), (x, y - 46), (x + 16, y)], fill=colour)
    d.ellipse([x - 8, y - 62, x + 8, y - 46], fill=(170, 120, 90))
    d.rectangle([x - 12, y - 66, x + 12, y - 62], fill=(40, 40, 40))
    d.rectangle([x - 7, y - 74, x + 7, y - 65], fill=(40, 40, 40))


def _screen(d, w, h):
    d.rectangle([0, 0, w, h], fill=(238, 226, 204))
    d.rectangle([0, int(h * 0.7), w, h], fill=(166, 112, 70))
    d.rounded_rectangle([130, 40, 350, 190], radius=8, fill=(40, 40, 46))
    d.rectangle([142, 52, 338, 178], fill=(70, 140, 200))
    d.rectangle([160, 70, 230, 120], fill=(250, 250, 250))
    d.rectangle([250, 70, 320, 120], fill=(250, 200, 60))
    d.rectangle([225, 190, 255, 222], fill=(60, 60, 66))
    d.rounded_rectangle([150, 235, 330, 262], radius=5, fill=(220, 220, 225),
                        outline=(90, 90, 95), width=2)
    d.ellipse([360, 235, 392, 272], fill=(220, 220, 225), outline=(90, 90, 95), width=2)
    d.rectangle([30, 80, 110, 240], fill=(60, 60, 66))
