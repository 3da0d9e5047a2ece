"""Validation of names, PINs, passwords, roles and languages, shared by pages and the CLI.

Each ``clean_*`` returns the cleaned value or raises ``ValidationError`` with a message in the
current language. Imports ``kiosk.i18n`` and ``kiosk.errors`` only.
"""

from __future__ import annotations

import unicodedata

from ..errors import ValidationError
from ..i18n import _
from .models import PASSWORD_ROLES, ROLES

NAME_MAX = 60
PIN_MIN, PIN_MAX = 4, 6
PASSWORD_MIN, PASSWORD_MAX = 10, 200

# Arabic-Indic and Persian digits, as an Arabic keyboard types them, read as 0-9.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def _fail(field: str, message: str):
    raise ValidationError({field: [message]})


def clean_name(value, field: str = "name") -> str:
    if not isinstance(value, str):
        _fail(field, _("Write a name."))
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if not name:
        _fail(field, _("Write a name."))
    if len(name) > NAME_MAX:
        _fail(field, _("A name can have at most %(max)d letters.", max=NAME_MAX))
    # U+FFFD is what undecodable bytes become; control and format characters hide text.
    if any(c == "\ufffd" or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in name):
        _fail(field, _("The name has characters that cannot be shown. Type it again."))
    if not any(c.isalpha() for c in name):
        _fail(field, _("A name needs at least one letter."))
    return name


def clean_pin(value, confirm=None, field: str = "pin") -> str:
    pin = value.strip().translate(_DIGITS) if isinstance(value, str) else ""
    if not pin:
        _fail(field, _("Enter a PIN."))
    if not pin.isascii() or not pin.isdigit() or not PIN_MIN <= len(pin) <= PIN_MAX:
        _fail(field, _("A PIN is %(min)d to %(max)d digits.", min=PIN_MIN, max=PIN_MAX))
    if confirm is not None and pin != str(confirm).strip().translate(_DIGITS):
        _fail("confirm", _("The two PINs are not the same. Enter them again."))
    return pin


def clean_password(value, confirm=None, field: str = "password") -> str:
    password = value if isinstance(value, str) else ""
    if len(password) < PASSWORD_MIN:
        _fail(field, _("A password needs at least %(min)d characters.", min=PASSWORD_MIN))
    if len(password) > PASSWORD_MAX:
        _fail(field, _("A password can have at most %(max)d characters.", max=PASSWORD_MAX))
    if "\ufffd" in password or any(unicodedata.category(c) == "Cc" for c in password):
        _fail(field, _("The password has characters that are not allowed. Choose another."))
    if confirm is not None and password != confirm:
        _fail("confirm", _("The two passwords are not the same. Enter them again."))
    return password


def clean_role(value, allowed=ROLES, *, list_codes: bool = False) -> str:
    """``list_codes`` names the valid codes in the message (for the command line)."""
    if value not in allowed:
        if list_codes:
            _fail("role", _("Choose one of these roles: %(roles)s.", roles=", ".join(allowed)))
        _fail("role", _("Choose one of the roles offered."))
    return value


def clean_language(value, offered) -> str:
    if value not in offered:
        _fail("lang", _("Choose one of the languages offered."))
    return value


def clean_second_language(value, offered) -> str:
    """The language a person reads when a course lacks the page's: any language offered."""
    if not isinstance(value, str) or value not in offered:
        _fail("second_lang", _("Choose one of the languages offered."))
    return value


def needs_password(role: str) -> bool:
    return role in PASSWORD_ROLES
