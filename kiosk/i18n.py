"""Languages: catalogues, the choice of language, and locale-aware formatting.

Imports Flask, Flask-Babel and Babel only (no kiosk area). ``_`` and ``_l`` work everywhere: in
a request they follow the visitor's language; elsewhere (the CLI) the language set by
``use_language``.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import flask_babel
from babel import Locale, dates, numbers
from babel.support import NullTranslations, Translations
from flask import current_app, g, has_request_context, request, session


@dataclass(frozen=True)
class Language:
    code: str  # catalogue directory under locales/
    name: str  # the language's own name, as the picker shows it
    tag: str  # BCP 47 tag for <html lang>
    direction: str  # "ltr" or "rtl"
    number_locale: str  # CLDR locale used for numbers, prices and dates


# Kichwa has no CLDR locale of its own; Babel's Quechua for Ecuador stands in. CLDR's ``qu`` formats
# numbers as 1,234.5 and prices as "$ 1,234.50", unlike what Ecuador reads, so Kichwa pages format
# numbers and dates the Ecuadorian Spanish way (the project's override where CLDR data is thin).
LANGUAGES: dict[str, Language] = {
    "es": Language("es", "Español", "es", "ltr", "es_EC"),
    "en": Language("en", "English", "en", "ltr", "en_US"),
    "fr": Language("fr", "Français", "fr", "ltr", "fr_FR"),
    "qu_EC": Language("qu_EC", "Kichwa", "qu-EC", "ltr", "es_EC"),
    "ar": Language("ar", "العربية", "ar", "rtl", "ar"),
}

# A message missing from a catalogue is looked up here before falling back to the source text:
# a Kichwa reader is far more likely to read Spanish than English.
FALLBACKS = {"qu_EC": ("es",)}

# The language course text falls back to for a person who named none (accounts.second_lang).
SECOND_LANGUAGE = "es"

_cache: dict[tuple[str, str], NullTranslations] = {}
_cache_lock = threading.Lock()
_process = threading.local()


def load_translations(locales_dir: str | Path, code: str) -> NullTranslations:
    """The compiled catalogue for ``code``, chained to its fallbacks (cached per process)."""
    key = (str(locales_dir), code)
    with _cache_lock:
        if key not in _cache:
            chain = [code, *FALLBACKS.get(code, ())]
            first = None
            for lang in chain:
                found = Translations.load(str(locales_dir), [lang], "messages")
                if first is None:
                    first = found
                elif found is not first:
                    first.add_fallback(found)
            _cache[key] = first or NullTranslations()
        return _cache[key]


def use_language(locales_dir: str | Path, code: str) -> None:
    """Set the language of messages outside requests (the CLI) for this thread."""
    _process.translations = load_translations(locales_dir, code)


def _request_state() -> tuple[str, NullTranslations]:
    """(language code, catalogue) of this request, chosen on first use and kept on the request
    object (as Flask-WTF keeps its own catalogue): public Flask only, no private context."""
    state = getattr(request, "kiosk_language", None)
    if state is None:
        code = choose_language()
        state = request.kiosk_language = (
            code, load_translations(current_app.config["LOCALES_DIR"], code))
    return state


def set_request_language(code: str | None) -> None:
    """Change this request's language (None: choose it again, e.g. after signing out)."""
    request.kiosk_language = None
    if code is not None:
        request.kiosk_language = (code, load_translations(current_app.config["LOCALES_DIR"],
                                                          code))
    flask_babel.refresh()


def _translations() -> NullTranslations:
    """This request's catalogue, or the CLI's outside requests."""
    if has_request_context():
        return _request_state()[1]
    return getattr(_process, "translations", None) or NullTranslations()


def gettext(string: str, **variables) -> str:
    text = _translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    variables.setdefault("num", num)
    return _translations().ungettext(singular, plural, num) % variables


def lazy_gettext(string: str, **variables) -> flask_babel.LazyString:
    return flask_babel.LazyString(gettext, string, **variables)


_ = gettext
_l = lazy_gettext


def current_language() -> str:
    """The language code of this request, or the installation's default outside requests."""
    if has_request_context():
        return _request_state()[0]
    return current_app.config["DEFAULT_LANGUAGE"]


def choose_language() -> str:
    """The signed-in person's language, else the guest's choice, else the centre's default.

    Guests do not get the browser's Accept-Language: a shared terminal's browser speaks the
    language of whoever installed it, while the centre's default is chosen for its villagers.
    """
    offered = current_app.config["LANGUAGES"]
    user = getattr(g, "user", None)
    for code in (user and user.get("lang"), session.get("lang")):
        if code in offered:
            return code
    return current_app.config["DEFAULT_LANGUAGE"]


def language() -> Language:
    return LANGUAGES[current_language()]


def default_second_language() -> str:
    """What a new account's second language is unless someone chooses another."""
    offered = current_app.config["LANGUAGES"]
    return SECOND_LANGUAGE if SECOND_LANGUAGE in offered else offered[0]


def fallback_chain(page: str, second: str | None = None) -> tuple[str, ...]:
    """The languages to look for a text in, best first: the page's; then, on a Kichwa page,
    Spanish (for everyone); otherwise the reader's second language (Spanish when none).
    English, the catalogue's source, is in it only as the page's or the second language."""
    chain = [page, *FALLBACKS.get(page, ()), second or SECOND_LANGUAGE]
    return tuple(dict.fromkeys(chain))


def text_languages() -> tuple[str, ...]:
    """``fallback_chain`` for this request: its language and the signed-in person's second."""
    user = getattr(g, "user", None) if has_request_context() else None
    page = current_language() if has_request_context() else \
        current_app.config["DEFAULT_LANGUAGE"]
    return fallback_chain(page, user and user.get("second_lang"))


def init_app(app) -> None:
    # Flask-Babel chooses the locale (Flask-WTF's messages, Babel's formats) and serves its own
    # gettext from the same catalogues; the app's ``_`` and templates use ``_translations``,
    # which adds the fallbacks (FALLBACKS) Flask-Babel's loader does not know.
    flask_babel.Babel(
        app,
        default_locale=app.config["DEFAULT_LANGUAGE"],
        default_translation_directories=app.config["LOCALES_DIR"],
        locale_selector=current_language,
        timezone_selector=lambda: app.config["TIMEZONE"],
        configure_jinja=True,
    )
    # Templates call gettext a dozen times a page: straight to this request's catalogue.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n), newstyle=True)
    app.context_processor(lambda: {"lang": language()})
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals.update(
        current_language=current_language,
        default_second_language=default_second_language,
        language=language,
        languages=lambda: [LANGUAGES[c] for c in current_app.config["LANGUAGES"]],
        ngettext=ngettext,
    )
    app.jinja_env.filters.update(
        date=format_date,
        datetime=format_datetime,
        number=format_number,
        price=format_price,
        ago=format_ago,
    )


# Formatting: always for the current language's number locale and the installation's time zone.


def _number_locale() -> Locale:
    return Locale.parse(language().number_locale)


def _local(moment: dt.datetime | str) -> dt.datetime:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))


# CLDR's ``qu`` names months and days in Spanish ("2 Diciembre 2026"), and Kichwa pages take
# their formats from es_EC: the month and day names of Kichwa unificado (the Andean calendar's
# months, as Ecuador's intercultural schools teach them) replace them. Monday first, as
# ``date.weekday()`` counts.
KICHWA_MONTHS = ("kulla", "panchiy", "pawkar", "ayriwa", "aymuray", "raymi", "sitwa", "karwa",
                 "kuski", "wayru", "sasi", "kapak")
KICHWA_DAYS = ("killachaw", "atichaw", "kuyllurchaw", "illapachaw", "chaskachaw", "kuychichaw",
               "intichaw")
_OWN_NAMES = {"qu_EC": (KICHWA_MONTHS, KICHWA_DAYS)}


def _own_date(moment: dt.date, format: str) -> str | None:
    """The date in words for a language whose names CLDR lacks ("2 kapak killa, 2026"), or
    None where CLDR's are used (other languages, and numeric "short" dates)."""
    names = _OWN_NAMES.get(current_language())
    if names is None or format not in ("medium", "long", "full"):
        return None
    months, days = names
    text = f"{moment.day} {months[moment.month - 1]} killa, {moment.year}"
    if format == "full":
        text = f"{days[moment.weekday()].capitalize()}, {text}"
    return text


def format_date(moment: dt.datetime | dt.date | str, format: str = "long") -> str:
    if isinstance(moment, (str, dt.datetime)):
        moment = _local(moment).date()
    return _own_date(moment, format) or dates.format_date(moment, format=format,
                                                          locale=_number_locale())


def format_datetime(moment: dt.datetime | str, format: str = "medium") -> str:
    local = _local(moment)
    own = _own_date(local.date(), format)
    if own:
        return f"{own}, {format_time(local)}"
    return dates.format_datetime(local, format=format, locale=_number_locale())


def format_time(moment: dt.datetime | str) -> str:
    """The time of day, in the installation's time zone ("10:42", "10:42 a. m.")."""
    return dates.format_time(_local(moment), format="short", locale=_number_locale())


def format_number(value: int | float | Decimal) -> str:
    if type(value) is int:  # counts and scores: a class page shows two hundred of them
        return _format_int(language().number_locale, value)
    return numbers.format_decimal(value, locale=_number_locale())


def list_separator() -> str:
    """Between CSV columns, what spreadsheets of this language expect: ";" where numbers are
    written with a decimal comma (Spanish, French), since "," is then part of a number."""
    return ";" if numbers.get_decimal_symbol(_number_locale()) == "," else ","


@functools.lru_cache(maxsize=4096)
def _format_int(locale: str, value: int) -> str:
    return numbers.format_decimal(value, locale=Locale.parse(locale))


def format_price(minor_units: int, currency: str | None = None) -> str:
    """A price held in integer minor units (cents), in the installation's currency."""
    return _format_price(language().number_locale, minor_units,
                         currency or current_app.config["CURRENCY"])


@functools.lru_cache(maxsize=8192)
def _format_price(locale: str, minor_units: int, currency: str) -> str:
    # Babel reads the locale's currency pattern anew at each call: a quarter of a millisecond,
    # six milliseconds of a market page of 24 prices.
    digits = numbers.get_currency_precision(currency)
    amount = Decimal(minor_units).scaleb(-digits)
    return numbers.format_currency(amount, currency, locale=Locale.parse(locale))


# CLDR has no Kichwa words for "3 hours ago" either: the units of time, which a number leaves
# in the singular, and ñawpa ("before") or kipa ("after").
KICHWA_UNITS = (("wata", 365 * 86400), ("killa", 30 * 86400), ("hunkay", 7 * 86400),
                ("punlla", 86400), ("pacha", 3600), ("minutu", 60), ("sikundu", 1))


def format_ago(moment: dt.datetime, now: dt.datetime) -> str:
    """How long before or after ``now``, in words: "3 hours ago", "in 5 minutes"."""
    if current_language() == "qu_EC":
        seconds = (moment - now).total_seconds()
        # the largest unit there is at least 1.1 of, as Babel's threshold=1.1 counts
        unit, size = next(((u, s) for u, s in KICHWA_UNITS if abs(seconds) >= 1.1 * s),
                          KICHWA_UNITS[-1])
        count = max(1, round(abs(seconds) / size))
        return f"{count} {unit} {'kipa' if seconds > 0 else 'ñawpa'}"
    return dates.format_timedelta(moment - now, add_direction=True, threshold=1.1,
                                  locale=_number_locale())


def format_month(first: dt.date, short: bool = False) -> str:
    """A month as a heading or a chart's label: "diciembre de 2026", "dic"; on Kichwa pages the
    Kichwa month's name ("kapak killa, 2026", "kap")."""
    names = _OWN_NAMES.get(current_language())
    if names:
        name = names[0][first.month - 1]
        return name[:3] if short else f"{name} killa, {first.year}"
    return dates.format_skeleton("MMM" if short else "yMMMM", first, locale=_number_locale())
