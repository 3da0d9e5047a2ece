"""Voices on the courses' pages: the facilitators' page that records the voice of every text of a
lesson or quiz (``/courses/<course>/lessons/<lesson>/voices``), and what a learner's page needs
to show "Listen" beside a text (the template global ``lesson_voices``).

A recording arrives as a file field (``audio``) of a multipart form: sent by ``voices.js`` from
the browser's MediaRecorder, or chosen by hand where the browser may not use the microphone (a
terminal reaching the centre over the network). Pages get a redirect with a message; programs
asking for JSON get ``{"ok": ...}``.

Imports Flask, the area's models and views, ``kiosk.audio``, ``kiosk.auth``, ``kiosk.data``,
``kiosk.media`` and ``kiosk.i18n``.
"""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import audio
from ..auth.access import can, permission_required
from ..data import get_db, utcnow
from ..errors import KioskError, ValidationError
from ..i18n import LANGUAGES, _, current_language
from ..media import store
from ..web import wants_json
from . import models, render
from .views import _course, _lesson, _media_url, bp


class Shown:
    """The voices a learner may hear beside the texts of one lesson shown in ``page_lang``:
    the recording in the page's language first, then the one in the language of the words
    shown (a Kichwa voice beside Spanish words on a Kichwa page, and the Spanish one)."""

    def __init__(self, course_id: str, lesson: dict, page_lang: str):
        self.lesson = lesson
        self.page_lang = page_lang
        self.found = models.voices_of(get_db(), lesson["id"])
        self.can_record = can("record_voice")
        self.record_url = url_for("courses.voices", course_id=course_id,
                                  lesson_id=lesson["id"])

    def _pick(self, key: tuple[str, str, str], text_lang: str) -> list[dict]:
        langs = self.found.get(key, {})
        media = store()
        picked = [langs[code] for code in dict.fromkeys((self.page_lang, text_lang))
                  if code in langs and media.has(langs[code]["audio"])]
        shown = []
        for row in picked:
            language = LANGUAGES.get(row["lang"])
            shown.append({"lang": row["lang"], "url": url_for("media.original",
                                                               sha=row["audio"]),
                          "name": language.name if language else row["lang"],
                          "tag": language.tag if language else row["lang"],
                          "dir": language.direction if language else "auto",
                          "named": row["lang"] != self.page_lang or len(picked) > 1})
        return shown

    def page(self, number: int) -> list[dict]:
        return self._pick(("page", self.lesson["id"], str(number)), self.lesson["lang"])

    def prompt(self, question: dict) -> list[dict]:
        return self._pick(("prompt", question["id"], ""), question["lang"])

    def choice(self, question: dict, choice: str) -> list[dict]:
        return self._pick(("choice", question["id"], choice), question["lang"])


@bp.app_template_global("lesson_voices")
def lesson_voices(lesson: dict) -> Shown:
    """The voices of ``lesson`` for this request's page (made once per request)."""
    cache = g.setdefault("lesson_voices", {})
    if lesson["id"] not in cache:
        cache[lesson["id"]] = Shown(lesson["course_id"], lesson, current_language())
    return cache[lesson["id"]]


def _recording_lang(course: dict) -> str:
    """The language being recorded: the one asked for, else that of the words shown."""
    offered = current_app.config["LANGUAGES"]
    asked = request.values.get("lang", "")
    if asked in offered:
        return asked
    return course["lang"]


@bp.get("/<course_id>/lessons/<lesson_id>/voices")
@permission_required("record_voice")
def voices(course_id, lesson_id):
    return _voices_page(course_id, lesson_id, {}, 200)


def _voices_page(course_id: str, lesson_id: str, errors: dict, status: int):
    course = _course(course_id)
    lang = _recording_lang(course)
    # The words in the language recorded when the course has it, else as learners see them.
    shown = lang if lang in course["languages"] else course["lang"]
    lesson = _lesson({**course, "lang": shown}, lesson_id)
    pages = list(render.pages(lesson["body"])) if lesson["kind"] == "lesson" else []
    texts = models.voice_texts(get_db(), lesson, pages, shown)
    found = models.voices_of(get_db(), lesson_id)
    media = store()
    for text in texts:
        voice = found.get((text["kind"], text["target"], text["part"]), {}).get(lang)
        text["voice"] = voice if voice and media.has(voice["audio"]) else None
        text["waiting"] = bool(voice) and text["voice"] is None  # not arrived from the hub yet
        if text["kind"] == "page":
            text["html"] = render.to_html(text["text"], _media_url)
    languages = [LANGUAGES[code] for code in current_app.config["LANGUAGES"]
                 if code in LANGUAGES]
    return render_template("courses/voices.html", course=course, lesson=lesson, texts=texts,
                           recording=LANGUAGES.get(lang), languages=languages, errors=errors,
                           limit=audio.VOICE_LIMIT), status


def _target() -> tuple[str, str, str]:
    return (request.form.get("kind", ""), request.form.get("target", ""),
            request.form.get("part", ""))


def _answer(course_id: str, lesson_id: str, lang: str, message: str, changed: bool):
    flash(message, "success")  # the recording page reloads after a recording is kept
    if wants_json():
        return jsonify(ok=True, changed=changed, message=message)
    return redirect(url_for(".voices", course_id=course_id, lesson_id=lesson_id, lang=lang))


def _check_language(lang: str) -> None:
    if lang not in current_app.config["LANGUAGES"]:
        raise ValidationError({"lang": [_("Choose the language of the recording.")]})


def _refuse(course_id: str, lesson_id: str, message: str):
    if wants_json():
        return jsonify(ok=False, errors=[{"code": "invalid", "message": message}]), 400
    return _voices_page(course_id, lesson_id, {"form": [message]}, 400)


@bp.post("/<course_id>/lessons/<lesson_id>/voices")
@permission_required("record_voice")
def keep_voice(course_id, lesson_id):
    """Keep a recording as the centre's voice of one text, in one language."""
    course = _course(course_id)
    lesson = _lesson(course, lesson_id)
    lang = request.form.get("lang", "")
    try:
        _check_language(lang)
        kind, target, part = _target()
        models.voices.check_target(get_db(), lesson, kind, target, part)
        upload = request.files.get("audio")
        data = upload.read(audio.VOICE_LIMIT + 1) if upload else None
        audio.check(data)
        sha = store().add_bytes(data).sha
        changed = models.record_voice(get_db(), centre_id=current_app.config["CENTRE_ID"],
                                      lesson=lesson, kind=kind, target_id=target, part=part,
                                      lang=lang, sha=sha, account_id=g.user["id"],
                                      now=utcnow())
    except KioskError as e:  # ValidationError too
        return _refuse(course_id, lesson_id, str(e))
    return _answer(course_id, lesson_id, lang, _("The voice was kept. Learners can listen to it "
                                                 "now."), changed)


@bp.post("/<course_id>/lessons/<lesson_id>/voices/remove")
@permission_required("record_voice")
def remove_voice(course_id, lesson_id):
    """Take a voice away (every centre stops offering it)."""
    course = _course(course_id)
    lesson = _lesson(course, lesson_id)
    lang = request.form.get("lang", "")
    kind, target, part = _target()
    try:
        _check_language(lang)
        changed = models.record_voice(get_db(), centre_id=current_app.config["CENTRE_ID"],
                                      lesson=lesson, kind=kind, target_id=target, part=part,
                                      lang=lang, sha=None, account_id=g.user["id"],
                                      now=utcnow())
    except KioskError as e:
        return _refuse(course_id, lesson_id, str(e))
    return _answer(course_id, lesson_id, lang, _("The voice was taken away."), changed)
