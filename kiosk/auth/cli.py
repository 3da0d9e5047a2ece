"""``infocentre user ...``: add, list and reset accounts from the command line.

Imports click, its own models and forms, and ``kiosk.data``. ``ctx.obj`` is the installation
object of ``kiosk.cli`` (it builds the app); failures raise ``KioskError`` subclasses, which the
top-level command prints as one line with exit code 1.
"""

from __future__ import annotations

import json
import sys

import click
from flask import current_app

from ..data import get_db, utcnow
from ..errors import KioskError, ValidationError
from ..i18n import _
from . import forms, models


@click.group(help="Add, list and reset accounts.")
def cli():
    pass


def _ask_twice(label: str, again: str) -> str:
    """Ask for a secret twice, hidden; refuse when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise KioskError(_("Cannot ask for the PIN here (no terminal): give it with --pin."))
    first = click.prompt(label, hide_input=True, default="", show_default=False)
    second = click.prompt(again, hide_input=True, default="", show_default=False)
    if first != second:
        raise KioskError(_("The two entries are not the same; nothing was saved."))
    return first


def _secret_for(role: str, pin: str | None, password: bool) -> dict:
    if forms.needs_password(role):
        if pin is not None:
            raise KioskError(_("Regional staff sign in with a password, not a PIN: use "
                               "--password."))
        if not sys.stdin.isatty():
            raise KioskError(_("Cannot ask for the password here (no terminal): run the "
                               "command in a terminal."))
        value = _ask_twice(_("Password (10 characters or more)"), _("The same password again"))
        return {"password": forms.clean_password(value)}
    if password:
        raise KioskError(_("Only regional staff sign in with a password; give this person "
                           "a PIN."))
    if pin is None:
        pin = _ask_twice(_("PIN (4 to 6 digits)"), _("The same PIN again"))
    return {"pin": forms.clean_pin(pin)}


@cli.command("add", help="Add an account. PIN roles: villager, facilitator, cooperative, admin; "
             "password role: regional.")
@click.argument("name")
@click.option("--role", required=True, help="villager, facilitator, cooperative, admin or "
              "regional.")
@click.option("--pin", help="4 to 6 numbers; asked twice, hidden, when left out.")
@click.option("--password", is_flag=True, help="Ask for a password (regional staff).")
@click.option("--lang", help="The person's language: es, en, fr, qu_EC or ar.")
@click.option("--second-language", "second_lang",
              help="The language to read a course in when it lacks the person's own: es, en, "
              "fr, qu_EC or ar (es when left out).")
@click.pass_obj
def add(installation, name, role, pin, password, lang, second_lang):
    with installation.app().app_context():
        config = current_app.config
        try:
            name = forms.clean_name(name)
            role = forms.clean_role(role, list_codes=True)
            if lang is not None:
                lang = forms.clean_language(lang, config["LANGUAGES"])
            if second_lang is not None:
                second_lang = forms.clean_second_language(second_lang, config["LANGUAGES"])
        except ValidationError as e:
            raise KioskError(str(e)) from None
        if config["ROLE"] == "hub" and not forms.needs_password(role):
            raise KioskError(_("Only regional staff sign in at the hub; add this person at "
                               "their centre."))
        db = get_db()
        taken = (models.find_staff(db, name) if forms.needs_password(role)
                 else models.find_by_name(db, name, centre_id=config["CENTRE_ID"]))
        if taken:
            raise KioskError(_("Someone at this centre already has this name. Add a family "
                               "name or a nickname."))
        try:
            secret = _secret_for(role, pin, password)
        except ValidationError as e:
            raise KioskError(str(e)) from None
        try:
            account = models.add_account(db, centre_id=config["CENTRE_ID"], name=name,
                                         role=role, lang=lang, second_lang=second_lang,
                                         now=utcnow(),
                                         unique_name=not forms.needs_password(role), **secret)
        except models.NameTaken:
            raise KioskError(_("Someone at this centre already has this name. Add a family "
                               "name or a nickname.")) from None
    click.echo(_("Added %(name)s (%(role)s).", name=account["name"], role=account["role"]))


@cli.command("list", help="List the accounts (never their PIN or password hashes).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def list_(installation, as_json):
    with installation.app().app_context():
        accounts = models.list_accounts(get_db(), now=utcnow())
    fields = ("id", "centre_id", "name", "role", "lang", "created_at", "locked")
    rows = [{k: a[k] for k in fields} for a in accounts]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(_("No accounts yet. Add one with: infocentre user add NAME --role ROLE"))
    for row in rows:
        lock = "  " + _("(locked)") if row["locked"] else ""
        click.echo(f"{row['name']:<32} {row['role']:<12} {row['lang'] or '-':<6} {row['id']}"
                   f"{lock}")


@cli.command("reset", help="Give an account a new PIN (or password), which also unlocks it.")
@click.argument("name_or_id")
@click.option("--pin", help="The new PIN; asked twice, hidden, when left out.")
@click.pass_obj
def reset(installation, name_or_id, pin):
    with installation.app().app_context():
        db = get_db()
        account = models.find_account(db, name_or_id)
        if account is None:
            found = models.find_by_name(db, name_or_id)
            if len(found) > 1:
                raise KioskError(_("Several accounts have this name; give the id from "
                                   "'infocentre user list'."))
            account = models.find_account(db, found[0]["id"]) if found else None
        if account is None:
            raise KioskError(_("No account is called %(name)s.", name=name_or_id))
        try:
            secret = _secret_for(account["role"], pin, forms.needs_password(account["role"]))
        except ValidationError as e:
            raise KioskError(str(e)) from None
        if "pin" in secret:
            models.set_pin(db, account["id"], secret["pin"], utcnow())
        else:
            models.set_password(db, account["id"], secret["password"], utcnow())
            models.unlock(db, account["id"])
        models.end_sessions_of(db, account["id"])
    if "pin" in secret:
        click.echo(_("%(name)s has a new PIN.", name=account["name"]))
    else:
        click.echo(_("%(name)s has a new password.", name=account["name"]))
