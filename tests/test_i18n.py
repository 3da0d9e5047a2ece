"""Five languages: complete catalogues, right-to-left Arabic, the language remembered per
person, Kichwa falling back to Spanish, and dates, numbers and prices formatted per locale."""

import datetime as dt
import io
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo

from kiosk import catalogues, i18n

from .conftest import SignIn
from .factories import PIN, make_account

TEMPLATE = catalogues.extract()
MESSAGES = [m for m in TEMPLATE if m.id]
# Kichwa must cover at least navigation and signing in.
KICHWA_PLACES = ("templates/base.html", "templates/home/", "templates/auth/signin.html",
                 "templates/auth/pin.html", "templates/auth/password.html")


def untranslated(code, messages=MESSAGES):
    catalog = catalogues.read(code)
    return [m.id for m in messages
            if m.id not in catalog or not catalogues.is_translated(catalog[m.id])]


@pytest.mark.parametrize("code", ["es", "en", "fr", "ar"])
def test_catalogue_has_every_message_of_the_code_and_templates(code):
    missing = untranslated(code)
    assert not missing, f"{len(missing)} messages missing from {code}: {missing[:5]}"


def test_kichwa_covers_navigation_and_sign_in_marked_unreviewed():
    places = [m for m in MESSAGES
              if any(p in loc for loc, _ in m.locations for p in KICHWA_PLACES)]
    assert len(places) > 30
    assert untranslated("qu_EC", places) == []
    catalog = catalogues.read("qu_EC")
    translated = [m for m in catalog if m.id and catalogues.is_translated(m)]
    assert all("unreviewed" in m.auto_comments for m in translated)


@pytest.mark.parametrize("code", ["es", "en", "fr", "qu_EC", "ar"])
def test_translations_keep_the_placeholders_and_nothing_is_fuzzy(code):
    catalog = catalogues.read(code)
    assert catalogues.problems(catalog) == []
    assert not [m.id for m in catalog if m.id and m.fuzzy]


@pytest.mark.parametrize("code", ["es", "en", "fr", "qu_EC", "ar"])
def test_compiled_catalogues_match_their_sources(code):
    buffer = io.BytesIO()
    write_mo(buffer, catalogues.translated_only(catalogues.read(code)))
    compiled = catalogues.catalogue_path(code).with_suffix(".mo").read_bytes()
    assert compiled == buffer.getvalue(), "run scripts/catalogues.py compile"


def small_catalogue(code, plural_forms, messages):
    """A .po file's text for ``code`` with ``messages``: (msgid, msgid_plural or None, msgstr
    or list of forms)."""
    lines = ['msgid ""', 'msgstr ""', f'"Language: {code}\\n"',
             f'"Plural-Forms: {plural_forms}\\n"',
             '"Content-Type: text/plain; charset=utf-8\\n"', ""]
    for msgid, plural, string in messages:
        lines.append(f'msgid "{msgid}"')
        if plural:
            lines.append(f'msgid_plural "{plural}"')
            lines += [f'msgstr[{i}] "{form}"' for i, form in enumerate(string)]
        else:
            lines.append(f'msgstr "{string}"')
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def gappy_locales(tmp_path):
    """Compiled catalogues where Kichwa lacks a singular, a whole plural and one plural form,
    all of which Spanish has."""
    forms = "nplurals=2; plural=(n != 1);"
    spanish = [("Lessons", None, "Lecciones"),
               ("%(num)d lesson", "%(num)d lessons", ["%(num)d lección", "%(num)d lecciones"]),
               ("%(num)d present", "%(num)d present", ["%(num)d presente", "%(num)d presentes"]),
               ("Start", None, "Empezar")]
    kichwa = [("Lessons", None, ""),
              ("%(num)d lesson", "%(num)d lessons", ["", ""]),
              ("%(num)d present", "%(num)d present", ["%(num)d kan", ""]),
              ("Start", None, "Kallari")]
    for code, messages in (("es", spanish), ("qu_EC", kichwa)):
        path = catalogues.catalogue_path(code, tmp_path)
        path.parent.mkdir(parents=True)
        path.write_text(small_catalogue(code, forms, messages), encoding="utf-8")
    written = catalogues.compile_all(tmp_path)
    assert len(written) == 2
    i18n._cache.clear()
    yield tmp_path
    i18n._cache.clear()


def test_kichwa_falls_back_to_spanish_not_english(gappy_locales):
    """Untranslated Kichwa entries, singular or plural, compile to nothing, so the Spanish
    catalogue answers: never the English source ("7 lessons", "3 present")."""
    loaded = i18n.load_translations(gappy_locales, "qu_EC")
    assert loaded.ugettext("Start") == "Kallari"
    assert loaded.ugettext("Lessons") == "Lecciones"
    assert loaded.ungettext("%(num)d lesson", "%(num)d lessons", 7) == "%(num)d lecciones"
    assert loaded.ungettext("%(num)d lesson", "%(num)d lessons", 1) == "%(num)d lección"
    # Half a plural is no translation: both forms come from Spanish.
    assert loaded.ungettext("%(num)d present", "%(num)d present", 3) == "%(num)d presentes"
    assert loaded.ungettext("%(num)d present", "%(num)d present", 1) == "%(num)d presente"


def test_the_real_kichwa_catalogue_never_answers_in_english(app):
    """Every message of the real compiled Kichwa catalogue, through its fallback chain, comes
    out in Kichwa or Spanish, not as the English source (messages whose Spanish equals the
    source, like "PIN", aside)."""
    loaded = i18n.load_translations(app.config["LOCALES_DIR"], "qu_EC")
    spanish = catalogues.read("es")
    english = []
    for message in MESSAGES:
        if spanish.get(message.id) is None:
            continue  # new: test_catalogue_has_every_message... names it
        if message.pluralizable:
            singular, plural = message.id
            for n in (1, 7):
                source = singular if n == 1 else plural
                if loaded.ungettext(singular, plural, n) == source != \
                        spanish[singular].string[0 if n == 1 else 1]:
                    english.append(source)
        elif loaded.ugettext(message.id) == message.id != spanish[message.id].string:
            english.append(message.id)
    assert not english, f"{len(english)} messages in English on Kichwa pages: {english[:5]}"


def test_every_kichwa_message_is_translated():
    """Issue 16: every message is translated into Kichwa (marked unreviewed). Fails in a tree
    whose catalogue has not yet received the Kichwa translations."""
    missing = untranslated("qu_EC")
    assert not missing, f"{len(missing)} messages missing from qu_EC: {missing[:5]}"


def test_each_request_keeps_its_own_language_and_flask_babel_agrees(app):
    """The language lives on the request (public Flask, issue 15): two requests in one app
    context do not share it, and Flask-Babel's own gettext and locale follow it."""
    import flask_babel

    spanish = catalogues.read("es")
    word = next(m.id for m in MESSAGES if isinstance(m.id, str) and "%" not in m.id
                and spanish[m.id].string and spanish[m.id].string != m.id)
    with app.app_context():
        with app.test_request_context("/"):
            i18n.set_request_language("es")
            assert i18n._(word) == spanish[word].string == flask_babel.gettext(word)
            assert str(flask_babel.get_locale()) == "es" and i18n.current_language() == "es"
        with app.test_request_context("/"):
            assert i18n.current_language() == "en" and i18n._(word) == word


def test_i18n_uses_no_private_flask_or_flask_babel_names():
    source = (Path(i18n.__file__)).read_text("utf-8")
    assert "_cv_" not in source and "flask.globals" not in source
    assert "(flask_babel." not in source  # no subclass overriding Flask-Babel's internals


def test_arabic_pages_are_right_to_left(client, sign_in):
    client.post("/language", data={"lang": "ar", "csrf_token": sign_in.token()})
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "مرحبا" in html or "أهلا" in html


def test_picker_names_each_language_in_itself(client):
    html = client.get("/language").get_data(as_text=True)
    for code, name, tag in [("es", "Español", "es"), ("en", "English", "en"),
                            ("fr", "Français", "fr"), ("qu_EC", "Kichwa", "qu-EC"),
                            ("ar", "العربية", "ar")]:
        assert f'value="{code}" lang="{tag}"' in html and name in html


def test_guest_choice_lasts_the_visit_and_goes_back_where_they_were(client, sign_in):
    response = client.post("/language", data={"lang": "fr", "next": "/auth/signin",
                                               "csrf_token": sign_in.token()})
    assert response.headers["Location"] == "/auth/signin"
    assert 'lang="fr"' in client.get("/auth/signin").get_data(as_text=True)


def test_language_is_remembered_on_the_account(app, db):
    rosa = make_account(db, app.config["CENTRE_ID"], lang="es")
    first = app.test_client()
    helper = SignIn(first)
    helper.pin(rosa, PIN)
    first.post("/language", data={"lang": "qu_EC", "csrf_token": helper.token()})
    helper.out()
    assert 'lang="en"' in first.get("/").get_data(as_text=True)  # the centre's default
    terminal = app.test_client()  # another terminal of the centre
    SignIn(terminal).pin(rosa, PIN)
    assert 'lang="qu-EC"' in terminal.get("/").get_data(as_text=True)


def test_a_new_persons_first_sign_in_keeps_the_language_they_were_using(app, db):
    luz = make_account(db, app.config["CENTRE_ID"], lang=None)
    client = app.test_client()
    helper = SignIn(client)
    client.post("/language", data={"lang": "ar", "csrf_token": helper.token()})
    helper.pin(luz, PIN)
    assert 'lang="ar"' in client.get("/").get_data(as_text=True)
    assert next(db.query("SELECT lang FROM accounts WHERE id = ?", [luz["id"]]))["lang"] == "ar"


@pytest.mark.parametrize("code, price, date, number", [
    ("es", "$1.234,56", "23 de noviembre de 2026", "1.234.567,5"),
    ("qu_EC", "$1.234,56", "23", "1.234.567,5"),  # Ecuadorian conventions (CLDR qu is thin)
    ("en", "$1,234.56", "November 23, 2026", "1,234,567.5"),
    ("fr", "1\u202f234,56\xa0$US", "23 novembre 2026", "1\u202f234\u202f567,5"),
    ("ar", "US$", "2026", "1,234,567.5"),
])
def test_prices_dates_and_numbers_follow_the_language(app, clock, code, price, date, number):
    with app.test_request_context("/"):
        i18n.set_request_language(code)
        assert price in i18n.format_price(123456)
        assert date in i18n.format_date(clock())
        assert i18n.format_number(1234567.5) == number


def test_currency_is_a_setting_of_the_installation(data_dir, clock):
    from .conftest import make_app

    app = make_app(data_dir, clock, CURRENCY="EUR")
    with app.test_request_context("/"):
        i18n.set_request_language("es")
        assert i18n.format_price(150) == "EUR1,50"  # CLDR es_EC names foreign currencies by code


def test_dates_are_shown_in_the_installation_time_zone(app):
    with app.test_request_context("/"):
        i18n.set_request_language("en")
        # 02:00 UTC on the 24th is still the 23rd in Ecuador (UTC-5).
        assert "November 23" in i18n.format_date("2026-11-24T02:00:00+00:00")


@pytest.mark.parametrize("format, expected", [
    ("long", "2 kapak killa, 2026"),
    ("medium", "2 kapak killa, 2026"),
    ("full", "Kuyllurchaw, 2 kapak killa, 2026"),  # 2 December 2026 is a Wednesday
    ("short", "2/12/26"),  # numbers only: Ecuador's order
])
def test_kichwa_dates_name_months_and_days_in_kichwa(app, format, expected):
    """CLDR's Quechua names months in Spanish ("2 Diciembre 2026"): Kichwa pages name them
    in Kichwa (issue 16), and other languages keep CLDR's names."""
    with app.test_request_context("/"):
        i18n.set_request_language("qu_EC")
        assert i18n.format_date("2026-12-02T15:00:00+00:00", format) == expected
        assert i18n.format_date(dt.date(2026, 1, 31)) == "31 kulla killa, 2026"
        assert [i18n.format_date(dt.date(2026, m, 1)).split()[1] for m in range(1, 13)] == \
            list(i18n.KICHWA_MONTHS)
        when = i18n.format_datetime("2026-07-05T15:42:00+00:00")
        assert when.startswith("5 sitwa killa, 2026, ") and "10:42" in when
        assert "diciembre" not in i18n.format_date(dt.date(2026, 12, 2), "full").lower()
        i18n.set_request_language("es")
        assert i18n.format_date(dt.date(2026, 12, 2)) == "2 de diciembre de 2026"


def test_kichwa_months_and_times_ago_are_in_kichwa_where_cldr_has_spanish(app):
    """The hub's month tables and charts, and "synced 2 minutes ago", said in Kichwa on Kichwa
    pages (CLDR's would be "diciembre de 2026" and "hace 2 minutos")."""
    now = dt.datetime(2026, 12, 2, 15, 0, tzinfo=dt.timezone.utc)
    with app.test_request_context("/"):
        i18n.set_request_language("qu_EC")
        assert i18n.format_month(dt.date(2026, 12, 1)) == "kapak killa, 2026"
        assert i18n.format_month(dt.date(2026, 12, 1), short=True) == "kap"
        assert len({i18n.format_month(dt.date(2026, m, 1), short=True) for m in range(1, 13)}) == 12
        assert i18n.format_ago(now - dt.timedelta(minutes=2), now) == "2 minutu ñawpa"
        assert i18n.format_ago(now - dt.timedelta(days=3, hours=2), now) == "3 punlla ñawpa"
        assert i18n.format_ago(now + dt.timedelta(hours=5), now) == "5 pacha kipa"
        assert i18n.format_ago(now, now) == "1 sikundu ñawpa"
        i18n.set_request_language("es")
        assert i18n.format_month(dt.date(2026, 12, 1)) == "diciembre de 2026"
        assert i18n.format_ago(now - dt.timedelta(minutes=2), now) == "hace 2 minutos"
