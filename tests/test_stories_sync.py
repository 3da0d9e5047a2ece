"""Where a story travels, with a real hub served by ``infocentre serve`` on 127.0.0.1 and two
centres set up with the real command line, synced by the real client (``run_sync``). A is where
the story is told; B is another centre of the region (kiosk/stories/README.md, "Where a story
travels"): a story goes up to the hub always, and down to B only while it is approved under
``region`` or ``public``, its recording and photos with it."""

from __future__ import annotations

import threading

import pytest

from kiosk.data import fetch
from kiosk.media import prepare_photo
from kiosk.stories import models

from .factories import make_account
from .test_market_sync import Region, jpeg, now

pytestmark = pytest.mark.live

WEBM = (b"\x1a\x45\xdf\xa3\x42\x82\x84webm" + b"\x86\x86A_OPUS" + bytes(range(256)) * 40)
FIELDS = {"title": "El puente de chaguarquero", "teller_name": "Mama Rosa", "village": "Ilumán",
          "when": "1962", "lang": "es", "tags": "puente, minga", "consent": "region",
          "transcript": "Lo hicimos entre todos."}


@pytest.fixture
def region(tmp_path):
    made = Region(tmp_path)
    yield made
    made.close()


def tell(centre, **fields) -> tuple[str, dict, str, str]:
    """A story told at ``centre`` with a recording and a photo: (id, facilitator, audio sha,
    photo sha)."""
    by = make_account(centre.db, centre.id, role="facilitator", name="Luz Cachimuel")
    audio = centre.store.add_bytes(WEBM + fields.pop("salt", b"")).sha
    photo = centre.store.add_bytes(prepare_photo(jpeg((120, 80, 40)))).sha
    story_id = models.save_story(centre.db, centre_id=centre.id, fields={**FIELDS, **fields},
                                 by=by, now=now(), photos=[photo],
                                 audio={"sha": audio, "kind": "audio/webm",
                                        "bytes": len(WEBM), "seconds": 4})
    return story_id, by, audio, photo


def holds(centre_or_db, story_id: str) -> bool:
    db = getattr(centre_or_db, "db", centre_or_db)
    return bool(fetch(db, "SELECT 1 FROM stories WHERE id = ?", [story_id]))


def test_waiting_hidden_and_centre_only_stories_reach_the_hub_never_another_centre(region):
    a, b = region.centre("Centro Ilumán"), region.centre("Centro Peguche")
    waiting, by, audio, photo = tell(a)
    hidden, *_ = tell(a, title="Lo que no se cuenta", salt=b"h")
    models.review(a.db, centre_id=a.id, story_id=hidden, action="hide", note="Nombra a vecinos",
                  by=by, now=now())
    own, *_ = tell(a, title="Solo para Ilumán", consent="centre", salt=b"c")
    models.review(a.db, centre_id=a.id, story_id=own, action="approve", note="", by=by,
                  now=now())
    region.sync_all()
    hub_media = region.hub_dir / "media"
    for story_id in (waiting, hidden, own):
        assert holds(region.hub, story_id) and not holds(b, story_id)
    assert (hub_media / audio[:2] / audio).exists() and (hub_media / photo[:2] / photo).exists()
    assert not b.store.has(audio) and not b.store.has(photo)
    assert fetch(b.db, "SELECT count(*) AS n FROM story_photos")[0]["n"] == 0


def test_an_approved_regional_story_arrives_whole_and_leaves_when_hidden(region):
    a, b = region.centre("Centro Ilumán"), region.centre("Centro Peguche")
    story_id, by, audio, photo = tell(a)
    models.review(a.db, centre_id=a.id, story_id=story_id, action="approve", note="", by=by,
                  now=now())
    region.sync_all()
    story = models.get_story(b.db, story_id)
    assert (story["title"], story["status"], story["audio"]) == (FIELDS["title"], "approved",
                                                                 audio)
    assert [p["photo"] for p in models.photos_of(b.db, story_id)] == [photo]
    assert b.store.has(audio) and b.store.has(photo)
    assert [s["id"] for s in models.list_stories(b.db, q="chaguarquero")["stories"]] == [story_id]
    models.review(a.db, centre_id=a.id, story_id=story_id, action="hide", note="Pidió la familia",
                  by=by, now=now())
    region.sync_all()
    assert not holds(b, story_id) and not models.photos_of(b.db, story_id)
    assert models.list_stories(b.db, q="chaguarquero")["total"] == 0  # the index follows
    assert holds(region.hub, story_id) and models.get_story(region.hub, story_id)["status"] == \
        "hidden"


def test_another_centre_cannot_change_a_story_it_received(region):
    a, b = region.centre("Centro Ilumán"), region.centre("Centro Peguche")
    story_id, by, *_ = tell(a)
    models.review(a.db, centre_id=a.id, story_id=story_id, action="approve", note="", by=by,
                  now=now())
    region.sync_all()
    b_person = make_account(b.db, b.id, role="facilitator", name="Facilitador de Peguche")
    for change in (lambda: models.set_consent(b.db, centre_id=b.id, story_id=story_id,
                                              consent="withdrawn", by=b_person, now=now()),
                   lambda: models.review(b.db, centre_id=b.id, story_id=story_id, action="hide",
                                         note="no", by=b_person, now=now())):
        with pytest.raises(Exception):
            change()
    assert holds(b, story_id) and models.get_story(b.db, story_id)["status"] == "approved"


def test_consent_changed_while_a_sync_runs_ends_the_same_everywhere(region):
    """Writes land during syncs: the story's consent moves back and forth at A while A syncs;
    once both centres have synced twice more, each replica holds what A's last state allows."""
    a, b = region.centre("Centro Ilumán"), region.centre("Centro Peguche")
    story_id, by, audio, _photo = tell(a)
    models.review(a.db, centre_id=a.id, story_id=story_id, action="approve", note="", by=by,
                  now=now())
    stop = threading.Event()
    errors = []

    def flip():
        from kiosk.data import open_db

        db = open_db(a.path / "infocentre.db")
        try:
            for n in range(40):
                consent = ("centre", "region", "public")[n % 3]
                models.set_consent(db, centre_id=a.id, story_id=story_id, consent=consent,
                                   by=by, now=now())
                if stop.is_set():
                    break
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            db.close()

    writer = threading.Thread(target=flip)
    writer.start()
    for _ in range(3):
        a.sync()
        b.sync()
    stop.set()
    writer.join()
    assert not errors
    region.sync_all(rounds=2)
    final = models.get_story(a.db, story_id)["consent"]
    assert models.get_story(region.hub, story_id)["consent"] == final
    assert holds(b, story_id) == (final in ("region", "public"))
    assert b.store.has(audio) == (final in ("region", "public"))  # gone once it left B
