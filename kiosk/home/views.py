"""The start page and the language picker. Imports ``kiosk.auth`` (decorators, and its models
to remember a signed-in person's language), ``kiosk.data`` and ``kiosk.i18n``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ..auth import models as accounts
from ..auth.access import safe_next
from ..data import get_db, utcnow
from ..i18n import LANGUAGES, _, set_request_language

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    tiles = [tile for provide in current_app.extensions["infocentre"]["tiles"]
             for tile in provide(g.user)]
    tiles.sort(key=lambda tile: not tile.get("first"))  # a person's main work leads (stable)
    return render_template("home/index.html", tiles=tiles, today=utcnow())


@bp.route("/language", methods=["GET", "POST"])
def language():
    """Choose the language: remembered on the account when signed in, else for this visit."""
    back = safe_next(request.values.get("next"), url_for("home.index"))
    if request.method == "POST":
        code = request.form.get("lang", "")
        if code not in current_app.config["LANGUAGES"]:
            flash(_("Choose one of the languages offered."), "error")
            return render_template("home/language.html", back=back), 400
        if g.user:
            accounts.set_language(get_db(), g.user["id"], code, utcnow())
            g.user["lang"] = code
        else:
            session["lang"] = code
        set_request_language(code)
        flash(_("Language of the pages: %(language)s.", language=LANGUAGES[code].name), "success")
        return redirect(back)
    return render_template("home/language.html", back=back)
