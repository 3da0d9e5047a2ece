"""Sign-in on shared terminals (names and PIN pad; password at the hub), sign-out, my account,
and the people pages where facilitators and admins create accounts and reset PINs.

Imports its own models and forms, ``kiosk.auth.access``, ``kiosk.data`` and ``kiosk.i18n``.
"""

from __future__ import annotations

import datetime as dt
import math

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ..data import get_db, utcnow
from ..errors import KioskError, ValidationError
from ..i18n import (
    LANGUAGES,
    _,
    _l,
    current_language,
    default_second_language,
    format_time,
    ngettext,
    set_request_language,
)
from ..media import add_photo
from . import forms, models
from .access import (
    GRANTABLE,
    can_manage,
    idle_message,
    idle_seconds,
    load_user,
    node_only,
    permission_required,
    safe_next,
    signin_required,
)

bp = Blueprint("auth", __name__, url_prefix="/auth")
ALL_NAMES_AT_ONCE = 60  # more names than this, and the sign-in list shows letters first
RECENT_COOKIE = "recent_names"  # ids of the last people who signed in at this terminal
RECENT_KEPT = 4
RECENT_DAYS = 60
bp.before_app_request(load_user)

ROLE_LABELS = {
    "villager": _l("Villager"),
    "facilitator": _l("Facilitator"),
    "cooperative": _l("Cooperative member"),
    "admin": _l("Centre admin"),
    "regional": _l("Regional staff"),
}


@bp.app_context_processor
def _signed_in():
    return {"user": g.get("user"), "seconds_left": g.get("seconds_left", 0)}


@bp.app_template_global()
def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def _with_avatar(account: dict) -> dict:
    account["initials"] = models.initials(account["name"])
    account["colour"] = models.colour(account["id"])
    return account


def _settings() -> dict:
    c = current_app.config
    return {"max_failures": c["PIN_MAX_FAILURES"], "lock_minutes": c["PIN_LOCK_MINUTES"]}


def _locked_message(until: str) -> str:
    """Says when the account opens again, as a time and as minutes from now."""
    left = dt.datetime.fromisoformat(until) - utcnow()
    minutes = max(1, math.ceil(left.total_seconds() / 60))
    return ngettext(
        "Too many wrong tries. This account opens again at %(time)s, in %(num)d minute. "
        "A facilitator can give you a new PIN.",
        "Too many wrong tries. This account opens again at %(time)s, in %(num)d minutes. "
        "A facilitator can give you a new PIN.", minutes, time=format_time(until))


def _begin_session(account: dict):
    """Start a fresh session (never reusing the guest's) and go where the person was headed."""
    guest_language = current_language()
    db = get_db()
    if not account["lang"]:
        models.set_language(db, account["id"], guest_language, utcnow())
    session.clear()
    session["sid"] = models.start_session(db, account["id"], utcnow())
    response = redirect(safe_next(request.values.get("next"), url_for("home.index")))
    if account.get("has_pin"):
        # This terminal's last few names come first on a long sign-in list (issue 14).
        ids = [account["id"], *(i for i in request.cookies.get(RECENT_COOKIE, "").split(".")
                                if i and i != account["id"])][:RECENT_KEPT]
        response.set_cookie(RECENT_COOKIE, ".".join(ids), max_age=RECENT_DAYS * 86400,
                            httponly=True, samesite="Lax",
                            secure=current_app.config["SECURE_COOKIES"])
    return response


@bp.get("/signin")
def signin():
    if current_app.config["ROLE"] == "hub":
        return password()
    query = request.args.get("q", "")[:60]
    letter = request.args.get("letter", "")[:1].upper()
    db, centre = get_db(), current_app.config["CENTRE_ID"]
    count, firsts = models.sign_in_letters(db, centre)
    letters = sorted(firsts)
    # Up to ALL_NAMES_AT_ONCE names all show at once; a village's thousand, letters first.
    by_letter = count > ALL_NAMES_AT_ONCE
    recent = []
    if query or letter:
        names = models.sign_in_names(db, centre, query=query, letter=letter,
                                     firsts=None if query else firsts.get(letter, []))
    elif by_letter:
        names = []
        ids = [i for i in request.cookies.get(RECENT_COOKIE, "").split(".") if i][:RECENT_KEPT]
        if ids:
            known = {p["id"]: p for p in models.sign_in_names(db, centre, ids=ids)}
            recent = [known[i] for i in ids if i in known]
    else:
        names = models.sign_in_names(db, centre)
    return render_template("auth/signin.html", names=names, letters=letters, query=query,
                           letter=letter, by_letter=by_letter, recent=recent,
                           next=safe_next(request.args.get("next")))


@bp.route("/signin/<account_id>", methods=["GET", "POST"])
@node_only
def pin(account_id):
    account = models.find_account(get_db(), account_id)
    if (account is None or not account["has_pin"]
            or account["centre_id"] != current_app.config["CENTRE_ID"]):
        abort(404)
    error, status = None, 200
    locked = models.lock_state(get_db(), account_id, utcnow())
    if request.method == "POST":
        # Even while locked: the check answers a locked account only after as long as a
        # comparison takes, and takes the try itself in one transaction with the count.
        try:
            entered = forms.clean_pin(request.form.get("pin"))
        except ValidationError as e:
            error, status = str(e), 400
        else:
            result = models.check_secret(get_db(), account_id, entered, utcnow(), **_settings())
            if result.ok:
                return _begin_session(account)
            locked, status = result.locked_until, 400
            if not locked:
                error = ngettext("That PIN is not right. You can try %(num)d more time.",
                                 "That PIN is not right. You can try %(num)d more times.",
                                 result.tries_left)
    if locked:
        error, status = _locked_message(locked), 403
    return render_template("auth/pin.html", account=_with_avatar(account), error=error,
                           locked=bool(locked), next=safe_next(request.values.get("next"))), status


@bp.route("/password", methods=["GET", "POST"])
def password():
    error, status = None, 200
    name = request.form.get("name", "")[:200]
    if request.method == "POST":
        secret = request.form.get("password", "")[:500]
        account = models.find_staff(get_db(), name) if name.strip() else None
        if not name.strip() or not secret:
            error, status = _("Write your name and your password."), 400
        elif account is None:
            models.spend_hash_time(secret)
            error, status = _("That name and password do not match."), 400
        else:
            result = models.check_secret(get_db(), account["id"], secret, utcnow(),
                                         kind="password", **_settings())
            if result.ok:
                return _begin_session(account)
            status = 403 if result.locked_until else 400
            error = (_locked_message(result.locked_until) if result.locked_until
                     else _("That name and password do not match."))
    return render_template("auth/password.html", error=error, name=name,
                           next=safe_next(request.values.get("next"))), status


@bp.post("/signout")
def signout():
    token = session.get("sid")
    if token:
        models.end_session(get_db(), token)
    session.clear()
    # The farewell appears on the next page, which is in the terminal's language again.
    g.user = None
    set_request_language(None)
    if request.form.get("reason") == "idle":
        flash(idle_message(), "info")
    else:
        flash(_("You are signed out. See you soon!"), "info")
    return redirect(url_for("home.index"))


@bp.post("/keepalive")
def keepalive():
    """The page's "I am still here": restart the idle countdown (JSON)."""
    if g.user is None:
        return jsonify(ok=False, errors=[{"code": "signed_out",
                                          "message": _("You are signed out.")}]), 401
    models.touch_session(get_db(), session["sid"], utcnow())
    return jsonify(ok=True, seconds_left=idle_seconds())


@bp.get("/me")
@signin_required
def me():
    return render_template("auth/me.html", errors={})


@bp.post("/me/second-language")
@signin_required
def my_second_language():
    """Change the language my courses fall back to."""
    try:
        lang = forms.clean_second_language(request.form.get("second_lang"),
                                           current_app.config["LANGUAGES"])
    except ValidationError as e:
        return render_template("auth/me.html", errors=e.errors), 400
    models.set_second_language(get_db(), g.user["id"], lang, utcnow())
    flash(_("Saved: when a course is not in your language, it shows in %(language)s.",
            language=LANGUAGES[lang].name), "success")
    return redirect(url_for("auth.me"))


@bp.post("/me/secret")
@signin_required
def change_secret():
    """Change my own PIN (or password): the current one first, and it counts as a try."""
    kind = "pin" if g.user["has_pin"] else "password"
    db = get_db()
    try:
        if kind == "pin":
            new = forms.clean_pin(request.form.get("new"), request.form.get("confirm"), "new")
        else:
            new = forms.clean_password(request.form.get("new"), request.form.get("confirm"),
                                       "new")
    except ValidationError as e:
        return render_template("auth/me.html", errors=e.errors), 400
    result = models.check_secret(db, g.user["id"], request.form.get("current", "")[:500],
                                 utcnow(), kind=kind, **_settings())
    if not result.ok:
        message = (_locked_message(result.locked_until) if result.locked_until
                   else _("Your current PIN is not right.") if kind == "pin"
                   else _("Your current password is not right."))
        return render_template("auth/me.html", errors={"current": [message]}), 400
    (models.set_pin if kind == "pin" else models.set_password)(db, g.user["id"], new, utcnow())
    flash(_("Your new PIN is saved.") if kind == "pin" else _("Your new password is saved."),
          "success")
    return redirect(url_for("auth.me"))


@bp.get("/people")
@node_only
@permission_required("manage_people")
def people():
    query = request.args.get("q", "")[:60]
    accounts = models.list_accounts(get_db(), centre_id=current_app.config["CENTRE_ID"],
                                    query=query, now=utcnow())
    for account in accounts:
        account["manageable"] = can_manage(account)
    return render_template("auth/people.html", accounts=accounts, query=query)


@bp.route("/people/new", methods=["GET", "POST"])
@node_only
@permission_required("manage_people")
def new_person():
    roles = GRANTABLE[g.user["role"]]
    form = {k: request.form.get(k, "") for k in ("name", "role", "lang", "second_lang")}
    errors = {}
    if request.method == "POST":
        try:
            account = _create_person(form, roles)
        except ValidationError as e:
            errors = e.errors
        else:
            flash(_("%(name)s can now sign in with their PIN.", name=account["name"]), "success")
            return redirect(url_for("auth.people"))
    return render_template("auth/new_person.html", form=form, roles=roles, errors=errors), (
        400 if errors else 200)


def _create_person(form: dict, roles) -> dict:
    db = get_db()
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for field, clean in (
        ("name", lambda: forms.clean_name(form["name"])),
        ("role", lambda: forms.clean_role(form["role"], roles)),
        ("lang", lambda: forms.clean_language(form["lang"] or current_language(),
                                              current_app.config["LANGUAGES"])),
        ("second_lang", lambda: forms.clean_second_language(
            form["second_lang"] or default_second_language(), current_app.config["LANGUAGES"])),
        ("pin", lambda: forms.clean_pin(request.form.get("pin"), request.form.get("confirm"))),
    ):
        try:
            cleaned[field] = clean()
        except ValidationError as e:
            for key, messages in e.errors.items():
                errors.setdefault(key, []).extend(messages)
    centre = current_app.config["CENTRE_ID"]
    taken = _("Someone at this centre already has this name. Add a family name or a nickname.")
    if "name" in cleaned and models.find_by_name(db, cleaned["name"], centre_id=centre):
        errors.setdefault("name", []).append(taken)
    if errors:
        raise ValidationError(errors)
    try:  # looked up again with the insert: the same form may come from another terminal now
        return models.add_account(db, centre_id=centre, now=utcnow(), unique_name=True,
                                  **cleaned)
    except models.NameTaken:
        raise ValidationError({"name": [taken]}) from None


def _managed_account(account_id: str) -> dict:
    """An account of this centre the signed-in person may manage (else 404 or 403)."""
    account = models.find_account(get_db(), account_id)
    if account is None or account["centre_id"] != current_app.config["CENTRE_ID"]:
        abort(404)
    if not can_manage(account):
        abort(403)
    return account


@bp.route("/people/<account_id>", methods=["GET", "POST"])
@node_only
@permission_required("manage_people")
def person(account_id):
    db = get_db()
    account = _managed_account(account_id)
    errors = {}
    if request.method == "POST":
        try:
            new = forms.clean_pin(request.form.get("pin"), request.form.get("confirm"))
        except ValidationError as e:
            errors = e.errors
        else:
            models.set_pin(db, account_id, new, utcnow())
            models.end_sessions_of(db, account_id)
            flash(_("%(name)s has a new PIN.", name=account["name"]), "success")
            return redirect(url_for("auth.people"))
    return _person_page(account, errors)


@bp.post("/people/<account_id>/second-language")
@node_only
@permission_required("manage_people")
def person_second_language(account_id):
    account = _managed_account(account_id)
    try:
        lang = forms.clean_second_language(request.form.get("second_lang"),
                                           current_app.config["LANGUAGES"])
    except ValidationError as e:
        return _person_page(account, e.errors)
    models.set_second_language(get_db(), account_id, lang, utcnow())
    flash(_("Saved: when a course is not in their language, %(name)s reads it in "
            "%(language)s.", name=account["name"], language=LANGUAGES[lang].name), "success")
    return redirect(url_for("auth.person", account_id=account_id))


def _person_page(account: dict, errors: dict):
    account["locked_until"] = models.lock_state(get_db(), account["id"], utcnow())
    return render_template("auth/person.html", account=_with_avatar(account), errors=errors), (
        400 if errors else 200)


@bp.post("/people/<account_id>/photo")
@node_only
@permission_required("manage_people")
def person_photo(account_id):
    """Give a person a photo (shown on the sign-in list), or take it away."""
    account = _managed_account(account_id)
    if request.form.get("action") == "remove":
        models.set_photo(get_db(), account_id, None, utcnow())
        flash(_("The photo of %(name)s was removed.", name=account["name"]), "success")
        return redirect(url_for("auth.person", account_id=account_id))
    upload = request.files.get("photo")
    try:
        sha = add_photo(upload.read() if upload else b"")
    except KioskError as e:
        return _person_page(account, {"photo": [str(e)]})
    models.set_photo(get_db(), account_id, sha, utcnow())
    flash(_("%(name)s has a new photo.", name=account["name"]), "success")
    return redirect(url_for("auth.person", account_id=account_id))
