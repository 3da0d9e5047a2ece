"""The review queue of a centre's facilitators: each story waiting, with its recording, photos
and transcript, to approve, send back with a note, or hide with a reason. A centre's pages
only: a story is reviewed where it was told."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for

from ...auth.access import node_only, permission_required
from ...data import get_db, utcnow
from ...errors import NotFound, ValidationError
from ...i18n import LANGUAGES, _
from ...media import photo_url
from .. import models
from . import bp
from .browse import audio_url

DONE = {"approved": lambda title: _("“%(title)s” is approved: people can listen to it now.",
                                    title=title),
        "returned": lambda title: _("“%(title)s” was sent back to its teller with your note.",
                                    title=title),
        "hidden": lambda title: _("“%(title)s” is hidden.", title=title)}


def _queue_page(*, failed: str | None = None, errors: dict | None = None, status: int = 200):
    db = get_db()
    stories = models.review_queue(db, centre_id=current_app.config["CENTRE_ID"])
    for s in stories:
        s["audio_url"] = audio_url(s["audio"])
        s["photos"] = models.photos_of(db, s["id"])
        s["when_text"] = models.when_label(s)
        s["language"] = LANGUAGES.get(s["lang"])
    return render_template("stories/review.html", stories=stories, failed=failed,
                           errors=errors or {}, typed=request.form, photo_url=photo_url,
                           consent_label=models.consent_label), status


@bp.get("/review")
@node_only
@permission_required("review_stories")
def review_queue():
    return _queue_page()


@bp.post("/<story_id>/review")
@node_only
@permission_required("review_stories")
def review(story_id):
    action = request.form.get("action", "")
    try:
        status = models.review_waiting(
            get_db(), centre_id=current_app.config["CENTRE_ID"], story_id=story_id,
            action=action, note=request.form.get("note", ""), by=g.user, now=utcnow())
    except ValidationError as e:
        return _queue_page(failed=story_id, errors=e.errors, status=400)
    except NotFound as e:
        return _queue_page(failed=story_id, errors={"story": [str(e)]}, status=404)
    title = models.get_story(get_db(), story_id)["title"]
    flash(DONE[status](title), "success")
    return redirect(url_for(".review_queue"))
