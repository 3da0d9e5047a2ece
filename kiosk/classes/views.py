"""Facilitators' class pages: the centre's classes, a class's progress grid and who needs help,
enrolment, attendance in one tap per learner, CSV downloads and the class's certificates.

Imports the area's models, the courses area's models (the courses a class may follow),
``kiosk.auth.access``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.web`` and Babel (lists of
names). Every page is a centre's (the hub has no classes) and needs the ``teach`` permission:
checked once, for the whole blueprint.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from zoneinfo import ZoneInfo

from babel.lists import format_list
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from ..auth.access import require
from ..courses import models as courses
from ..data import get_db, utcnow
from ..errors import ValidationError
from ..i18n import _, format_number, language, ngettext, text_languages
from ..web import csv_download
from . import grid as grids
from . import models

bp = Blueprint("classes", __name__, url_prefix="/courses/classes")
require(bp, "teach", node_only=True)

SHOWN_CANDIDATES = 40  # people offered at once when adding to a class; a search narrows it


def _centre() -> str:
    return current_app.config["CENTRE_ID"]


def _class(class_id: str) -> dict:
    """A class of this centre; another centre's (or none) raises NotFound, a 404 page."""
    return models.get_class(get_db(), class_id, _centre(), text_languages())


def _today() -> dt.date:
    """Today where the centre is (a class at 8 pm in Ecuador is not tomorrow's)."""
    return utcnow().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def _day(held_on: str | None) -> dt.date | None:
    # A bare "YYYY-MM-DD" given to the date filter would be read as UTC midnight: the day before.
    return dt.date.fromisoformat(held_on) if held_on else None


# The centre's classes.


def _courses() -> list[dict]:
    found = courses.catalogue(get_db(), lang=text_languages(), every_language=True)
    return sorted(found, key=lambda c: c["title"].casefold())


@bp.route("", methods=["GET", "POST"])
def index():
    archived = request.args.get("archived") == "1"
    form = {"name": request.form.get("name", ""), "course": request.form.get("course", "")}
    errors: dict[str, list[str]] = {}
    courses_offered = _courses()
    if request.method == "POST":
        archived = False
        try:  # checked whole before anything is written
            class_id = models.create_class(
                get_db(), centre_id=_centre(), name=unicodedata.normalize("NFC", form["name"]),
                course_id=form["course"], facilitator_id=g.user["id"], now=utcnow())
        except ValidationError as e:
            errors = e.errors
        else:
            flash(_("The class is ready. Now add its learners."), "success")
            return redirect(url_for(".learners", class_id=class_id))
    found = models.list_classes(get_db(), _centre(), text_languages(), archived=archived)
    for row in found:
        row["last_day"] = _day(row["last_session"])
    return render_template("classes/list.html", classes=found, courses=courses_offered,
                           archived=archived, form=form, errors=errors), 400 if errors else 200


# One class.


def _class_page(class_id: str, errors: dict | None = None, status: int = 200):
    grid = grids.class_grid(get_db(), class_id, _centre(), text_languages(), utcnow())
    sessions = [{**s, "day": _day(s["held_on"])} for s in grid["sessions"]]
    # "3 of 7" is translated once and filled in here: forty rows of it cost the page more
    # through gettext in the template than the rest of its grid.
    of = _("%(done)s of %(total)s")
    held = format_number(len(sessions))
    for row in grid["rows"]:
        row["done_of"] = of % {"done": format_number(row["done"]),
                               "total": format_number(row["total"])}
        row["attended_of"] = of % {"done": format_number(row["attended"]), "total": held}
    return render_template(
        "classes/page.html", grid=grid, klass=grid["class"], sessions=sessions,
        stuck=[row for row in grid["rows"] if row["stuck"]], errors=errors or {},
        may_change=models.may_change(grid["class"], g.user),
        certified=any(row["certificate"] for row in grid["rows"])), status


@bp.get("/<class_id>")
def page(class_id):
    return _class_page(class_id)


# Who is in the class: its own page, so that the class page a facilitator opens every day is
# the grid, not two lists of forty (issue 14: the grid's page must answer fast under load).


def _learners_page(class_id: str, status: int = 200):
    klass = _class(class_id)
    db = get_db()
    query = request.values.get("q", "").strip()[:60]
    # Without a name typed, a village's thousand people are not listed: forty of them, chosen
    # by the alphabet, help nobody, and cost the page more than the rest of it.
    waiting = None if query else models.count_candidates(db, class_id=class_id,
                                                         centre_id=_centre())
    people, more = [], 0
    if query or waiting <= SHOWN_CANDIDATES:
        people = models.candidates(db, class_id=class_id, centre_id=_centre(), query=query,
                                   limit=SHOWN_CANDIDATES)
        if query and len(people) == SHOWN_CANDIDATES:
            more = models.count_candidates(db, class_id=class_id, centre_id=_centre(),
                                           query=query) - SHOWN_CANDIDATES
    return render_template(
        "classes/learners.html", klass=klass, learners=models.learners_of(db, class_id),
        query=query, candidates=people, more=more, waiting=waiting), status


@bp.get("/<class_id>/learners")
def learners(class_id):
    return _learners_page(class_id)


def _back(class_id: str, anchor: str):
    query = request.form.get("q", "").strip()[:60] or None
    return redirect(url_for(".learners", class_id=class_id, q=query, _anchor=anchor))


def _names(people: list[dict]) -> str:
    """"Ana, Beto y Carla", in the page's language."""
    return format_list([p["name"] for p in people], locale=language().number_locale)


@bp.post("/<class_id>/enrol")
def enrol(class_id):
    """One person (the "Add" beside a name) or everyone ticked, in one transaction."""
    _class(class_id)
    try:
        added = models.enrol_many(get_db(), class_id=class_id,
                                  learner_ids=request.form.getlist("learner_id"),
                                  centre_id=_centre(), now=utcnow())
    except ValidationError as e:
        flash(str(e), "error")
        return _learners_page(class_id, status=400)
    if len(added) == 1:
        flash(_("%(name)s is now in the class.", name=added[0]["name"]), "success")
    elif added:
        flash(ngettext("%(num)d person is now in the class: %(names)s.",
                       "%(num)d people are now in the class: %(names)s.", len(added),
                       names=_names(added)), "success")
    else:  # the same form sent twice
        flash(_("They were already in the class: nothing changed."), "info")
    return _back(class_id, "add")


@bp.post("/<class_id>/unenrol")
def unenrol(class_id):
    _class(class_id)
    try:
        # Leaving sets active = 0: progress and attendance stay, and adding them again
        # restores it.
        leaving = models.unenrol_many(get_db(), class_id=class_id,
                                      learner_ids=request.form.getlist("learner_id"))
    except ValidationError as e:
        flash(str(e), "error")
        return _learners_page(class_id, status=400)
    if len(leaving) == 1:
        flash(_("%(name)s left the class.", name=leaving[0]["name"]), "success")
    elif leaving:
        flash(ngettext("%(num)d person left the class: %(names)s.",
                       "%(num)d people left the class: %(names)s.", len(leaving),
                       names=_names(leaving)), "success")
    else:
        flash(_("They had already left the class: nothing changed."), "info")
    return _back(class_id, "learners")


@bp.post("/<class_id>/edit")
def edit(class_id):
    klass = _class(class_id)
    db = get_db()
    if not models.may_change(klass, g.user):
        # Reading, attendance and enrolment are open to every facilitator (one stands in for
        # another); what the class is, only its own facilitator or an admin changes.
        flash(_("Only the class's facilitator or an admin can rename or archive it."), "error")
        return _class_page(class_id, status=403)
    if "archive" in request.form:
        archived = request.form["archive"] == "1"
        models.archive_class(db, class_id, archived, utcnow())
        flash(_("The class is archived. You find it under “Archived classes”.") if archived
              else _("The class is back in the list."), "success")
        return redirect(url_for(".index") if archived else url_for(".page",
                                                                     class_id=class_id))
    try:
        models.rename_class(db, class_id, unicodedata.normalize(
            "NFC", request.form.get("name", "")), utcnow())
    except ValidationError as e:
        return _class_page(class_id, errors=e.errors, status=400)
    if klass["name"] != _class(class_id)["name"]:
        flash(_("The class has a new name."), "success")
    return redirect(url_for(".page", class_id=class_id))


# Attendance: one session per class and day; one tap per learner, one save. Nothing is written
# until the save: a list opened and left makes no "0 present" session (issue 16).


def _roll(klass: dict, session: dict | None, day: dt.date, present: set[str],
          saved: bool = False, status: int = 200):
    learners = models.learners_of(get_db(), klass["id"])
    return render_template("classes/session.html", klass=klass, session=session, day=day,
                           learners=learners, present=present,
                           count=len(present & {p["id"] for p in learners}),
                           saved=saved), status


def _posted_day() -> dt.date:
    """The day of the list being saved: today, or yesterday for a list opened before
    midnight; anything else is an old or made-up form."""
    try:
        day = dt.date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        day = None
    today = _today()
    if day not in (today, today - dt.timedelta(days=1)):
        raise ValidationError({"day": [_("This list is from another day. Press “Take "
                                         "attendance today” again.")]})
    return day


def _everyone() -> set[str]:
    return {p["id"] for p in models.learners_of(get_db(), request.view_args["class_id"])}


@bp.post("/<class_id>/sessions")
def open_session(class_id):
    """"Take attendance today" opens today's list without writing (today's saved session, if
    there is one, to correct); the list's Save, sent here with its day, writes the session and
    everyone's mark at once."""
    klass = _class(class_id)
    db = get_db()
    if "day" not in request.form:
        found = models.find_session(db, class_id, _today())
        if found:
            return redirect(url_for(".attendance", class_id=class_id, session_id=found["id"]))
        return _roll(klass, None, _today(), set())
    try:
        day = _posted_day()
    except ValidationError as e:
        flash(str(e), "error")
        return _roll(klass, None, _today(), set(), status=400)
    if "everyone" in request.form:  # without JavaScript: the list again, everyone ticked
        return _roll(klass, None, day, _everyone())
    present = set(request.form.getlist("present"))
    try:
        _sid, count = models.save_attendance(db, class_id=class_id, day=day, present=present,
                                             centre_id=_centre(), now=utcnow())
    except ValidationError as e:
        flash(str(e), "error")
        return _roll(klass, None, day, present, status=400)
    return _saved(class_id, count)


def _saved(class_id: str, count: int):
    total = len(models.learners_of(get_db(), class_id))
    flash(_("Attendance saved: %(present)s of %(total)s present.", present=format_number(count),
            total=format_number(total)), "success")
    return redirect(url_for(".page", class_id=class_id, _anchor="sessions"))


@bp.route("/<class_id>/sessions/<session_id>", methods=["GET", "POST"])
def attendance(class_id, session_id):
    klass = _class(class_id)
    db = get_db()
    session = models.get_session(db, class_id, session_id)
    marked = models.attendance_of(db, session_id)
    present = {learner_id for learner_id, here in marked.items() if here}
    day = _day(session["held_on"])
    if request.method == "POST":
        if "everyone" in request.form:
            return _roll(klass, session, day, _everyone(), saved=bool(marked))
        present = set(request.form.getlist("present"))
        try:
            count = models.record_attendance(db, class_id=class_id, session_id=session_id,
                                             present=present, centre_id=_centre(), now=utcnow())
        except ValidationError as e:
            flash(str(e), "error")
            return _roll(klass, session, day, present, saved=bool(marked), status=400)
        return _saved(class_id, count)
    return _roll(klass, session, day, present, saved=bool(marked))


# Downloads and certificates.


def _local_day(moment: str | None) -> str:
    if not moment:
        return ""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    return dt.datetime.fromisoformat(moment).astimezone(zone).date().isoformat()


@bp.get("/<class_id>/progress.csv")
def progress_csv(class_id):
    grid = grids.class_grid(get_db(), class_id, _centre(), text_languages(), utcnow())
    header = [_("Name"), _("Lessons done"), _("Lessons")]
    for number, lesson in enumerate(grid["lessons"], 1):
        numbered = f"{number}. {lesson['title']}"
        header.append(numbered)
        if lesson["kind"] == "quiz":
            header.append(_("%(lesson)s: best score (%%)", lesson=numbered))
    header += [_("Certificate"), _("Last activity")]
    words = {"done": _("done"), "started": _("started"), "todo": ""}
    rows = [header]
    for row in grid["rows"]:
        line = [row["learner"]["name"], row["done"], row["total"]]
        for cell in row["cells"]:
            line.append(words[cell["status"]])
            if cell["kind"] == "quiz":
                line.append(cell["score"])
        certificate = row["certificate"]
        line += [certificate["code"] if certificate else "", _local_day(row["last_active"])]
        rows.append(line)
    return csv_download(rows, grid["class"]["name"], "progress", unnamed="class")


@bp.get("/<class_id>/attendance.csv")
def attendance_csv(class_id):
    klass = _class(class_id)
    db = get_db()
    sessions = sorted(models.sessions_of(db, class_id), key=lambda s: s["held_on"])
    marks = [models.attendance_of(db, s["id"]) for s in sessions]
    rows = [[_("Name"), *(s["held_on"] for s in sessions), _("Sessions attended")]]
    for learner in models.learners_of(db, class_id):
        here = [int(m.get(learner["id"], False)) for m in marks]
        rows.append([learner["name"], *here, sum(here)])
    totals = [sum(row[1 + i] for row in rows[1:]) for i in range(len(sessions))]
    rows.append([_("Present"), *totals, sum(totals)])
    return csv_download(rows, klass["name"], "attendance", unnamed="class")


@bp.get("/<class_id>/certificates")
def certificates(class_id):
    klass = _class(class_id)
    db = get_db()
    issued = []
    for learner in models.learners_of(db, class_id):
        found = courses.find_certificate(db, learner["id"], klass["course_id"])
        if found:
            issued.append({"name": learner["name"], "code": found["code"],
                           "issued_at": found["issued_at"]})
    return render_template("courses/certificates.html", course=klass["course"],
                           certificates=issued,
                           back=url_for(".page", class_id=class_id))
