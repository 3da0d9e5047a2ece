"""Browsing and listening: the approved stories by village, decade and tag, a search that
ignores accents, a PLAY button on every card, and one story's page. Read-only, so the hub shows
the same pages (the region's stories; one kept for its centre only, to regional staff alone)."""

from __future__ import annotations

import os
from urllib.parse import quote

from flask import abort, current_app, redirect, render_template, request, url_for

from ...auth.access import can, current_user
from ...data import get_db
from ...errors import NotFound
from ...i18n import LANGUAGES
from ...media import SHA, photo_url
from .. import models
from . import bp

PER_PAGE = 24
MAX_QUERY = 200  # characters of a search kept (models.search_query keeps ten words)
MAX_FILTER = 80  # a village or a tag is shorter than this (models.MAX_VILLAGE, MAX_TAG)
PALETTES = 4  # drawn pictures of the stories without a photo, in as many colours


def _at_hub() -> bool:
    return current_app.config["ROLE"] == "hub"


def _staff(user: dict | None) -> bool:
    """Regional staff, who keep the region's archive at the hub."""
    return _at_hub() and bool(user) and user.get("role") in ("regional", "admin")


def _reviewer() -> bool:
    return not _at_hub() and can("review_stories")


def _consents(user: dict | None) -> tuple | None:
    """The consents whose stories this person may browse here: all at a centre (it holds only
    its own and those shared with the region); at the hub, what left its centre for the region,
    and the rest to regional staff."""
    return None if not _at_hub() or _staff(user) else ("region", "public")


def _page() -> int:
    """The page asked for (?page=, "1" is the first); only a few ASCII digits are read."""
    number = request.args.get("page", "1")
    if not (number.isascii() and number.isdigit() and len(number) <= 6) or int(number) < 1:
        return 1
    return int(number)


def _word(name: str) -> str | None:
    value = " ".join((request.args.get(name) or "")[:MAX_FILTER].split())
    return value or None


def _decade() -> int | None:
    value = request.args.get("decade", "")
    if value.isascii() and value.isdigit() and len(value) == 4 and value.endswith("0"):
        return int(value)
    return None


def audio_url(sha: str | None) -> str | None:
    """The address of a recording, or None when there is none here (not set, or it has not
    arrived from the hub yet)."""
    if not sha or not SHA.fullmatch(sha) or not os.path.isfile(
            os.path.join(current_app.config["DATA_DIR"], "media", sha[:2], sha)):
        return None
    return f"/media/{sha}"


def _cards(stories: list[dict]) -> list[dict]:
    """Each story with what its card shows made once: its address, thumbnail, recording and
    the colours of its drawn picture."""
    address = url_for("stories.story", story_id="-")[:-1]
    for s in stories:
        s["url"] = address + quote(s["id"], safe="")
        s["thumb"] = photo_url(s["photo"], 320)
        s["audio_url"] = audio_url(s["audio"])
        s["palette"] = palette(s["id"])
        s["when_text"] = models.when_label(s)
    return stories


def palette(story_id: str) -> int:
    return sum(map(ord, story_id)) % PALETTES


def _links(user: dict | None) -> dict:
    """The other parts' pages this person may open from here, when this installation has them
    (a link to a page it lacks would only lead to a 404)."""
    have = current_app.view_functions
    at_node = not _at_hub() and user is not None
    return {"tell": at_node and "stories.tell" in have and can("tell"),
            "mine": at_node and "stories.mine" in have and can("tell"),
            "review": at_node and _reviewer(),
            "collection": _at_hub() and "stories.collection" in have and can("collect_stories")}


def duration(seconds: int) -> str:
    """A recording's length as a clock shows it: "3:07" (digits read the same in every
    language's pages, written left to right)."""
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds else ""


@bp.app_template_global("story_duration")
def _duration(seconds: int) -> str:
    return duration(seconds or 0)


@bp.get("")
def index():
    db, user = get_db(), current_user()
    query = " ".join((request.args.get("q") or "")[:MAX_QUERY].split())
    filters = {"q": query or None, "village": _word("village"), "decade": _decade(),
               "tag": (_word("tag") or "").lower() or None}
    page = _page()
    found = models.list_stories(
        db, status="approved", consent=_consents(user), village=filters["village"],
        decade=filters["decade"], tag=filters["tag"], q=filters["q"], limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE)
    links = _links(user)
    waiting = models.count_waiting(db, centre_id=current_app.config["CENTRE_ID"]) \
        if links["review"] else 0
    return render_template(
        "stories/index.html", stories=_cards(found["stories"]), total=found["total"],
        page=page, pages=max(1, -(-found["total"] // PER_PAGE)), filters=filters,
        facets=models.facets(db, consent=_consents(user)), links=links,
        waiting=waiting, when_label=models.when_label)


@bp.get("/<story_id>")
def story(story_id):
    db, user = get_db(), current_user()
    centre_id = current_app.config["CENTRE_ID"]
    try:
        found = models.get_story(db, story_id)
    except NotFound:
        abort(404)
    reviewer = _reviewer()
    if not models.can_see(found, user, centre_id=centre_id, reviewer=reviewer, hub=_at_hub()):
        if user is None:  # the teller, not signed in yet, following a link to her story
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        abort(404)
    have = current_app.view_functions
    may_change = not _at_hub() and models.can_change(found, user, centre_id=centre_id,
                                                     reviewer=reviewer)
    language = LANGUAGES.get(found["lang"])
    return render_template(
        "stories/story.html", story=found, photos=models.photos_of(db, found["id"]),
        audio=audio_url(found["audio"]), language=language, palette=palette(found["id"]),
        photo_url=photo_url,
        when_text=models.when_label(found), status_label=models.status_label,
        consent_label=models.consent_label, links=_links(user),
        may_edit=may_change and "stories.edit" in have,
        may_consent=may_change and "stories.consent" in have,
        sees_consent=may_change or _staff(user),
        may_review=reviewer and found["status"] == "pending" and found["centre_id"] == centre_id)
