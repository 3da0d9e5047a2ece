"""The courses area's SQL as functions, by concern: installing packs (``importing``), reading
courses in a language (``reading``), learners' progress and certificates (``progress``), quizzes
(``quizzes``), voices reading texts aloud (``voices``) and the demo (``demo``). Other areas
use the names listed here.

Imports ``kiosk.data``, ``kiosk.errors``, ``kiosk.i18n`` and ``sync``; no Flask request
globals: the CLI, the demo and tests call these directly. Times are passed in (``now``).
"""

from sync.engine import OWNER, REGION, UPLOAD_HUB, UPLOAD_OWNER, SyncedTable

from .demo import demo
from .importing import import_pack, installed, installed_version
from .progress import (
    catalogue,
    certificate_id,
    complete_course,
    course_state,
    find_certificate,
    finish_lesson,
    open_page,
    progress_id,
    stable_id,
    standing,
)
from .quizzes import answer, finish_answered_attempt, last_attempt, open_attempt
from .reading import (
    chain_of,
    course_text,
    course_titles,
    get_course,
    get_lesson,
    lessons_of,
    pick_language,
    questions_of,
    topics,
)
from .voices import record as record_voice
from .voices import texts_of as voice_texts
from .voices import voices_of

# Courses come from the hub to every centre; only the hub changes them. A centre may install a
# pack itself (no link for months): those rows stay uncaptured, and the hub's copy wins.
# Their pictures and recordings travel as the course's files (course_media); the columns naming
# them are media columns all the same, so no blob they name is ever deleted from a disk.
_COURSE_TABLES = {"courses": ("image",), "course_texts": (), "lessons": ("image",),
                  "lesson_texts": ("audio",), "questions": ("image",), "question_texts": ()}
SYNCED_TABLES = [
    *(SyncedTable(name, scope=REGION, upload=UPLOAD_HUB, media=columns)
      for name, columns in _COURSE_TABLES.items()),
    SyncedTable("course_media", scope=REGION, upload=UPLOAD_HUB, media=("sha256",)),
    # A learner's records belong to the centre and go up to the hub.
    *(SyncedTable(name, scope=OWNER) for name in ("progress", "quiz_attempts", "certificates")),
    # Voices recorded at a centre reach every centre, their recordings with them; each row is
    # changed only by the centre that recorded it.
    SyncedTable("voices", scope=REGION, upload=UPLOAD_OWNER, media=("audio",)),
]

__all__ = [
    "SYNCED_TABLES", "answer", "catalogue", "certificate_id", "complete_course", "course_state",
    "chain_of", "course_text", "course_titles", "demo", "find_certificate",
    "finish_answered_attempt", "finish_lesson",
    "get_course", "get_lesson", "import_pack", "installed", "installed_version", "last_attempt",
    "lessons_of", "open_attempt", "open_page", "pick_language", "progress_id",
    "questions_of", "record_voice", "stable_id", "standing", "topics", "voice_texts",
    "voices_of",
]
