"""Telling a story and changing it (``kiosk/stories/README.md``): the story form (a recording
made with the browser's microphone by ``recorder.js``, or one made elsewhere; photos; who tells
it, where, when, in which language; the consent), the consent page (narrow, widen, withdraw),
the teller's own list, and taking a photo away. Pages of a centre only (404 at the hub).

A form is checked whole before anything is kept: its fields, then the recording (by its
content) and the photos (made ready, not stored). Only then are the media stored and the story
saved, in one transaction, under the id the form was shown with, so the same form sent twice
makes one story. One exception, on purpose: when the recording is good but a field is wrong,
the recording is stored and remembered for this form in the session, so a teller who forgot
the title does not have to tell the story again.

Imports Flask, the area's models, ``kiosk.audio``, ``kiosk.auth``, ``kiosk.data``,
``kiosk.i18n``, ``kiosk.media`` and ``kiosk.web``.
"""

from __future__ import annotations

import uuid

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import RequestEntityTooLarge

from ... import audio
from ...auth import models as accounts
from ...auth.access import can, load_user, node_only, permission_required
from ...data import get_db, new_id, utcnow
from ...errors import KioskError, NotFound, ValidationError
from ...i18n import LANGUAGES, _, current_language, ngettext
from ...media import photo_url, prepare_photo, store
from ...web import error_response
from .. import models
from . import bp

MiB = 1024 * 1024
AUDIO_LIMIT = 40 * MiB  # half an hour of speech in any kind a story may come in
PHOTOS_LIMIT = 24 * MiB  # the photos of one form together, before they are shrunk
# The largest form the story pages read; a larger one is refused from its Content-Length,
# before a byte of it is read (the rest of the app allows 16 MB).
FORM_LIMIT = AUDIO_LIMIT + PHOTOS_LIMIT
MAX_SECONDS = 30 * 60  # the recorder stops itself after half an hour
FIELDS = ("title", "teller", "teller_id", "teller_name", "village", "when", "lang", "tags",
          "body", "transcript", "consent")
TELLER_ROLES = ("villager", "cooperative", "facilitator", "admin")
KEPT = "story_recording"  # the session's note of a recording kept for a form sent back


@bp.url_value_preprocessor
def _allow_recordings(endpoint, values):
    """The story form may carry a recording: its larger limit must be set before the CSRF
    check reads the form (URL preprocessors run before every ``before_request``)."""
    if endpoint in ("stories.tell", "stories.edit") and request.method == "POST":
        request.max_content_length = FORM_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error):
    if "user" not in g:
        load_user()  # refused while the CSRF check read the form, before the person was known
    return error_response(
        413, _("The recording or the photos are too big"),
        _("A recording may weigh %(audio)d MB at most, and the photos %(photos)d MB together. "
          "Nothing was saved. Go back and choose a shorter recording or fewer photos.",
          audio=AUDIO_LIMIT // MiB, photos=PHOTOS_LIMIT // MiB), "too_large")


def _centre() -> str:
    return current_app.config["CENTRE_ID"]


def _reviewer() -> bool:
    return can("review_stories")


def _changeable(story_id: str) -> dict:
    """A story the signed-in person may change here: 404 when there is none, 403 when it is
    not theirs (and they do not review stories)."""
    try:
        story = models.get_story(get_db(), story_id)
    except NotFound:
        abort(404)
    if not models.can_change(story, g.user, centre_id=_centre(), reviewer=_reviewer()):
        abort(403)
    return story


# The form: what it shows, and what was sent.


def _form_from(story: dict | None) -> dict:
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in FIELDS}
        form["form_id"] = request.form.get("form_id", "")
        return form
    if story is None:
        return {**dict.fromkeys(FIELDS, ""), "teller": "me", "lang": current_language(),
                "form_id": new_id()}
    mine = story["teller_id"] and story["teller_id"] == g.user["id"]
    when = str(story["year"] or "") or (f"{story['decade']}s" if story["decade"] else "")
    return {**{k: story.get(k, "") for k in FIELDS},
            "teller": "me" if mine else "account" if story["teller_id"] else "other",
            "when": when, "tags": ", ".join(story["tags"]), "form_id": new_id()}


def _tellers(story: dict | None) -> list[dict]:
    """The accounts a teller may be chosen from: the centre's people for a reviewer; for
    anyone else only the one a story already names."""
    if _reviewer():
        return accounts.list_accounts(get_db(), centre_id=_centre(), roles=TELLER_ROLES)
    if story and story["teller_id"] and story["teller_id"] != g.user["id"]:
        found = accounts.find_account(get_db(), story["teller_id"])
        return [found] if found else []
    return []


def _teller(form: dict, story: dict | None) -> tuple[dict, dict]:
    """teller_id and teller_name from the choice made: oneself, an account, or a name."""
    choice = form["teller"]
    if choice == "me":
        return {"teller_id": g.user["id"], "teller_name": g.user["name"]}, {}
    if choice == "account":
        if form["teller_id"] in {a["id"] for a in _tellers(story)}:
            return {"teller_id": form["teller_id"], "teller_name": ""}, {}
        return {}, {"teller_id": [_("Choose the person who tells the story.")]}
    if choice == "other":
        if not form["teller_name"].strip():
            return {}, {"teller_name": [_("Write the name of the person who tells the story.")]}
        return {"teller_id": "", "teller_name": form["teller_name"]}, {}
    return {}, {"teller": [_("Say who tells the story.")]}


def _recording(form_id: str) -> tuple[dict | None, bytes | None, dict]:
    """The recording sent (the recorder's, else a file chosen), checked by its content but not
    stored: (the one kept for this form earlier, the new one's bytes, errors)."""
    kept = session.get(KEPT)
    kept = kept if kept and kept.get("form") == form_id and form_id else None
    upload = next((f for f in (request.files.get("recording"), request.files.get("audio"))
                   if f and f.filename), None)
    if upload is None:
        return kept, None, {}
    data = upload.read(AUDIO_LIMIT + 1)
    sound = audio.recognise(data[:audio.HEAD])
    try:
        if data and (sound is None or sound.name not in audio.STORY_KINDS):
            raise KioskError(_("This file is not a recording that can be kept: choose a sound "
                               "file in Ogg, MP3, WebM or WAV, or record the story here."))
        audio.check(data, kinds=audio.STORY_KINDS, limit=AUDIO_LIMIT)
    except KioskError as e:
        return kept, None, {"audio": [str(e)]}
    return kept, data, {}


def _photos(room: int) -> tuple[list[bytes], dict]:
    files = [f for f in request.files.getlist("photos") if f and f.filename]
    if len(files) > room:
        return [], {"photos": [ngettext("Choose %(num)d photo at most.",
                                        "Choose %(num)d photos at most.", room)]}
    ready, problems = [], []
    for upload in files:
        try:
            ready.append(prepare_photo(upload.read()))
        except KioskError as e:
            problems.append(_("%(file)s: %(problem)s", file=upload.filename, problem=str(e)))
    return ready, {"photos": problems} if problems else {}


def _keep_recording(form_id: str, data: bytes) -> dict:
    sound = audio.recognise(data[:audio.HEAD])
    blob = store().add_bytes(data)
    seconds = request.form.get("recording_seconds", "")
    seconds = min(int(seconds), MAX_SECONDS) if seconds.isdigit() and \
        request.files.get("recording") else 0
    return {"form": form_id, "sha": blob.sha, "kind": sound.kind, "bytes": blob.size,
            "seconds": seconds}


def _check_and_save(story: dict | None, form: dict) -> tuple[dict, str | None, bool]:
    """Check the form whole, then keep its media and save the story: (errors, story id,
    whether this form had been sent before)."""
    if not _valid_id(form["form_id"]):
        form["form_id"] = new_id()  # a form of ours always has one; this one was made by hand
    room = models.MAX_PHOTOS - (len(models.photos_of(get_db(), story["id"])) if story else 0)
    teller, errors = _teller(form, story)
    kept, sound, problems = _recording(form["form_id"])
    errors.update(problems)
    photos, problems = _photos(room)
    errors.update(problems)
    fields = {**form, **teller, "teller_name": teller.get("teller_name", form["teller_name"])}
    if story:
        fields["consent"] = story["consent"]
    has_media = bool(sound or kept or photos or (story and (story["audio"] or room <
                                                            models.MAX_PHOTOS)))
    errors = {**models.validate(fields, this_year=utcnow().year, has_media=has_media)[1],
              **errors}
    if not form["title"].strip():
        errors["title"] = [_("Give the story a title.")]
    if sound:
        kept = _keep_recording(form["form_id"], sound)
        if errors:
            session[KEPT] = kept
    if errors:
        return errors, None, False
    shas = [store().add_bytes(photo).sha for photo in photos]
    db, now, by = get_db(), utcnow(), {"id": g.user["id"], "name": g.user["name"]}
    recording = {k: kept[k] for k in ("sha", "kind", "bytes", "seconds")} if kept else None
    try:
        if story:
            return {}, models.save_story(db, centre_id=_centre(), fields=fields, by=by, now=now,
                                         story_id=story["id"], audio=recording, photos=shas,
                                         reviewer=_reviewer()), False
        made = models.tell_story(db, form_id=form["form_id"], centre_id=_centre(),
                                 fields=fields, by=by, now=now, audio=recording, photos=shas)
    except ValidationError as e:
        return e.errors, None, False
    session.pop(KEPT, None)
    return {}, made or form["form_id"], made is None


def _valid_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _form_page(story: dict | None, form: dict, errors: dict, status: int = 200):
    kept = session.get(KEPT)
    kept = kept if kept and form["form_id"] and kept.get("form") == form["form_id"] else None
    photos = models.photos_of(get_db(), story["id"]) if story else []
    for photo in photos:
        photo["thumb"] = photo_url(photo["photo"], 160)
    offered = [LANGUAGES[c] for c in current_app.config["LANGUAGES"] if c in LANGUAGES]
    return render_template(
        "stories/tell.html", story=story, form=form, errors=errors, kept=kept, photos=photos,
        room=models.MAX_PHOTOS - len(photos), tellers=_tellers(story), reviewer=_reviewer(),
        languages=offered, consents=CONSENT_CHOICES, consent_label=models.consent_label,
        audio_limit=AUDIO_LIMIT, photos_limit=PHOTOS_LIMIT, max_seconds=MAX_SECONDS,
        photos_lost=bool(errors) and any(f.filename for f in request.files.getlist("photos")),
    ), status


# Who may hear it: the three choices, each with its icon and one plain sentence.
CONSENT_CHOICES = (
    ("centre", "home", lambda: _("Only the people who come to this centre can hear it.")),
    ("region", "users", lambda: _("People at every centre of the region can hear it.")),
    ("public", "globe", lambda: _("Everyone can hear it: on the radio and on the internet "
                                  "too.")),
)


@bp.route("/tell", methods=["GET", "POST"])
@node_only
@permission_required("tell")
def tell():
    form = _form_from(None)
    if request.method == "GET":
        return _form_page(None, form, {})
    errors, story_id, again = _check_and_save(None, form)
    if errors:
        return _form_page(None, form, errors, 400)
    if again:
        flash(_("This story was already saved. It is in your stories."), "info")
    else:
        flash(_("Thank you! The story is saved. A facilitator will listen to it, then others "
                "can hear it."), "success")
    return redirect(url_for("stories.mine") + f"#story-{story_id}")


@bp.route("/<story_id>/edit", methods=["GET", "POST"])
@node_only
@permission_required("tell")
def edit(story_id):
    story = _changeable(story_id)
    form = _form_from(story)
    if request.method == "GET":
        return _form_page(story, form, {})
    errors, _id, _again = _check_and_save(story, form)
    if errors:
        return _form_page(story, form, errors, 400)
    if models.get_story(get_db(), story_id)["status"] == "pending" and \
            story["status"] != "pending":
        flash(_("Saved. The story waits for a facilitator to listen to it again."), "success")
    else:
        flash(_("Saved: %(title)s.", title=form["title"].strip()), "success")
    return redirect(url_for("stories.mine") + f"#story-{story_id}")


@bp.post("/<story_id>/photos/<photo_id>/remove")
@node_only
@permission_required("tell")
def remove_photo(story_id, photo_id):
    story = _changeable(story_id)
    try:
        models.remove_photo(get_db(), centre_id=_centre(), story_id=story["id"],
                            photo_id=photo_id, now=utcnow())
    except NotFound:
        abort(404)
    flash(_("The photo was taken away from the story."), "success")
    return redirect(url_for("stories.edit", story_id=story_id) + "#photos")


@bp.route("/<story_id>/consent", methods=["GET", "POST"])
@node_only
@permission_required("tell")
def consent(story_id):
    story = _changeable(story_id)
    if request.method == "GET":
        return _consent_page(story, {}, confirm=False)
    chosen = request.form.get("consent", "")
    if chosen == models.WITHDRAWN and request.form.get("confirm") != "yes":
        return _consent_page(story, {}, confirm=True)
    by = {"id": g.user["id"], "name": g.user["name"]}
    try:
        models.set_consent(get_db(), centre_id=_centre(), story_id=story_id, consent=chosen,
                           by=by, now=utcnow())
    except ValidationError as e:
        return _consent_page(story, e.errors, confirm=False, status=400)
    if chosen == models.WITHDRAWN:
        flash(_("The story “%(title)s” was withdrawn. It is removed from this centre, from "
                "every other centre and from the hub, for ever.", title=story["title"]),
              "success")
        return redirect(url_for("stories.mine"))
    flash(_("Saved. Who may hear it: %(consent)s.", consent=models.consent_label(chosen)),
          "success")
    return redirect(url_for("stories.consent", story_id=story_id))


def _consent_page(story: dict, errors: dict, *, confirm: bool, status: int = 200):
    return render_template("stories/consent.html", story=story, errors=errors,
                           confirm=confirm, consents=CONSENT_CHOICES,
                           consent_label=models.consent_label), status


@bp.get("/mine")
@node_only
@permission_required("tell")
def mine():
    found = models.list_stories(get_db(), person=g.user["id"], centre=_centre(), limit=200)
    for story in found["stories"]:
        story["thumb"] = photo_url(story["photo"], 160)
        story["has_audio"] = bool(story["audio"]) and store().has(story["audio"])
    return render_template("stories/mine.html", stories=found["stories"], total=found["total"],
                           consent_label=models.consent_label,
                           status_label=models.status_label, when_label=models.when_label,
                           has_story_page="stories.story" in current_app.view_functions)
