"""Learners' pages: the catalogue, a course, its lessons page by page, quizzes one question at a
time with kind feedback, and the certificate. Facilitators' class pages are the classes area's.

Imports the area's models, ``kiosk.auth`` decorators, ``kiosk.data`` and ``kiosk.i18n``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from ..auth.access import signin_required
from ..data import get_db, utcnow
from ..errors import NotFound, ValidationError
from ..i18n import LANGUAGES, _, text_languages
from . import models, render

bp = Blueprint("courses", __name__, url_prefix="/courses")


@bp.app_template_filter("text_of")
def text_of(code: str) -> Markup:
    """``lang`` and ``dir`` for text in another language than the page's (a Spanish lesson on
    an Arabic page reads left to right)."""
    found = LANGUAGES.get(code)
    tag, direction = (found.tag, found.direction) if found else (code, "auto")
    return Markup('lang="{}" dir="{}"').format(tag, direction)


def _media_url(sha: str) -> str:
    return url_for("media.thumb", sha=sha, size=800)


def _course(course_id: str) -> dict:
    try:
        return models.get_course(get_db(), course_id, text_languages())
    except NotFound:
        abort(404)


def _lesson(course: dict, lesson_id: str) -> dict:
    try:
        lesson = models.get_lesson(get_db(), course["id"], lesson_id, text_languages())
    except NotFound:
        abort(404)
    if lesson["retired"]:
        abort(404)
    return lesson


def _centre() -> str:
    return current_app.config["CENTRE_ID"]


@bp.get("/")
@signin_required
def catalogue():
    topic = request.args.get("topic") or None
    topics = models.topics()
    if topic not in topics:
        topic = None
    every = request.args.get("all") == "1"
    found = models.catalogue(get_db(), lang=text_languages(), learner_id=g.user["id"],
                             topic=topic, every_language=every)
    return render_template("courses/catalogue.html", courses=found, topics=topics, topic=topic,
                           every=every)


@bp.get("/<course_id>")
@signin_required
def course(course_id):
    found = _course(course_id)
    state = models.course_state(get_db(), g.user["id"], course_id, text_languages())
    return render_template("courses/course.html", course=found, state=state)


@bp.get("/<course_id>/continue")
@signin_required
def resume(course_id):
    """Where the learner stopped, on whichever terminal of the centre they were."""
    _course(course_id)  # a 404 for a course not installed here
    state = models.course_state(get_db(), g.user["id"], course_id, text_languages())
    target = state["resume"]
    if target is None:
        return redirect(url_for(".course", course_id=course_id))
    return redirect(_lesson_url(course_id, target, target["page"]))


def _lesson_url(course_id: str, lesson: dict, page: int = 0) -> str:
    if lesson["kind"] == "quiz":
        return url_for(".quiz", course_id=course_id, lesson_id=lesson["id"])
    return url_for(".lesson", course_id=course_id, lesson_id=lesson["id"], page=page + 1)


@bp.get("/<course_id>/lessons/<lesson_id>")
@signin_required
def lesson(course_id, lesson_id):
    found = _course(course_id)
    item = _lesson(found, lesson_id)
    if item["kind"] == "quiz":
        return redirect(url_for(".quiz", course_id=course_id, lesson_id=lesson_id))
    pages = render.pages(item["body"])
    index = _page_index(request.args.get("page", "1"), len(pages))
    if index is None:
        return redirect(url_for(".lesson", course_id=course_id, lesson_id=lesson_id, page=1))
    models.open_page(get_db(), centre_id=_centre(), learner_id=g.user["id"], lesson=item,
                     page=index, now=utcnow())
    lessons = models.lessons_of(get_db(), course_id, text_languages())
    return render_template("courses/lesson.html", course=found, lesson=item, lessons=lessons,
                           html=render.to_html(pages[index], _media_url), page=index,
                           pages=len(pages))


def _page_index(number: str, count: int) -> int | None:
    """Where page ``number`` ("1" is the first) is in a lesson of ``count`` pages, or None.

    Only ASCII digits, and few of them: ``isdigit()`` accepts "²", which ``int()`` refuses, and
    ``int()`` refuses strings of more than 4,300 digits (issue 14: both gave a 500).
    """
    if not (number.isascii() and number.isdigit() and len(number) <= 6):
        return None
    index = int(number) - 1
    return index if 0 <= index < count else None


@bp.post("/<course_id>/lessons/<lesson_id>/done")
@signin_required
def lesson_done(course_id, lesson_id):
    found = _course(course_id)
    item = _lesson(found, lesson_id)
    if item["kind"] != "lesson":
        abort(404)
    certificate = models.finish_lesson(get_db(), centre_id=_centre(), learner_id=g.user["id"],
                                       lesson=item, now=utcnow())
    if certificate:
        flash(_("Congratulations! You finished the course."), "success")
        return redirect(url_for(".certificate", course_id=course_id))
    flash(_("Well done! Lesson finished."), "success")
    lessons = models.lessons_of(get_db(), course_id, text_languages())
    following = [lesson for lesson in lessons if lesson["position"] > item["position"]]
    if following:
        return redirect(_lesson_url(course_id, following[0]))
    return redirect(url_for(".course", course_id=course_id))


@bp.route("/<course_id>/quiz/<lesson_id>", methods=["GET", "POST"])
@signin_required
def quiz(course_id, lesson_id):
    found = _course(course_id)
    item = _lesson(found, lesson_id)
    if item["kind"] != "quiz":
        return redirect(url_for(".lesson", course_id=course_id, lesson_id=lesson_id))
    db = get_db()
    questions = models.questions_of(db, lesson_id, text_languages())
    if not questions:
        abort(404)
    learner = g.user["id"]
    view = {"course": found, "lesson": item, "total": len(questions), "feedback": None,
            "error": None}
    if request.method == "POST":
        question_id = request.form.get("question", "")
        try:
            result = models.answer(db, centre_id=_centre(), learner_id=learner, lesson=item,
                                   question_id=question_id,
                                   chosen=request.form.getlist("choice"), now=utcnow())
        except NotFound:
            abort(400)
        except ValidationError as e:
            view["error"] = str(e)
            question = next(q for q in questions if q["id"] == question_id)
            return render_template("courses/quiz.html", question=question,
                                   number=questions.index(question) + 1, **view), 400
        question = next(q for q in questions if q["id"] == question_id)
        view["feedback"] = result
        return render_template("courses/quiz.html", question=question,
                               number=questions.index(question) + 1,
                               verdict=verdict(question["correct"], result["chosen"]), **view)
    attempt = models.open_attempt(db, learner, lesson_id)
    if attempt and {q["id"] for q in questions} <= attempt["answers"].keys():
        # A pack update retired the questions this try had not reached (issue 14).
        models.finish_answered_attempt(db, centre_id=_centre(), learner_id=learner,
                                       lesson=item, now=utcnow())
        attempt = None
    answered = attempt["answers"] if attempt else {}
    last = models.last_attempt(db, learner, lesson_id)
    if attempt is None and last and request.args.get("again") != "1":
        state = models.course_state(db, learner, course_id, text_languages())
        return render_template("courses/quiz_result.html", result=last, state=state,
                               right=round(last["score"] * len(questions) / 100), **view)
    waiting = [q for q in questions if q["id"] not in answered]
    question = waiting[0]
    return render_template("courses/quiz.html", question=question,
                           number=questions.index(question) + 1, **view)


def verdict(correct: list[str], chosen: list[str]) -> str:
    """What the feedback says of an answer: "right"; "wrong" when no choice was right;
    "some-wrong" when right choices came with wrong ones; "missing" when every choice was right
    but not every right answer was chosen (issue 16: a wrong answer is told plainly)."""
    right, picked = set(correct), set(chosen)
    if picked == right:
        return "right"
    if not picked & right:
        return "wrong"
    return "some-wrong" if picked - right else "missing"


@bp.get("/<course_id>/certificate")
@signin_required
def certificate(course_id):
    found = _course(course_id)
    issued = models.find_certificate(get_db(), g.user["id"], course_id)
    if issued is None:
        flash(_("The certificate comes when every lesson is finished."), "info")
        return redirect(url_for(".course", course_id=course_id))
    return render_template("courses/certificates.html", course=found,
                           certificates=[{**issued, "name": g.user["name"]}])
