"""The hub's pages of the stories, for the regional staff: every centre's stories, filtered by
centre, status, consent and whether they were collected, marked collected several at once; the
exports (the archive and the radio's), made in the background with their progress shown; and
the podcast feed of approved ``public`` stories, which anyone may read.

Imports the area's models, ``export``, ``jobs`` and ``radio``, ``kiosk.auth.access``,
``kiosk.data``, ``kiosk.i18n`` and ``kiosk.web``. Every page here is the hub's: 404 at a
centre, before anything else.
"""

from __future__ import annotations

import email.utils
import functools
import re
import xml.etree.ElementTree as ET

from flask import (
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from ...auth.access import can, current_user
from ...data import fetch, get_db, utcnow
from ...errors import KioskError, ValidationError
from ...i18n import LANGUAGES, _, current_language, format_number, ngettext, set_request_language
from ...media import store
from ...web import wants_json
from .. import export as archive
from .. import jobs, models, radio
from . import bp

PER_PAGE = 50
MAX_MARKED = 500  # stories marked in one go: a page shows 50
FEED_ITEMS = 200
DC = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("dc", DC)


def hub_page(view):
    """A page of the hub only: 404 at a centre, before anything else; then signed in (else the
    sign-in page) with ``collect_stories`` (else 403)."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_app.config["ROLE"] != "hub":
            abort(404)
        if current_user() is None:
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        if not can("collect_stories"):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def link(endpoint: str, **values) -> str | None:
    """The address of another part's page, or None while this installation has no such page."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


def _centres(db) -> list[dict]:
    return fetch(db, "SELECT id, name FROM centres WHERE role = 'node' ORDER BY name, id")


def _filters(args) -> dict:
    """The collection's filters from the address; a value that is none of the choices is no
    filter (an old link keeps working)."""
    status = args.get("status", "")
    consent = args.get("consent", "")
    collected = args.get("collected", "")
    page = args.get("page", "1")
    return {"centre": args.get("centre", "")[:64],
            "status": status if status in models.STATUSES else "",
            "consent": consent if consent in models.CONSENTS else "",
            "collected": collected if collected in ("yes", "no") else "",
            "page": int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1}


def _collection_page(errors: dict | None = None, status: int = 200):
    db = get_db()
    chosen = _filters(request.args)
    found = models.list_stories(
        db, centre=chosen["centre"] or None, status=chosen["status"] or None,
        consent=chosen["consent"] or None,
        collected={"yes": True, "no": False}.get(chosen["collected"]),
        limit=PER_PAGE, offset=(chosen["page"] - 1) * PER_PAGE)
    pages = max(1, -(-found["total"] // PER_PAGE))
    query = {k: v for k, v in chosen.items() if v and k != "page"}
    return render_template(
        "stories/collection.html", stories=found["stories"], total=found["total"],
        chosen=chosen, query=query, pages=pages,
        mark_url=url_for("stories.mark_collected", **query,
                         page=chosen["page"] if chosen["page"] > 1 else None),
        page_url=lambda n: url_for("stories.collection", **query, page=n),
        centres=_centres(db), errors=errors or {},
        statuses=[(s, models.status_label(s)) for s in models.STATUSES],
        consents=[(c, models.consent_label(c)) for c in models.CONSENTS],
        story_url=lambda story_id: link("stories.story", story_id=story_id),
        status_label=models.status_label,
        consent_label=models.consent_label, when_label=models.when_label), status


@bp.get("/collection")
@hub_page
def collection():
    return _collection_page()


@bp.post("/collection/mark")
@hub_page
def mark_collected():
    ids = [i for i in request.form.getlist("story") if i]
    action = request.form.get("action", "")
    errors = {}
    if action not in ("collect", "uncollect"):
        errors["action"] = [_("Choose to mark the stories as collected, or not collected.")]
    elif not ids:
        errors["story"] = [_("Tick the stories to mark first.")]
    elif len(ids) > MAX_MARKED or any(len(i) > 64 for i in ids):
        errors["story"] = [_("Mark at most %(count)d stories at once.", count=MAX_MARKED)]
    if errors:
        return _collection_page(errors, 400)
    changed = models.mark_collected(get_db(), ids, by=current_user(), now=utcnow(),
                                    collected=action == "collect")
    if action == "collect":
        flash(ngettext("%(num)d story marked as collected.",
                       "%(num)d stories marked as collected.", changed), "success")
    else:
        flash(ngettext("%(num)d story marked as not collected.",
                       "%(num)d stories marked as not collected.", changed), "success")
    chosen = _filters(request.args)  # the form is sent to an address holding the filters
    query = {k: v for k, v in chosen.items() if v and (k != "page" or v > 1)}
    return redirect(url_for("stories.collection", **query))


# Exports.


def _export_page(form: dict, errors: dict, status: int = 200):
    return render_template("stories/export.html", form=form, errors=errors,
                           centres=_centres(get_db()), running=jobs.running(current_app),
                           radio_ready=radio.available(),
                           radio_count=len(radio.radio_stories(get_db())),
                           choices=_export_choices()), status


def _export_choices() -> list[tuple[str, str, str]]:
    return [("region", _("For the region"),
             _("Stories whose tellers allowed every centre of the region, or everyone.")),
            ("public", _("Public only"),
             _("Only stories whose tellers allowed everyone: for radio and the internet."))]


@bp.route("/export", methods=["GET", "POST"])
@hub_page
def export():
    if request.method == "GET":
        return _export_page({"consent": "region", "centre": ""}, {})
    form = {"consent": request.form.get("consent", ""),
            "centre": request.form.get("centre", "")}
    try:
        archive.check_choice(get_db(), form["consent"], form["centre"] or None)
        job = jobs.start(current_app._get_current_object(), kind="archive",
                         consent=form["consent"], centre=form["centre"] or None,
                         lang=current_language(), now=utcnow())
    except ValidationError as e:
        return _export_page(form, e.errors, 400)
    except KioskError as e:
        return _export_page(form, {"job": [str(e)]}, 409)
    return redirect(url_for("stories.export_job", job_id=job.id))


@bp.post("/radio")
@hub_page
def radio_export():
    form = {"consent": "region", "centre": ""}
    if not radio.available():
        return _export_page(form, {"radio": [_(
            "The radio export needs PyAV, which is not installed at this hub.")]}, 503)
    try:
        job = jobs.start(current_app._get_current_object(), kind="radio", consent="public",
                         lang=current_language(), now=utcnow())
    except KioskError as e:
        return _export_page(form, {"job": [str(e)]}, 409)
    return redirect(url_for("stories.export_job", job_id=job.id))


def _job(job_id: str) -> jobs.Job:
    job = jobs.find(current_app, job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/export/<job_id>")
@hub_page
def export_job(job_id):
    job = _job(job_id)
    if wants_json():
        return jsonify(ok=job.state != "failed", **job.public(),
                       done_text=format_number(job.done), total_text=format_number(job.total),
                       download=url_for("stories.export_download", job_id=job.id)
                       if job.state == "done" else None)
    centre = next((c["name"] for c in _centres(get_db()) if c["id"] == job.centre), None)
    return render_template("stories/export_job.html", job=job, centre=centre)


@bp.get("/export/<job_id>/download")
@hub_page
def export_download(job_id):
    job = _job(job_id)
    path = jobs.path_of(current_app, job)
    if job.state != "done" or not path.is_file():
        abort(404)
    day = job.started_at[:10]
    name = (f"stories-radio-{day}.zip" if job.kind == "radio"
            else f"stories-{job.consent}-{day}.zip")
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=name, conditional=True)


# The podcast feed.

# Characters XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value) -> str:
    return _NOT_XML.sub("", str(value or ""))


def _element(parent, tag: str, text=None, **attrs) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        node.text = _text(text)
    return node


def _rfc822(iso_text: str) -> str | None:
    from datetime import datetime

    try:
        return email.utils.format_datetime(datetime.fromisoformat(iso_text))
    except (TypeError, ValueError):
        return None


@bp.get("/feed.xml")
def feed():
    """RSS 2.0 with an enclosure per story: approved, ``public``, with its recording here."""
    if current_app.config["ROLE"] != "hub":
        abort(404)
    set_request_language(current_app.config["DEFAULT_LANGUAGE"])  # a feed has one language
    media = store()
    rows = fetch(get_db(), "SELECT id, title, teller_name, village, year, decade, body, "
                           "transcript, audio, audio_kind, audio_bytes, audio_seconds, "
                           "reviewed_at, created_at FROM stories WHERE status = 'approved' "
                           "AND consent = 'public' AND audio IS NOT NULL ORDER BY "
                           "created_at DESC, id DESC LIMIT ?", [FEED_ITEMS])
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    name = current_app.config["CENTRE_NAME"]
    _element(channel, "title", _("Stories of our villages: %(hub)s", hub=name))
    _element(channel, "link", link("stories.index", _external=True)
             or url_for("home.index", _external=True))
    _element(channel, "description", _("Memories of the villages of the region, told by "
                                       "their people, who allowed everyone to hear them."))
    _element(channel, "language", LANGUAGES[current_language()].tag)
    _element(channel, "generator", "Infocentre")
    for row in rows:
        if not media.has(row["audio"]):
            continue  # not arrived from its centre yet
        item = ET.SubElement(channel, "item")
        _element(item, "title", row["title"])
        who = " · ".join(x for x in (row["teller_name"], row["village"],
                                     models.when_label(row)) if x)
        text = row["transcript"] or row["body"]
        _element(item, "description", f"{who}\n\n{text}".strip())
        page = link("stories.story", story_id=row["id"], _external=True)
        if page:
            _element(item, "link", page)
        _element(item, "guid", f"urn:uuid:{row['id']}", isPermaLink="false")
        if row["teller_name"]:  # RSS's own <author> is an e-mail address
            _element(item, f"{{{DC}}}creator", row["teller_name"])
        published = _rfc822(row["reviewed_at"] or row["created_at"])
        if published:
            _element(item, "pubDate", published)
        _element(item, "enclosure", url=url_for("media.original", sha=row["audio"],
                                                _external=True),
                 length=str(media.size(row["audio"])), type=row["audio_kind"] or "audio/ogg")
    body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return Response(body, mimetype="application/rss+xml")
