"""Stories, their photos, consent and review, as functions over the database.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` (messages) and ``sync.engine``. No
Flask request globals: times, the centre and the person acting are passed in. The rules are in
``kiosk/stories/README.md``; in short:

- a story and its photos are written only at the centre where it was told (``centre_id``);
- it always goes up to the hub, the region's archive; it comes down to the other centres only
  while it is approved and its teller allowed ``region`` or ``public`` (``shared`` = 1, written on
  the story and on each of its photos in the same transaction);
- withdrawing consent deletes the story and its photos: a delete is final everywhere, hub
  included, and the media no row names any more leave every disk (``sync/README.md``, "Media").
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import unicodedata
import uuid

from sqlite_utils import Database

from sync.engine import Scope, SyncedTable
from sync.engine.capture import REUSED_ID

from ..data import fetch, iso, new_id, reading, search_query, writing
from ..errors import NotFound, ValidationError
from ..i18n import LANGUAGES, _

# The owning centre always (and so the hub, which holds every bucket); every centre while
# shared. A story waiting for review, sent back or hidden, and its audio, never reach another
# centre.
SHARED_SCOPE = Scope("story", ("'centre:' || r.centre_id",
                               "CASE WHEN r.shared = 1 THEN 'region' END"))

SYNCED_TABLES = [
    SyncedTable("stories", scope=SHARED_SCOPE, media=("audio",)),
    SyncedTable("story_photos", scope=SHARED_SCOPE, media=("photo",)),
]

CONSENTS = ("centre", "region", "public")
WITHDRAWN = "withdrawn"
STATUSES = ("pending", "returned", "approved", "hidden")
REVIEW_ACTIONS = {"approve": "approved", "return": "returned", "hide": "hidden"}

MAX_TITLE = 120
MAX_NAME = 80
MAX_VILLAGE = 80
MAX_BODY = 20_000
MAX_TRANSCRIPT = 50_000
MAX_NOTE = 500
MAX_TAGS = 12
MAX_TAG = 30
MAX_PHOTOS = 8
FIRST_YEAR = 1850

STORY_COLUMNS = ("id, centre_id, title, teller_id, teller_name, recorded_by, recorded_by_name, "
                 "audio, audio_kind, audio_bytes, audio_seconds, body, transcript, village, "
                 "year, decade, lang, tags, consent, consent_at, consent_by, status, "
                 "review_note, reviewed_by, reviewed_at, shared, created_at, updated_at")


def consent_label(code: str) -> str:
    return {"centre": _("Only this centre"), "region": _("Every centre of the region"),
            "public": _("Everyone: radio and the internet too"),
            WITHDRAWN: _("Withdrawn")}.get(code, code)


def status_label(code: str) -> str:
    return {"pending": _("Waiting for review"), "returned": _("Sent back"),
            "approved": _("Approved"), "hidden": _("Hidden")}.get(code, code)


def is_shared(status: str, consent: str) -> int:
    return int(status == "approved" and consent in ("region", "public"))


# Checking what people type.


def _text(value, limit: int, *, required: bool = False, multiline: bool = False) -> str | None:
    """Text made one form (NFC) and trimmed; None when it is empty (and required), too long,
    or holds control characters or bytes that were not text."""
    text = unicodedata.normalize("NFC", value if isinstance(value, str) else "").strip()
    text = text.replace("\r\n", "\n")
    allowed = "\n\t" if multiline else ""
    if (required and not text) or len(text) > limit or "\ufffd" in text or \
            any(not c.isprintable() and c not in allowed for c in text):
        return None
    return text


def parse_tags(value) -> list[str] | None:
    """Tags typed as words separated by commas (or a list): lowercase, each once, in order;
    None when there are too many or one is too long."""
    if isinstance(value, str):
        parts = value.replace("،", ",").replace(";", ",").split(",")
    elif isinstance(value, (list, tuple)):
        parts = [p if isinstance(p, str) else "" for p in value]
    else:
        parts = []
    tags = []
    for part in parts:
        tag = _text(part, MAX_TAG)
        if tag is None:
            return None
        tag = " ".join(tag.lower().split()).lstrip("#")
        if tag and tag not in tags:
            tags.append(tag)
    return tags if len(tags) <= MAX_TAGS else None


def parse_when(value, *, this_year: int) -> tuple[int, int] | None:
    """(year, decade) from what a person typed: "1978", "1970s", "70s", "197?" or ""; None when
    it is not a year between 1850 and this year."""
    raw = (value if isinstance(value, str) else str(value if value is not None else "")).strip()
    if not raw:
        return 0, 0
    text = raw.lower().rstrip("s").rstrip("'").rstrip("?").strip()
    if not text.isdigit():
        return None
    number = int(text)
    if len(text) == 2:  # "70s": the 1900s are meant (a village memory, not the future)
        return (0, 1900 + number) if number % 10 == 0 else None
    if len(text) == 3:  # "197?" or "197": a decade
        number *= 10
        return (0, number) if FIRST_YEAR - 10 < number <= this_year else None
    if len(text) != 4 or not FIRST_YEAR <= number <= this_year:
        return None
    if raw.lower().endswith("s"):
        return (0, number) if number % 10 == 0 else None
    return number, number // 10 * 10


def when_label(story: dict) -> str:
    if story.get("year"):
        return str(story["year"])
    if story.get("decade"):
        return _("the %(decade)ss", decade=story["decade"])
    return ""


def validate(fields: dict, *, this_year: int, has_media: bool) -> tuple[dict, dict]:
    """The story's fields checked: (values, errors by field name)."""
    errors: dict[str, list[str]] = {}
    values: dict = {}

    def field(name, limit, message, **kw):
        value = _text(fields.get(name, ""), limit, **kw)
        if value is None:
            errors.setdefault(name, []).append(message)
        values[name] = value or ""

    field("title", MAX_TITLE, _("Give the story a title of %(count)d letters at most.",
                                count=MAX_TITLE), required=True)
    field("teller_name", MAX_NAME, _("Write who tells the story, %(count)d letters at most.",
                                     count=MAX_NAME))
    field("village", MAX_VILLAGE, _("Write the place in %(count)d letters at most.",
                                    count=MAX_VILLAGE))
    field("body", MAX_BODY, _("The written story is too long: %(count)d letters at most.",
                              count=MAX_BODY), multiline=True)
    field("transcript", MAX_TRANSCRIPT, _("The transcript is too long: %(count)d letters at "
                                          "most.", count=MAX_TRANSCRIPT), multiline=True)
    when = parse_when(fields.get("when", ""), this_year=this_year)
    if when is None:
        errors.setdefault("when", []).append(
            _("Write a year like 1978, or a decade like 1970s, up to %(year)d.", year=this_year))
        when = (0, 0)
    values["year"], values["decade"] = when
    tags = parse_tags(fields.get("tags", ""))
    if tags is None:
        errors.setdefault("tags", []).append(
            _("Write at most %(count)d words, separated by commas, each of %(letters)d letters "
              "at most.", count=MAX_TAGS, letters=MAX_TAG))
        tags = []
    values["tags"] = json.dumps(tags, ensure_ascii=False)
    lang = fields.get("lang", "")
    if not isinstance(lang, str) or (lang and lang not in LANGUAGES):
        errors.setdefault("lang", []).append(_("Choose the language the story is told in."))
        lang = ""
    values["lang"] = lang
    consent = fields.get("consent", "")
    if consent not in CONSENTS:
        errors.setdefault("consent", []).append(_("Choose who may hear the story."))
        consent = "centre"
    values["consent"] = consent
    if not errors and not (has_media or values["body"] or values["transcript"]):
        errors.setdefault("audio", []).append(
            _("Record the story, or write it, or add a photo."))
    return values, errors


# Writing.


def save_story(db: Database, *, centre_id: str, fields: dict, by: dict, now: dt.datetime,
               story_id: str | None = None, audio: dict | None = None,
               photos: list[str] = (), reviewer: bool = False,
               new_story_id: str | None = None) -> str:
    """Make a story (``story_id`` None) or change one told here, in one transaction; returns
    its id (for a new story ``new_story_id`` when given: the id its form was shown with, or a
    UUIDv5 of a natural key made here, as the import and the demo make, so doing it twice finds
    the story already there). ``fields``: title, teller_name, teller_id, village, when, lang,
    tags, body, transcript, consent (a new story only: consent is changed by ``set_consent``).
    ``audio``: {"sha", "kind", "bytes", "seconds"} of a recording already in the media store
    (replacing any before). ``photos``: SHA-256s of photos already stored, added after those the
    story has. ``by``: the account acting (id, name). A story changed by someone who does not
    review stories waits for review again. ValidationError names each field that is wrong;
    nothing is written then."""
    at = iso(now)
    with writing(db):
        old = None
        if story_id is not None:
            old = get_story(db, story_id)
            if old["centre_id"] != centre_id:
                raise NotFound(_("This story was told at another centre: it is changed there."))
        kept_photos = len(photos_of(db, story_id)) if old else 0
        has_media = bool(audio or photos or (old and old["audio"]) or kept_photos)
        if old:
            fields = {**fields, "consent": old["consent"]}
        values, errors = validate(fields, this_year=now.year, has_media=has_media)
        if kept_photos + len(photos) > MAX_PHOTOS:
            errors.setdefault("photos", []).append(
                _("A story may have %(count)d photos at most.", count=MAX_PHOTOS))
        if errors:
            raise ValidationError(errors)
        teller_id = fields.get("teller_id") or ""
        if not isinstance(teller_id, str):
            teller_id = ""
        if teller_id:
            row = db.execute("SELECT name FROM accounts WHERE id = ?", [teller_id]).fetchone()
            if row is None:
                raise ValidationError({"teller_id": [_("This person is not known here.")]})
            values["teller_name"] = values["teller_name"] or row[0]
        if not values["teller_name"]:
            raise ValidationError({"teller_name": [_("Write who tells the story.")]})
        values["teller_id"] = teller_id
        values["updated_at"] = at
        if audio:
            values.update(audio=audio["sha"], audio_kind=audio["kind"],
                          audio_bytes=int(audio["bytes"]),
                          audio_seconds=max(0, int(audio.get("seconds") or 0)))
        if old is None:
            story_id = new_story_id or new_id()
            values.update(id=story_id, centre_id=centre_id, recorded_by=by.get("id", ""),
                          recorded_by_name=by.get("name", ""), consent_at=at,
                          consent_by=by.get("name", ""), status="pending", shared=0,
                          created_at=at)
            db["stories"].insert(values)
        else:
            values.pop("consent")
            if not reviewer and old["status"] != "pending":
                values.update(status="pending", shared=0)
            db["stories"].update(story_id, values)
        for position, sha in enumerate(photos, start=kept_photos):
            db["story_photos"].insert({"id": new_id(), "centre_id": centre_id,
                                       "story_id": story_id, "photo": sha,
                                       "position": position, "shared": 0})
        _share(db, story_id)
    return story_id


def _share(db: Database, story_id: str) -> None:
    """``shared`` of the story and of its photos, from its status and consent (in the caller's
    transaction). Only rows whose value changes are written, so nothing else is sent."""
    db.execute("UPDATE stories SET shared = (status = 'approved' AND consent IN "
               "('region', 'public')) WHERE id = ? AND shared IS NOT (status = 'approved' AND "
               "consent IN ('region', 'public'))", [story_id])
    db.execute("UPDATE story_photos SET shared = (SELECT shared FROM stories WHERE id = ?) "
               "WHERE story_id = ? AND shared IS NOT (SELECT shared FROM stories WHERE id = ?)",
               [story_id, story_id, story_id])


def remove_photo(db: Database, *, centre_id: str, story_id: str, photo_id: str,
                 now: dt.datetime) -> None:
    with writing(db):
        story = get_story(db, story_id)
        if story["centre_id"] != centre_id:
            raise NotFound(_("This story was told at another centre: it is changed there."))
        if db.execute("DELETE FROM story_photos WHERE id = ? AND story_id = ?",
                      [photo_id, story_id]).rowcount == 0:
            raise NotFound(_("This photo is not in the story any more."))
        db.execute("UPDATE stories SET updated_at = ? WHERE id = ?", [iso(now), story_id])


def review(db: Database, *, centre_id: str, story_id: str, action: str, note: str, by: dict,
           now: dt.datetime) -> str:
    """Approve, send back (with a note for the teller) or hide (with a reason) a story told
    here; returns its new status."""
    status = REVIEW_ACTIONS.get(action)
    if status is None:
        raise ValidationError({"action": [_("Choose approve, send back or hide.")]})
    text = _text(note, MAX_NOTE, multiline=True)
    if text is None:
        raise ValidationError({"note": [_("Write the note in %(count)d letters at most.",
                                          count=MAX_NOTE)]})
    if status != "approved" and not text:
        message = (_("Write what the teller should change.") if status == "returned"
                   else _("Write why the story is hidden."))
        raise ValidationError({"note": [message]})
    with writing(db):
        story = get_story(db, story_id)
        if story["centre_id"] != centre_id:
            raise NotFound(_("This story was told at another centre: it is reviewed there."))
        db["stories"].update(story_id, {"status": status, "review_note": text,
                                        "reviewed_by": by.get("name", ""),
                                        "reviewed_at": iso(now)})
        _share(db, story_id)
    return status


def set_consent(db: Database, *, centre_id: str, story_id: str, consent: str, by: dict,
                now: dt.datetime) -> str:
    """Record the teller's consent for a story told here: ``centre``, ``region``, ``public``,
    or ``withdrawn``, which deletes the story and its photos everywhere, for ever. Returns
    the consent recorded."""
    if consent not in CONSENTS and consent != WITHDRAWN:
        raise ValidationError({"consent": [_("Choose who may hear the story.")]})
    with writing(db):
        story = get_story(db, story_id)
        if story["centre_id"] != centre_id:
            raise NotFound(_("This story was told at another centre: its teller changes the "
                             "consent there."))
        if consent == WITHDRAWN:
            db.execute("DELETE FROM story_photos WHERE story_id = ?", [story_id])
            db.execute("DELETE FROM stories WHERE id = ?", [story_id])
            return consent
        if story["consent"] != consent:
            db["stories"].update(story_id, {"consent": consent, "consent_at": iso(now),
                                            "consent_by": by.get("name", "")})
            _share(db, story_id)
    return consent


def mark_collected(db: Database, story_ids: list[str], *, by: dict, now: dt.datetime,
                   collected: bool = True) -> int:
    """At the hub: mark stories as collected by regional staff (or not); returns how many
    changed. Unknown ids are skipped."""
    with writing(db):
        changed = 0
        for story_id in dict.fromkeys(story_ids):
            if collected:
                changed += db.execute(
                    "INSERT OR IGNORE INTO story_collected (story_id, collected_at, "
                    "collected_by) SELECT id, ?, ? FROM stories WHERE id = ?",
                    [iso(now), by.get("name", ""), story_id]).rowcount
            else:
                changed += db.execute("DELETE FROM story_collected WHERE story_id = ?",
                                      [story_id]).rowcount
    return changed


# Reading.


def get_story(db: Database, story_id) -> dict:
    if not isinstance(story_id, str):
        raise NotFound(_("This story is not here, or its teller withdrew it."))
    rows = fetch(db, f"SELECT {STORY_COLUMNS}, (SELECT name FROM centres WHERE id = "
                     f"s.centre_id) AS centre_name, (SELECT collected_at FROM story_collected "
                     f"WHERE story_id = s.id) AS collected_at FROM stories s WHERE id = ?",
                 [story_id])
    if not rows:
        raise NotFound(_("This story is not here, or its teller withdrew it."))
    story = rows[0]
    story["tags"] = _tags(story["tags"])
    return story


def _tags(text: str) -> list[str]:
    try:
        tags = json.loads(text or "[]")
    except ValueError:
        return []
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def photos_of(db: Database, story_id: str | None) -> list[dict]:
    if story_id is None:
        return []
    return fetch(db, "SELECT id, photo, position FROM story_photos WHERE story_id = ? AND "
                     "photo IS NOT NULL ORDER BY position, id", [story_id])


def list_stories(db: Database, *, status: str | tuple | None = None,
                 consent: str | tuple | None = None, centre: str | None = None,
                 village: str | None = None, decade: int | None = None,
                 tag: str | None = None, q: str | None = None, collected: bool | None = None,
                 person: str | None = None, limit: int = 24, offset: int = 0) -> dict:
    """A page of stories, newest first (best match first when searching): {"total", "stories"}.
    Each story has its first photo (``photo``) and its tags. ``person``: only stories this
    account tells or recorded."""
    where, params = ["1"], []

    def equal(column, value):
        if value is None:
            return
        values = (value,) if isinstance(value, (str, int)) else tuple(value)
        where.append(f"s.{column} IN ({','.join('?' * len(values))})")
        params.extend(values)

    equal("status", status)
    equal("consent", consent)
    equal("centre_id", centre)
    equal("village", village)
    equal("decade", decade)
    if tag:
        where.append("EXISTS (SELECT 1 FROM json_each(s.tags) WHERE value = ?)")
        params.append(tag)
    if collected is not None:
        where.append(("" if collected else "NOT ") +
                     "EXISTS (SELECT 1 FROM story_collected c WHERE c.story_id = s.id)")
    if person:
        where.append("(s.teller_id = ? OR s.recorded_by = ?)")
        params.extend([person, person])
    match = search_query(q) if q else None
    source, order = "stories s", "s.created_at DESC, s.id DESC"
    if q and match is None:
        return {"total": 0, "stories": []}
    if match:
        source = ("(SELECT story_id, min(rank) AS rank FROM stories_search WHERE "
                  "stories_search MATCH ? GROUP BY story_id) m JOIN stories s ON s.id = "
                  "m.story_id")
        params.insert(0, match)
        order = "m.rank, s.id"
    condition = " AND ".join(where)
    with reading(db):
        total = db.execute(f"SELECT count(*) FROM {source} WHERE {condition}",
                           params).fetchone()[0]
        rows = fetch(db, f"""
            SELECT {', '.join('s.' + c.strip() for c in STORY_COLUMNS.split(','))},
                   (SELECT photo FROM story_photos p WHERE p.story_id = s.id AND photo IS NOT
                    NULL ORDER BY position, id LIMIT 1) AS photo,
                   (SELECT name FROM centres WHERE id = s.centre_id) AS centre_name,
                   (SELECT collected_at FROM story_collected WHERE story_id = s.id)
                    AS collected_at
            FROM {source} WHERE {condition} ORDER BY {order} LIMIT ? OFFSET ?""",
                     [*params, limit, offset])
    for row in rows:
        row["tags"] = _tags(row["tags"])
    return {"total": total, "stories": rows}


def facets(db: Database, *, status: str = "approved", consent: tuple | None = None) -> dict:
    """What browsing offers: villages, decades and tags of the stories with ``status`` (and,
    when given, under ``consent``: at the hub, people who are not regional staff see no story
    kept for its centre only), each with its count, most stories first."""
    where, params = "s.status = ?", [status]
    if consent is not None:
        where += f" AND s.consent IN ({','.join('?' * len(consent))})"
        params.extend(consent)
    with reading(db):
        villages = fetch(db, f"SELECT village AS value, count(*) AS count FROM stories s WHERE "
                             f"{where} AND village != '' GROUP BY village ORDER BY count DESC, "
                             f"village LIMIT 40", params)
        decades = fetch(db, f"SELECT decade AS value, count(*) AS count FROM stories s WHERE "
                            f"{where} AND decade > 0 GROUP BY decade ORDER BY decade", params)
        tags = fetch(db, f"SELECT t.value AS value, count(*) AS count FROM stories s, "
                         f"json_each(s.tags) t WHERE {where} AND json_valid(s.tags) "
                         f"GROUP BY t.value ORDER BY count DESC, t.value LIMIT 40", params)
    return {"villages": villages, "decades": decades, "tags": tags}


def summary_rows(db: Database, *, centre: str | None = None,
                 consent: str | tuple | None = None) -> list[dict]:
    """Every story held here as ``infocentre stories list --json`` prints it: id, title, teller,
    centre, consent, status, audio (SHA-256 or None), photos (SHA-256s)."""
    where, params = ["1"], []
    if centre:
        where.append("s.centre_id = ?")
        params.append(centre)
    if consent:
        values = (consent,) if isinstance(consent, str) else tuple(consent)
        where.append(f"s.consent IN ({','.join('?' * len(values))})")
        params.extend(values)
    with reading(db):
        stories = fetch(db, f"SELECT id, title, teller_name AS teller, centre_id AS centre, "
                            f"consent, status, audio FROM stories s WHERE "
                            f"{' AND '.join(where)} ORDER BY created_at, id", params)
        photos: dict[str, list[str]] = {}
        for story_id, sha in db.execute("SELECT story_id, photo FROM story_photos WHERE photo "
                                        "IS NOT NULL ORDER BY story_id, position, id"):
            photos.setdefault(story_id, []).append(sha)
    for story in stories:
        story["photos"] = photos.get(story["id"], [])
    return stories


def review_queue(db: Database, *, centre_id: str) -> list[dict]:
    """The stories told here that wait for review, oldest first."""
    return list_stories(db, status="pending", centre=centre_id, limit=200)["stories"][::-1]


def can_change(story: dict, user: dict | None, *, centre_id: str, reviewer: bool) -> bool:
    """Whether ``user`` may change the story (or its consent): told here, and they review
    stories, tell it, or recorded it."""
    if not user or story["centre_id"] != centre_id:
        return False
    return reviewer or user["id"] in (story["teller_id"], story["recorded_by"])


def can_see(story: dict, user: dict | None, *, centre_id: str, reviewer: bool,
            hub: bool = False) -> bool:
    """Whether ``user`` may see the story: approved; or, before that, at its centre by whom
    may change it; at the hub, regional staff see everything."""
    if story["status"] == "approved":
        # at the hub, a story kept for its centre only is the staff's archive, not for all
        return not hub or story["consent"] != "centre" or (
            bool(user) and user.get("role") in ("regional", "admin"))
    if hub:
        return bool(user) and user.get("role") in ("regional", "admin")
    return can_change(story, user, centre_id=centre_id, reviewer=reviewer)


# tell: a story told from the page is made once, however often its form is sent.


def tell_story(db: Database, *, form_id: str, **story) -> str | None:
    """Make the story of the form shown with ``form_id`` (which becomes the story's id);
    None when that form was already sent (the story is there, or was made and withdrawn since:
    its id stays deleted). ``story``: ``save_story``'s arguments for a new story."""
    with writing(db):
        if db.execute("SELECT 1 FROM stories WHERE id = ?", [form_id]).fetchone():
            return None
        try:
            return save_story(db, new_story_id=form_id, **story)
        except sqlite3.IntegrityError as e:
            if REUSED_ID in str(e):  # property 4: a withdrawn story's id never comes back
                return None
            raise


__all__ = ["CONSENTS", "SHARED_SCOPE", "STATUSES", "SYNCED_TABLES", "WITHDRAWN", "can_change",
           "can_see", "consent_label", "facets", "get_story", "list_stories", "mark_collected",
           "photos_of", "remove_photo", "review", "review_queue", "save_story", "set_consent",
           "status_label", "summary_rows", "tell_story", "validate"]


# cli+demo: ids made from a natural key, and whether a story's id was deleted (withdrawn).

NAMESPACE = uuid.UUID("9d4f7a2c-3e61-4b8a-b5d0-7c2e91f04a63")


def stable_id(*parts: str) -> str:
    """The id of a story with a natural key made at its centre (an imported row, a demo
    story): the same every time, so importing twice finds it already there."""
    return str(uuid.uuid5(NAMESPACE, ":".join(parts)))


def was_withdrawn(db: Database, story_id: str) -> bool:
    """Whether a story with this id was deleted here (its teller withdrew it): the sync
    engine refuses the id for ever (sync/README.md, "Deletes")."""
    row = db.execute("SELECT id FROM _sync_tables WHERE name = 'stories'").fetchone()
    if row is None:
        return False
    return db.execute("SELECT EXISTS (SELECT 1 FROM _sync_clock WHERE tbl = ? AND pk = ? AND "
                      "col = -1) OR EXISTS (SELECT 1 FROM _sync_deleted WHERE tbl = ? AND "
                      "pk = ?)", [row[0], story_id, row[0], story_id]).fetchone()[0] == 1


# browse+review: what browsing offers to whom, the queue's count, and a review from the queue.


def count_waiting(db: Database, *, centre_id: str) -> int:
    """How many stories told here wait for review."""
    return db.execute("SELECT count(*) FROM stories WHERE centre_id = ? AND status = "
                      "'pending'", [centre_id]).fetchone()[0]


def review_waiting(db: Database, *, centre_id: str, story_id: str, action: str, note: str,
                   by: dict, now: dt.datetime) -> str:
    """``review`` from the queue: only a story that still waits (a form sent twice, or by two
    facilitators at once, reviews it once); returns its new status."""
    with writing(db):
        story = get_story(db, story_id)
        if story["centre_id"] == centre_id and story["status"] != "pending":
            raise ValidationError({"story": [_("This story was already reviewed (%(status)s). "
                                               "Nothing was changed.",
                                               status=status_label(story["status"]))]})
        return review(db, centre_id=centre_id, story_id=story_id, action=action, note=note,
                      by=by, now=now)
