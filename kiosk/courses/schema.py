"""The courses area's migration set: courses imported from packs, and learners' progress, quiz
tries and certificates.
Imports only sqlite-utils and ``kiosk.schema`` (``adopts``).

Synced tables carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid
sync batch could break (``kiosk/schema.py``).
"""

from sqlite_utils import Migrations

from ..schema import adopts

MIGRATIONS = Migrations("courses")


@MIGRATIONS()
@adopts("m0004_courses")
def m0001_courses(db):
    db.executescript(
        """

        -- synced, region-wide, changed only by the hub: courses imported from packs
        -- (kiosk.courses.packs). Ids are UUIDv5 of the pack's ids, so a pack imported at the
        -- hub and at a centre is one course. Text is one row per language.
        CREATE TABLE courses (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            pack TEXT NOT NULL DEFAULT '',          -- the pack's id, e.g. using-a-computer
            version INTEGER NOT NULL DEFAULT 0,
            topic TEXT NOT NULL DEFAULT 'other',
            languages TEXT NOT NULL DEFAULT '',     -- space-separated codes
            image TEXT,                             -- SHA-256 in the media store
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE TABLE course_texts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX course_texts_by_course ON course_texts (course_id, lang);
        CREATE TABLE lessons (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            key TEXT NOT NULL DEFAULT '',           -- the lesson's id in its pack
            position INTEGER NOT NULL DEFAULT 0,
            kind TEXT NOT NULL DEFAULT 'lesson',    -- lesson or quiz
            minutes INTEGER NOT NULL DEFAULT 0,
            image TEXT,
            pass_mark INTEGER NOT NULL DEFAULT 70,  -- quizzes: percent right to pass
            retired INTEGER NOT NULL DEFAULT 0      -- left out of a newer version (never deleted:
                                                    -- deletes are final, and progress points here)
        ) STRICT;
        CREATE INDEX lessons_by_course ON lessons (course_id, position);
        CREATE TABLE lesson_texts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            lesson_id TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL DEFAULT '',          -- Markdown; pages split by a line of ---
            audio TEXT                              -- the lesson read aloud, in the media store
        ) STRICT;
        CREATE INDEX lesson_texts_by_lesson ON lesson_texts (lesson_id, lang);
        CREATE TABLE questions (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            lesson_id TEXT NOT NULL DEFAULT '',
            key TEXT NOT NULL DEFAULT '',
            position INTEGER NOT NULL DEFAULT 0,
            choices TEXT NOT NULL DEFAULT '[]',     -- JSON: the choices' ids, in order
            correct TEXT NOT NULL DEFAULT '[]',     -- JSON: the right choices' ids
            image TEXT,
            retired INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE INDEX questions_by_lesson ON questions (lesson_id, position);
        CREATE TABLE question_texts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            question_id TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT '',
            prompt TEXT NOT NULL DEFAULT '',
            choices TEXT NOT NULL DEFAULT '{}',     -- JSON: choice id -> its words
            explanation TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX question_texts_by_question ON question_texts (question_id, lang);
        -- every file a course uses (pictures in lessons too), so each travels with the course
        CREATE TABLE course_media (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            sha256 TEXT
        ) STRICT;
        CREATE INDEX course_media_by_course ON course_media (course_id);

        -- synced, owned by the centre, sent to the hub: learners' records
        -- id: UUIDv5 of learner and lesson; page is where the learner stopped
        CREATE TABLE progress (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            learner_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            lesson_id TEXT NOT NULL DEFAULT '',
            page INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            score INTEGER,                          -- quizzes: best percent
            started_at TEXT NOT NULL DEFAULT '',
            done_at TEXT,
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX progress_by_learner ON progress (learner_id, course_id);
        CREATE TABLE quiz_attempts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            learner_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            lesson_id TEXT NOT NULL DEFAULT '',
            answers TEXT NOT NULL DEFAULT '{}',     -- JSON: question id -> chosen choice ids
            score INTEGER,                          -- percent, once finished
            passed INTEGER NOT NULL DEFAULT 0,
            started_at TEXT NOT NULL DEFAULT '',
            finished_at TEXT
        ) STRICT;
        CREATE INDEX quiz_attempts_by_learner ON quiz_attempts (learner_id, lesson_id);
        -- id: UUIDv5 of learner and course
        CREATE TABLE certificates (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            learner_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            version INTEGER NOT NULL DEFAULT 0,     -- of the course completed
            code TEXT NOT NULL DEFAULT '',          -- short, printed, to check a certificate
            issued_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX certificates_by_learner ON certificates (learner_id);
        """
    )


@MIGRATIONS()
def m0002_voices(db):
    db.executescript(
        """
        -- synced, region-wide, each row changed only by the centre that recorded it: a voice
        -- reading one text of a course aloud, recorded by a facilitator at the kiosk.
        -- id: UUIDv5 of the centre, the text and the language, so recording again replaces
        -- the centre's own voice. Where two centres recorded the same text, the newest
        -- recording is heard. Taking a voice away sets audio to NULL (a row is never deleted:
        -- a deleted id can never come back, and the text may be recorded again).
        CREATE TABLE voices (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            lesson_id TEXT NOT NULL DEFAULT '',
            target_kind TEXT NOT NULL DEFAULT 'page',  -- page, prompt or choice
            target_id TEXT NOT NULL DEFAULT '',        -- the lesson's id, or the question's
            part TEXT NOT NULL DEFAULT '',             -- the page's number (1 is the first),
                                                       -- the choice's id, or '' for a prompt
            lang TEXT NOT NULL DEFAULT '',             -- the language spoken
            audio TEXT,                                -- SHA-256 (media store); NULL: taken away
            recorded_by TEXT NOT NULL DEFAULT '',      -- the account that recorded it
            recorded_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX voices_by_lesson ON voices (lesson_id, target_kind, target_id);
        """
    )


@MIGRATIONS()
def m0003_by_centre(db):
    # The hub's pages of a centre (kiosk.admin) count its lessons finished and certificates per
    # month, among every centre's: by centre, then time, so the cost follows that centre alone.
    db.executescript(
        """
        CREATE INDEX progress_by_centre_done ON progress (centre_id, done_at);
        CREATE INDEX certificates_by_centre ON certificates (centre_id, issued_at);
        """
    )
