"""The hub's pages for the regional staff: the centres of the region (when each last synced, what
waits, its versions, an alert for the silent ones), registering a centre (its token shown once)
and revoking one, and a read-only page per centre: its learners, and lessons finished and
certificates per month as a table, a chart drawn here (SVG) and a CSV.

Routes on the admin area's blueprint. Imports Flask, the admin area's models and
``chart``, the models of ``kiosk.auth`` and ``kiosk.courses`` (a centre's learners and their
records), ``kiosk.auth.access``, ``kiosk.data``, ``kiosk.i18n``, ``kiosk.web`` and ``sync.signing``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from sync import signing

from .. import media
from ..auth import models as accounts
from ..auth.access import can, current_user, signin_required
from ..courses.models import region
from ..data import get_db, iso, reading, utcnow
from ..errors import NotFound, ValidationError
from ..i18n import _, format_month, format_number, ngettext
from ..web import csv_download
from . import chart, models
from .views import bp

MONTHS = 12
LEARNERS_PER_PAGE = 50


def hub_page(permission: str):
    """A page of the hub only (404 at a centre), for those with ``permission`` (signed in
    first, else the sign-in page; 403 without it)."""
    def decorator(view):
        @functools.wraps(view)
        @signin_required
        def wrapped(*args, **kwargs):
            if current_app.config["ROLE"] != "hub":
                abort(404)
            if not can(permission, current_user()):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


@bp.get("/hub/centres")
@hub_page("see_centres")
def centres():
    now = utcnow()
    days = current_app.config["HUB_SILENT_DAYS"]
    found = models.overview(get_db())
    for node in found:
        node["seen"] = models.last_seen(node)
        node["silent"] = models.silent(node, now, days)
    return render_template("admin/centres.html", centres=found, now=now, days_words=_days(days),
                           silent=[n for n in found if n["silent"]],
                           may_register=can("register_centres"), cap=models.WAITING_CAP)


@bp.route("/hub/centres/new", methods=["GET", "POST"])
@hub_page("register_centres")
def new_centre():
    given = request.form.getlist("name")
    name, errors = (given[0] if len(given) == 1 else ""), {}
    if request.method == "POST":
        db = get_db()
        try:
            name = models.clean_centre_name(name)  # two names in one form: none
            if models.name_taken(db, name):
                raise ValidationError({"name": [_(
                    "A centre with this name is already registered. Choose another name, or "
                    "revoke the old centre first.")]})
        except ValidationError as e:
            errors = e.errors
        else:
            node = models.register_node(db, name=name, hub_id=current_app.config["CENTRE_ID"],
                                        now=utcnow())
            token = signing.make_token(node["node_id"], signing.derive_secret(
                current_app.config["SECRET_KEY"], node["node_id"], node["generation"]))
            # Shown on this answer only (pages are never stored: Cache-Control no-store); the
            # hub keeps no copy, and reloading would register nothing new.
            return render_template("admin/centre_token.html", name=name, token=token,
                                   node_id=node["node_id"], hub=request.url_root.rstrip("/"))
    return render_template("admin/centre_new.html", name=name[:200], errors=errors), (
        400 if errors else 200)


def _days(days: float) -> str:
    """The silence setting in words: "7 days", "1 day", "0.5 days"."""
    return ngettext("%(days)s day", "%(days)s days", math.ceil(days),
                    days=format_number(int(days) if days == int(days) else days))


def _node_or_404(node_id: str) -> dict:
    node = models.find_node(get_db(), node_id)
    if node is None:
        raise NotFound(_("This centre is not registered at this hub."))
    return node


@bp.route("/hub/centres/<node_id>/revoke", methods=["GET", "POST"])
@hub_page("register_centres")
def revoke_centre(node_id):
    node = _node_or_404(node_id)
    if request.method == "POST":
        if models.revoke_node(get_db(), node_id, utcnow()):
            media.sweep(get_db())  # blobs that waited only for this centre to pull a deletion
            flash(_("%(name)s can no longer sync with the hub.", name=node["name"]), "success")
        else:
            flash(_("%(name)s was already revoked: nothing was changed.", name=node["name"]),
                  "info")
        return redirect(url_for("admin.centres"))
    return render_template("admin/centre_revoke.html", node=node)


@bp.get("/hub/centres/<node_id>")
@hub_page("see_centres")
def centre(node_id):
    db = get_db()
    node = _node_or_404(node_id)
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1
    with reading(db):
        months = _months(db, node_id)
        learners = accounts.count_learners(db, node_id)
        pages = max(1, -(-learners // LEARNERS_PER_PAGE))
        page = min(max(page, 1), pages)
        listed = accounts.learners_page(db, node_id, offset=(page - 1) * LEARNERS_PER_PAGE,
                                        limit=LEARNERS_PER_PAGE)
        done = region.learner_totals(db, [p["id"] for p in listed])
        totals = region.totals(db, node_id)
    for person in listed:
        person.update(done[person["id"]])
    now = utcnow()
    node["seen"] = models.last_seen(node)
    node["silent"] = models.silent(node, now, current_app.config["HUB_SILENT_DAYS"])
    charts = [chart.bars([m[key] for m in months], [m["short"] for m in months], title=title)
              for key, title in (("lessons", _("Lessons finished per month")),
                                 ("certificates", _("Courses completed per month")))]
    return render_template("admin/centre.html", node=node, months=months, charts=charts,
                           learners=learners, listed=listed, page=page, pages=pages,
                           totals=totals, now=now,
                           days_words=_days(current_app.config["HUB_SILENT_DAYS"]),
                           may_register=can("register_centres"), cap=models.WAITING_CAP)


@bp.get("/hub/centres/<node_id>/months.csv")
@hub_page("see_centres")
def centre_csv(node_id):
    db = get_db()
    node = _node_or_404(node_id)
    with reading(db):
        months = _months(db, node_id)
    rows = [[_("Month"), _("New learners"), _("Lessons finished"),
             _("Courses completed (certificates)")]]
    rows += [[m["key"], m["learners"], m["lessons"], m["certificates"]] for m in months]
    return csv_download(rows, node["name"], "months", unnamed="centre")


def _months(db, centre_id: str) -> list[dict]:
    """The last MONTHS local months, oldest first: ``key`` ("2026-03"), ``label`` ("March
    2026"), ``short`` ("Mar"), and the centre's ``learners`` added, ``lessons`` finished and
    ``certificates`` issued in it."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    local = utcnow().astimezone(zone)
    year, month = local.year, local.month
    firsts = []
    for _i in range(MONTHS):
        firsts.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    firsts.reverse()
    following = dt.date(local.year + local.month // 12, local.month % 12 + 1, 1)
    # Each local month as the UTC times it starts and ends at (summer time included).
    bounds = [iso(dt.datetime.combine(day, dt.time(), zone)) for day in [*firsts, following]]
    done = region.per_month(db, centre_id, bounds)
    added = accounts.new_learners_per_month(db, centre_id, bounds)
    found = []
    for first, counts, new in zip(firsts, done, added):
        found.append({"key": first.strftime("%Y-%m"),
                      "label": format_month(first), "short": format_month(first, short=True),
                      "learners": new, **counts})
    return found
