"""Who is signed in, what each role may do, and the decorators every area's views use.

Imports Flask, ``kiosk.data``, ``kiosk.i18n`` and ``kiosk.auth.models``. Permissions are checked
here, on the server, for every protected view; menus only mirror them.
"""

from __future__ import annotations

import functools
import unicodedata

from flask import abort, current_app, flash, g, redirect, request, session, url_for

from ..data import get_db, utcnow
from ..i18n import _, ngettext
from . import models

# What each permission allows, by role: each area declares its own as ``PERMISSIONS`` (these
# are the auth area's), and the app gathers them. Views ask ``can(permission)``, never a role
# name, so a change of policy is one line in the area that owns it.
PERMISSIONS = {
    "manage_people": {"facilitator", "admin"},
    "manage_staff": {"admin"},  # create facilitators and admins, reset their PINs
}

NEXT_MAX = 2000  # characters of a path to return to; longer ones are not ours

# The roles a person may give to the accounts they create.
GRANTABLE = {
    "facilitator": ("villager", "cooperative"),
    "admin": ("villager", "cooperative", "facilitator", "admin"),
}


def current_user() -> dict | None:
    return g.get("user")


def can(permission: str, user: dict | None = None) -> bool:
    """Whether ``user`` (the signed-in person by default) has ``permission``; KeyError for a
    permission no loaded area declares."""
    user = user or current_user()
    roles = current_app.extensions["infocentre"]["permissions"][permission]
    return bool(user) and user["role"] in roles


def can_manage(account: dict, user: dict | None = None) -> bool:
    """Whether ``user`` may reset this account's PIN: same centre, a role they may grant."""
    user = user or current_user()
    return (bool(user) and account["id"] != user["id"]
            and account["centre_id"] == current_app.config["CENTRE_ID"]
            and account["role"] in GRANTABLE.get(user["role"], ()))


def safe_next(target: str | None, default: str | None = None) -> str | None:
    """``target`` if a browser would read it as a path of this site, else ``default``.

    Browsers drop tabs and line breaks from a URL and read ``\\`` as ``/``, so ``/\\evil.example``
    and ``/<tab>/evil.example`` lead to another host (issue 14): only "/" followed by anything
    but another slash stays here. A value with a control character (CR/LF would also break the
    Location header) or too long to be one of our paths is dropped whole.
    """
    if not isinstance(target, str) or not target or len(target) > NEXT_MAX:
        return default
    if any(unicodedata.category(c) == "Cc" for c in target):
        return default
    seen = target.replace("\\", "/")
    if not seen.startswith("/") or seen.startswith("//"):
        return default
    return target


def signin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def permission_required(permission: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if current_user() is None:
                return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
            if not can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def node_only(view):
    """Pages of a centre that the hub does not have (the hub has no name list)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_app.config["ROLE"] != "node":
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def require(bp, permission: str, *, node_only: bool = False) -> None:
    """Guard every view of the blueprint ``bp``: a page of a centre only (404 at the hub) if
    ``node_only``, then signed in (else the sign-in page) with ``permission`` (else 403)."""

    @bp.before_request
    def guard():
        if node_only and current_app.config["ROLE"] != "node":
            abort(404)
        if current_user() is None:
            return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))
        if not can(permission):
            abort(403)
        return None


def idle_seconds() -> float:
    return current_app.config["IDLE_MINUTES"] * 60


def load_user() -> None:
    """Before every request: find the signed-in person, ending a session left idle too long.

    The server decides expiry from its own record of the last request, so an idle session ends
    whether or not the page's JavaScript ran (issue 3).
    """
    g.user = None
    token = session.get("sid")
    if request.endpoint == "static" or not token:
        return
    state = models.resume_session(get_db(), token, utcnow(), idle_seconds())
    if state.account is None:
        session.clear()
        if state.expired:
            flash(idle_message(), "info")
        return
    g.user = state.account
    g.seconds_left = state.seconds_left


def idle_message() -> str:
    minutes = current_app.config["IDLE_MINUTES"]
    if minutes < 1 or minutes != int(minutes):
        return _("You were signed out because nobody used this screen for a while.")
    return ngettext("You were signed out because nobody used this screen for %(num)d minute.",
                    "You were signed out because nobody used this screen for %(num)d minutes.",
                    int(minutes))
