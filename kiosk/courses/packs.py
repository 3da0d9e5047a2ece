"""Course packs: read a pack folder and check every part of it before anything is imported.

The format is documented in content/README.md. ``read_pack(path)`` returns a ``Pack`` or raises
``PackError`` listing every problem found, each with its file and line. Pure: files in, values
out (no Flask, no database). Imports ``kiosk.i18n`` for messages and ``sync.media`` for the
kinds of file a centre keeps.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import posixpath
import re
import stat
import tomllib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt

from sync.media import LIMITS, sniff

from .. import pictures
from ..errors import KioskError
from ..i18n import LANGUAGES, _, ngettext

FORMAT = 1
TOPICS = ("computer", "safety", "selling", "services", "other")
PACK_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
KEY = PACK_ID
MAX_TEXT_FILE = 256 * 1024  # a lesson or a manifest; far above any real one
MAX_TITLE = 120
MAX_SUMMARY = 600
MAX_LESSONS = 100
MAX_QUESTIONS = 100
PAGE_BREAK = re.compile(r"^\s*---\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
MEDIA_REF = "sha256:"  # how a lesson's Markdown names a file of the media store
SHOWN_PROBLEMS = 20  # a pack's problems printed; the rest are counted

# Deterministic row ids (DESIGN, Data): the same pack makes the same rows everywhere.
NAMESPACE = uuid.UUID("3b0e9a4e-5f0c-4d63-9d2e-6f1c2a7e8b41")


def course_id(pack: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"course:{pack}"))


def lesson_id(pack: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"lesson:{pack}:{key}"))


def question_id(pack: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"question:{pack}:{key}"))


def text_id(parent_id: str, lang: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"text:{parent_id}:{lang}"))


def media_id(course: str, sha: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"media:{course}:{sha}"))


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self):
        if self.line:
            return _("%(file)s, line %(line)d: %(problem)s", file=self.file, line=self.line,
                     problem=self.message)
        return f"{self.file}: {self.message}"


class PackError(KioskError):
    """A pack that cannot be imported; ``problems`` says every reason, with file and line."""

    def __init__(self, folder: str, problems: list[Problem]):
        self.folder = folder
        self.problems = problems
        lines = [f"  {p}" for p in problems[:SHOWN_PROBLEMS]]
        if len(problems) > SHOWN_PROBLEMS:  # 15,000 unknown settings stay readable (issue 14)
            more = len(problems) - SHOWN_PROBLEMS
            lines.append("  " + ngettext("… and %(num)d more problem.",
                                         "… and %(num)d more problems.", more))
        super().__init__(_("The course pack %(pack)s cannot be imported:", pack=folder) + "\n"
                         + "\n".join(lines))


@dataclass
class Question:
    key: str
    choices: list[str]
    correct: list[str]
    image: str | None  # SHA-256
    prompt: dict[str, str]
    choice_texts: dict[str, dict[str, str]]  # lang -> choice id -> words
    explanation: dict[str, str]


@dataclass
class Lesson:
    key: str
    kind: str  # lesson or quiz
    minutes: int
    image: str | None
    titles: dict[str, str]
    bodies: dict[str, str] = field(default_factory=dict)  # Markdown, pictures as sha256:...
    audio: dict[str, str] = field(default_factory=dict)  # lang -> SHA-256
    pass_mark: int = 70
    questions: list[Question] = field(default_factory=list)


@dataclass
class Pack:
    folder: Path
    id: str
    version: int
    topic: str
    languages: list[str]
    image: str | None
    title: dict[str, str]
    summary: dict[str, str]
    lessons: list[Lesson]
    files: dict[str, str]  # SHA-256 -> the file's path inside the pack (open_file)

    @property
    def course_id(self) -> str:
        return course_id(self.id)


def is_pack(folder: Path) -> bool:
    return (folder / "course.toml").is_file()


def find_packs(path: Path) -> list[Path]:
    """A pack folder, or the pack folders inside a folder (in name order)."""
    if is_pack(path):
        return [path]
    if not path.is_dir():
        raise KioskError(_("%(path)s is not a course pack or a folder of course packs.",
                           path=path))
    found = sorted(p for p in path.iterdir() if p.is_dir() and is_pack(p))
    if not found:
        raise KioskError(_("No course pack in %(path)s (a pack is a folder with a "
                           "course.toml).", path=path))
    return found


def open_file(folder: Path, relative: str, name: str | None = None):
    """The file at ``relative`` (a "/" path inside ``folder``) opened for reading in binary,
    following no link on the way; KioskError naming it (as ``name``, if given) if it is
    elsewhere, a link, missing or not an ordinary file.

    Issue 14: a pack comes from anywhere and a hub sends its courses to every centre, so a
    link in it must not bring in a file of the computer that imports it. The path is walked
    one folder at a time from ``folder`` with O_NOFOLLOW, so nothing swapped in meanwhile is
    followed either.
    """
    name = name or relative
    normal = posixpath.normpath(relative)
    if relative.startswith("/") or normal == ".." or normal.startswith("../"):
        raise KioskError(_("%(file)s is outside the pack: files must be inside its folder.",
                           file=name))
    names = normal.split("/")
    here = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for index, part in enumerate(names):
            last = index == len(names) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                opened = os.open(part, flags, dir_fd=here)
            except OSError:
                try:
                    link = stat.S_ISLNK(os.lstat(part, dir_fd=here).st_mode)
                except OSError:
                    link = False
                if link:
                    raise KioskError(_("%(file)s is a link to another place: copy the file "
                                       "itself into the pack.", file=name)) from None
                raise KioskError(_("the file %(file)s is missing.", file=name)) from None
            os.close(here)
            here = opened
        if not stat.S_ISREG(os.fstat(here).st_mode):
            raise KioskError(_("%(file)s is not an ordinary file.", file=name))
        os.set_blocking(here, True)
        opened, here = os.fdopen(here, "rb"), -1
        return opened
    finally:
        if here >= 0:
            os.close(here)


def _read_at_most(f, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes: enough to tell that a file is over ``limit``, however
    large it grew since it was measured."""
    return f.read(limit + 1)


# Reading a pack.


class _Reader:
    """Collects problems while reading one pack, so a facilitator sees all of them at once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.problems: list[Problem] = []
        self.files: dict[str, str] = {}
        self._hashed: dict[tuple[str, str], str] = {}  # (path, kinds) -> SHA-256

    def problem(self, file: str, line: int | None, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def text_file(self, relative: str, line_in: tuple[str, int | None]) -> str | None:
        try:
            with open_file(self.folder, relative) as f:
                size = os.fstat(f.fileno()).st_size  # measured before anything is read
                data = b"" if size > MAX_TEXT_FILE else _read_at_most(f, MAX_TEXT_FILE)
        except KioskError as e:
            self.problem(line_in[0], line_in[1], str(e))
            return None
        if size > MAX_TEXT_FILE or len(data) > MAX_TEXT_FILE:
            self.problem(relative, None, _("the file is too large (%(size)d KB; at most "
                                           "%(limit)d KB).", size=max(size, len(data)) // 1024,
                                           limit=MAX_TEXT_FILE // 1024))
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            self.problem(relative, line, _("this is not UTF-8 text; save the file as UTF-8."))
            return None
        return text.removeprefix("\ufeff").replace("\r\n", "\n")

    def toml(self, relative: str, line_in: tuple[str, int | None]) -> tuple[dict, str] | None:
        text = self.text_file(relative, line_in)
        if text is None:
            return None
        try:
            return tomllib.loads(text), text
        except (RecursionError, MemoryError):  # "a = [[[[..." 60,000 deep (issue 14)
            self.problem(relative, None, _("this file is nested too deeply to read: use "
                                           "fewer lists and tables inside one another."))
            return None
        except tomllib.TOMLDecodeError as e:
            match = re.search(r"line (\d+)", str(e))
            self.problem(relative, int(match.group(1)) if match else None,
                         _("this is not valid TOML (%(error)s).",
                           error=re.sub(r"\s*\(at .*\)$", "", str(e))))
            return None

    def media(self, value, kinds: str, where: tuple[str, int | None], base: str = "") -> str | None:
        """The SHA-256 of a picture (kinds "image") or recording ("audio") of the pack;
        ``base`` is the folder, inside the pack, that ``value`` is relative to."""
        file, line = where
        if not isinstance(value, str) or not value.strip():
            self.problem(file, line, _("a file name is expected here."))
            return None
        if value.startswith("/"):
            self.problem(file, line, _("%(file)s is outside the pack: files must be inside "
                                       "its folder.", file=value))
            return None
        relative = posixpath.normpath(posixpath.join(base, value))
        if (relative, kinds) in self._hashed:  # a picture shown many times is read once
            return self._hashed[relative, kinds]
        try:
            with open_file(self.folder, relative, value) as f:
                sha = self._check_media(f, value, kinds, where)
        except KioskError as e:
            self.problem(file, line, str(e))
            return None
        if sha:
            self.files[sha] = relative
            self._hashed[relative, kinds] = sha
        return sha

    def _check_media(self, f, value: str, kinds: str, where) -> str | None:
        kind = sniff(f.read(16))
        if kind is None or not kind.startswith(kinds + "/"):
            self.problem(*where, _("%(file)s is not a picture (PNG, JPEG or WebP).",
                                   file=value) if kinds == "image" else
                         _("%(file)s is not a recording (Ogg, MP3, WebM, MP4 or WAV).",
                           file=value))
            return None
        size = os.fstat(f.fileno()).st_size  # measured before the rest is read
        data = b""
        if 0 < size <= LIMITS[kind]:
            f.seek(0)
            data = _read_at_most(f, LIMITS[kind])
        if not 0 < len(data) <= LIMITS[kind]:
            self.problem(*where, _("%(file)s is empty or too large (at most %(limit)d MB).",
                                   file=value, limit=LIMITS[kind] // (1024 * 1024)))
            return None
        if kinds == "image":
            # A picture the kiosk would refuse to show (too many pixels to decode in its
            # memory) is refused here, not installed at every centre to show nothing.
            try:
                pictures.check_file(io.BytesIO(data))
            except KioskError as e:
                self.problem(*where, f"{value}: {e}")
                return None
        return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=8)
def _lines(text: str) -> tuple[str, ...]:
    """The lines of a pack's text, split once however often they are searched."""
    return tuple(text.split("\n"))


def _line_of(text: str, pattern: str, start: int = 1, end: int | None = None) -> int | None:
    """The first line (1-based) at or after ``start`` and before ``end`` matching
    ``pattern``, or None."""
    regex = re.compile(pattern)
    lines = _lines(text)
    stop = len(lines) if end is None else min(end - 1, len(lines))
    for number in range(max(start, 1), stop + 1):
        if regex.search(lines[number - 1]):
            return number
    return None


def _headers(text: str, name: str) -> list[int]:
    """The lines of each ``[[name]]`` header, in order."""
    regex = re.compile(r"^\s*\[\[\s*" + re.escape(name) + r"\s*\]\]")
    return [n for n, line in enumerate(_lines(text), 1) if regex.match(line)]


def read_pack(folder: Path) -> Pack:
    """Read and check a whole pack; PackError with every problem found."""
    reader = _Reader(folder)
    pack = _read_manifest(reader)
    if reader.problems or pack is None:
        raise PackError(str(folder), reader.problems or [
            Problem("course.toml", None, _("the manifest could not be read."))])
    return pack


_MANIFEST_KEYS = {"format", "id", "version", "topic", "languages", "image", "title", "summary",
                  "lessons"}
_LESSON_KEYS = {"id", "minutes", "image", "audio", "quiz"}
_QUIZ_KEYS = {"pass_mark", "title", "questions"}
_QUESTION_KEYS = {"id", "correct", "image", "prompt", "explanation", "choices"}


_BARE_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*[=.]")


def _unknown(reader, file, text, data: dict, allowed: set, start=1, end=None) -> None:
    unknown = set(data) - allowed
    if not unknown:
        return
    # Each key's line from one pass over the lines: looking for each key in turn took 29 s
    # for 15,000 unknown ones (issue 14).
    lines = _lines(text)
    stop = len(lines) if end is None else min(end - 1, len(lines))
    first: dict[str, int] = {}
    for number in range(max(start, 1), stop + 1):
        match = _BARE_KEY.match(lines[number - 1])
        if match and match[1] in unknown:
            first.setdefault(match[1], number)
    for key in sorted(unknown):
        reader.problem(file, first.get(key), _("unknown setting '%(key)s' (a typing mistake?).",
                                               key=key))


def _read_manifest(reader: _Reader) -> Pack | None:
    file = "course.toml"
    loaded = reader.toml(file, (file, None))
    if loaded is None:
        return None
    data, text = loaded

    def line(key: str) -> int | None:
        return _line_of(text, rf"^\s*(\[\s*)?{re.escape(key)}\s*[=\].]")

    _unknown(reader, file, text, data, _MANIFEST_KEYS, end=(_headers(text, "lessons") or [None])[0])
    if data.get("format", FORMAT) != FORMAT:
        reader.problem(file, line("format"), _("this pack is written in format %(found)s; this "
                                               "version of Infocentre reads format %(known)d.",
                                               found=data.get("format"), known=FORMAT))
    pack_id = data.get("id")
    if not isinstance(pack_id, str) or not PACK_ID.fullmatch(pack_id):
        reader.problem(file, line("id"), _("'id' must be the pack's id: lowercase letters, "
                                           "digits and hyphens, e.g. using-a-computer."))
        pack_id = None
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 10**9:
        reader.problem(file, line("version"), _("'version' must be a whole number, 1 or more."))
        version = None
    topic = data.get("topic", "other")
    if topic not in TOPICS:
        reader.problem(file, line("topic"), _("'topic' must be one of: %(topics)s.",
                                              topics=", ".join(TOPICS)))
    languages = data.get("languages")
    if (not isinstance(languages, list) or not languages
            or not all(isinstance(code, str) and code in LANGUAGES for code in languages)
            or len(set(languages)) != len(languages)):
        reader.problem(file, line("languages"), _(
            "'languages' must list the pack's languages among: %(codes)s.",
            codes=", ".join(LANGUAGES)))
        languages = []
    image = None
    if "image" in data:
        image = reader.media(data["image"], "image", (file, line("image")))
    title = _texts(reader, file, line("title"), "title", data.get("title"), languages,
                   MAX_TITLE)
    summary = _texts(reader, file, line("summary"), "summary", data.get("summary"), languages,
                     MAX_SUMMARY)
    lessons = _read_lessons(reader, data.get("lessons"), text, languages)
    if reader.problems:
        return None
    return Pack(folder=reader.folder, id=pack_id, version=version, topic=topic,
                languages=languages, image=image, title=title, summary=summary, lessons=lessons,
                files=reader.files)


def _texts(reader, file, line, name, value, languages, limit, required=True) -> dict[str, str]:
    """A table of words per language, e.g. [title] es = "..." en = "..."."""
    if value is None and not required:
        return {lang: "" for lang in languages}
    if not isinstance(value, dict):
        reader.problem(file, line, _("'%(name)s' must give the words in each language of the "
                                     "pack (%(codes)s).", name=name,
                                     codes=", ".join(languages)))
        return {}
    found = {}
    for lang in languages:
        words = value.get(lang)
        if not isinstance(words, str) or not words.strip():
            reader.problem(file, line, _("'%(name)s' has no words in %(lang)s.", name=name,
                                         lang=lang))
        elif len(words) > limit:
            reader.problem(file, line, _("'%(name)s' in %(lang)s is too long (%(length)d "
                                         "characters; at most %(limit)d).", name=name,
                                         lang=lang, length=len(words), limit=limit))
        else:
            found[lang] = " ".join(words.split()) if limit <= MAX_SUMMARY else words.strip()
    for extra in sorted(set(value) - set(languages)):
        reader.problem(file, line, _("'%(name)s' has words in %(lang)s, which is not among "
                                     "the pack's languages.", name=name, lang=extra))
    return found


def _read_lessons(reader, lessons, text, languages) -> list[Lesson]:
    file = "course.toml"
    headers = _headers(text, "lessons")
    if not isinstance(lessons, list) or not lessons:
        reader.problem(file, None, _("the pack has no lessons: add [[lessons]] tables."))
        return []
    if len(lessons) > MAX_LESSONS:
        reader.problem(file, None, _("a pack has %(limit)d lessons at most.", limit=MAX_LESSONS))
        return []
    found: list[Lesson] = []
    keys: set[str] = set()
    question_keys: set[str] = set()
    for index, entry in enumerate(lessons):
        start = headers[index] if index < len(headers) else None
        end = headers[index + 1] if index + 1 < len(headers) else None

        def line(key: str, start=start, end=end) -> int | None:
            return _line_of(text, rf"^\s*{re.escape(key)}\s*[=.]", start or 1, end) or start

        if not isinstance(entry, dict):
            reader.problem(file, start, _("each lesson must be a [[lessons]] table."))
            continue
        _unknown(reader, file, text, entry, _LESSON_KEYS, start or 1, end)
        key = entry.get("id")
        if not isinstance(key, str) or not KEY.fullmatch(key):
            reader.problem(file, line("id"), _("each lesson needs an 'id': lowercase letters, "
                                               "digits and hyphens."))
            continue
        if key in keys:
            reader.problem(file, line("id"), _("two lessons have the id '%(id)s'.", id=key))
            continue
        keys.add(key)
        minutes = entry.get("minutes", 10)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 600:
            reader.problem(file, line("minutes"), _("'minutes' must be a whole number from 1 to "
                                                    "600."))
            minutes = 10
        image = (reader.media(entry["image"], "image", (file, line("image")))
                 if "image" in entry else None)
        if "quiz" in entry:
            lesson = _read_quiz(reader, entry["quiz"], (file, line("quiz")), key, languages,
                                question_keys)
            if lesson is None:
                continue
            lesson.minutes, lesson.image = minutes, image
        else:
            lesson = Lesson(key=key, kind="lesson", minutes=minutes, image=image, titles={})
            for lang in languages:
                relative = f"lessons/{key}.{lang}.md"
                body = reader.text_file(relative, (file, start))
                if body is not None:
                    _read_lesson_text(reader, relative, body, lesson, lang)
        audio = entry.get("audio", {})
        if not isinstance(audio, dict):
            reader.problem(file, line("audio"), _("'audio' must name a recording per language, "
                                                  "e.g. audio.es = \"media/x.es.ogg\"."))
            audio = {}
        for lang, value in audio.items():
            if lang not in languages:
                reader.problem(file, line("audio"), _(
                    "'audio' has a recording in %(lang)s, which is not among the pack's "
                    "languages.", lang=lang))
                continue
            sha = reader.media(value, "audio", (file, line("audio")))
            if sha:
                lesson.audio[lang] = sha
        found.append(lesson)
    return found


def _read_lesson_text(reader, file, body, lesson, lang) -> None:
    lines = body.split("\n")
    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].startswith("# ") or not lines[first][2:].strip():
        reader.problem(file, (first or 0) + 1, _("the first line must be the lesson's title, "
                                                 "like: # Using the mouse"))
        return
    title = " ".join(lines[first][2:].split())
    if len(title) > MAX_TITLE:
        reader.problem(file, first + 1, _("the title is too long (at most %(limit)d "
                                          "characters).", limit=MAX_TITLE))
        return
    rest = "\n".join(lines[first + 1:])
    offset = first + 1  # lines before ``rest`` starts
    pages = split_pages(rest)
    if not all(page.strip() for page in pages):
        reader.problem(file, None, _("a page is empty: remove a '---' line."))
        return
    rewritten = _check_markdown(reader, file, rest, offset)
    if rewritten is not None:
        lesson.titles[lang] = title
        lesson.bodies[lang] = rewritten


_PARSER = MarkdownIt("commonmark")  # HTML on, to find it and say where it is


def _check_markdown(reader, file, text, offset) -> str | None:
    """Refuse HTML and links that are not web addresses; store pictures, naming them by hash."""
    before = len(reader.problems)
    base = posixpath.dirname(file)
    replacements: dict[str, str] = {}
    for token in _PARSER.parse(text):
        line = token.map[0] + 1 + offset if token.map else None
        if token.type == "html_block":
            reader.problem(file, line, _("HTML is not allowed in lessons (%(html)s).",
                                         html=token.content.strip()[:40]))
            continue
        for child in token.children or ():
            if child.type == "html_inline":
                reader.problem(file, line, _("HTML is not allowed in lessons (%(html)s).",
                                             html=child.content.strip()[:40]))
            elif child.type == "image":
                source = child.attrGet("src") or ""
                if not child.content.strip():
                    reader.problem(file, line, _("a picture needs words that say what it shows: "
                                                 "![what it shows](%(file)s)", file=source))
                sha = reader.media(source, "image", (file, line), base=base)
                if sha:
                    replacements[source] = MEDIA_REF + sha
            elif child.type == "link_open":
                href = child.attrGet("href") or ""
                if not href.startswith(("http://", "https://")):
                    reader.problem(file, line, _("a link must go to a web address (http:// or "
                                                 "https://), not %(target)s.", target=href[:60]))
    if len(reader.problems) > before:
        return None
    for source, ref in replacements.items():
        text = text.replace(f"]({source}", f"]({ref}")
    return text.strip("\n")


def split_pages(body: str) -> list[str]:
    """A lesson's pages: split at lines holding only ``---``, outside fenced code."""
    pages, current, fenced = [], [], False
    for line in body.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced and PAGE_BREAK.match(line):
            pages.append("\n".join(current))
            current = []
        else:
            current.append(line)
    pages.append("\n".join(current))
    return [page.strip("\n") for page in pages]


def _read_quiz(reader, relative, where, key, languages, question_keys) -> Lesson | None:
    if not isinstance(relative, str) or not relative.strip():
        reader.problem(*where, _("'quiz' must name the quiz's file, e.g. quiz.toml."))
        return None
    loaded = reader.toml(relative, where)
    if loaded is None:
        return None
    data, text = loaded
    file = relative
    headers = _headers(text, "questions")
    _unknown(reader, file, text, data, _QUIZ_KEYS, end=(headers or [None])[0])
    pass_mark = data.get("pass_mark", 70)
    if not isinstance(pass_mark, int) or isinstance(pass_mark, bool) or not 1 <= pass_mark <= 100:
        reader.problem(file, _line_of(text, r"^\s*pass_mark\s*="),
                       _("'pass_mark' must be a percent, from 1 to 100."))
        pass_mark = 70
    titles = _texts(reader, file, _line_of(text, r"^\s*\[?\s*title\b"), "title",
                    data.get("title"), languages, MAX_TITLE)
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        reader.problem(file, None, _("the quiz has no questions: add [[questions]] tables."))
        return None
    if len(questions) > MAX_QUESTIONS:
        reader.problem(file, None, _("a quiz has %(limit)d questions at most.",
                                     limit=MAX_QUESTIONS))
        return None
    lesson = Lesson(key=key, kind="quiz", minutes=10, image=None, titles=titles,
                    pass_mark=pass_mark)
    for index, entry in enumerate(questions):
        start = headers[index] if index < len(headers) else None
        end = headers[index + 1] if index + 1 < len(headers) else None
        question = _read_question(reader, file, text, entry, start, end, languages,
                                  question_keys)
        if question:
            lesson.questions.append(question)
    return lesson


def _read_question(reader, file, text, entry, start, end, languages, question_keys):
    def line(key: str) -> int | None:
        return _line_of(text, rf"^\s*(\[+\s*questions\.)?{re.escape(key)}\s*[=\].]",
                        start or 1, end) or start

    if not isinstance(entry, dict):
        reader.problem(file, start, _("each question must be a [[questions]] table."))
        return None
    _unknown(reader, file, text, entry, _QUESTION_KEYS, start or 1, end)
    key = entry.get("id")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        reader.problem(file, line("id"), _("each question needs an 'id': lowercase letters, "
                                           "digits and hyphens."))
        return None
    if key in question_keys:
        reader.problem(file, line("id"), _("two questions have the id '%(id)s'.", id=key))
        return None
    question_keys.add(key)
    prompt = _texts(reader, file, line("prompt"), "prompt", entry.get("prompt"), languages, 1000)
    explanation = _texts(reader, file, line("explanation"), "explanation",
                         entry.get("explanation"), languages, 1000, required=False)
    image = (reader.media(entry["image"], "image", (file, line("image")))
             if "image" in entry else None)
    choices = entry.get("choices")
    if not isinstance(choices, list) or not 2 <= len(choices) <= 6:
        reader.problem(file, line("choices") or start, _("question '%(id)s' needs 2 to 6 "
                                                         "[[questions.choices]].", id=key))
        return None
    ids: list[str] = []
    texts: dict[str, dict[str, str]] = {lang: {} for lang in languages}
    choice_lines = [n for n in _headers(text, "questions.choices")
                    if (start or 0) <= n and (end is None or n < end)]
    for index, choice in enumerate(choices):
        at = choice_lines[index] if index < len(choice_lines) else start
        if not isinstance(choice, dict) or not isinstance(choice.get("id"), str) \
                or not choice["id"].strip() or len(choice["id"]) > 20:
            reader.problem(file, at, _("each choice needs an 'id', e.g. id = \"a\"."))
            return None
        if choice["id"] in ids:
            reader.problem(file, at, _("two choices of question '%(id)s' have the id "
                                       "'%(choice)s'.", id=key, choice=choice["id"]))
            return None
        ids.append(choice["id"])
        for lang in languages:
            words = choice.get(lang)
            if not isinstance(words, str) or not words.strip() or len(words) > 300:
                reader.problem(file, at, _("choice '%(choice)s' of question '%(id)s' has no "
                                           "words in %(lang)s (or too many).",
                                           choice=choice["id"], id=key, lang=lang))
            else:
                texts[lang][choice["id"]] = " ".join(words.split())
    correct = entry.get("correct")
    if isinstance(correct, str):
        correct = [correct]
    if not isinstance(correct, list) or not correct:
        reader.problem(file, line("correct"), _("question '%(id)s' has no correct answer: say "
                                                "which in 'correct', e.g. correct = [\"b\"].",
                                                id=key))
        return None
    unknown = [c for c in correct if c not in ids]
    if unknown:
        reader.problem(file, line("correct"), _("question '%(id)s' says '%(choice)s' is correct, "
                                                "but it has no such choice.", id=key,
                                                choice=unknown[0]))
        return None
    return Question(key=key, choices=ids, correct=[c for c in ids if c in correct], image=image,
                    prompt=prompt, choice_texts=texts, explanation=explanation)
