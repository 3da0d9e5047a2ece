"""The kiosk schema as an ordered set of migrations (``m0001_...``); imports only sqlite-utils.

Synced tables (see ``SYNCED_TABLES`` in each area's models) carry a text ``id`` and the owning
``centre_id``, and avoid constraints a valid sync batch could break: no foreign keys between
synced tables, no unique natural keys, NOT NULL only with a default. Local tables (sessions, PIN
failures) may point at synced rows with cascading foreign keys, since they never travel.
"""

from sqlite_utils import Migrations

MIGRATIONS = Migrations("kiosk")


@MIGRATIONS()
def m0001_centres_and_accounts(db):
    db.executescript(
        """
        -- synced: owned by the hub, one row per centre (the hub included)
        CREATE TABLE centres (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'node',
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;

        -- synced: centre_id is the person's home centre; pin_hash never leaves it
        CREATE TABLE accounts (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL DEFAULT 'villager',
            lang TEXT,
            pin_hash TEXT,
            password_hash TEXT,
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX accounts_by_centre_name ON accounts (centre_id, name);

        -- local: signed-in sessions of this installation (the cookie holds the token, the
        -- database only its SHA-256, so a copied database signs nobody in)
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        ) STRICT;
        CREATE INDEX sessions_by_account ON sessions (account_id);

        -- local: wrong PINs in a row, and the lock they caused
        CREATE TABLE pin_failures (
            account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT
        ) STRICT;

        -- local: rows made by ``infocentre demo``, so they can be found and removed
        CREATE TABLE demo_rows (
            table_name TEXT NOT NULL,
            row_id TEXT NOT NULL,
            PRIMARY KEY (table_name, row_id)
        ) STRICT;
        """
    )


@MIGRATIONS()
def m0002_sync_status(db):
    db.executescript(
        """
        -- local: how syncing with the hub goes, for the kiosk's page and `sync status`
        CREATE TABLE sync_status (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_attempt_at TEXT,
            last_success_at TEXT,
            last_error_code TEXT,     -- unreachable:<reason>, refused:<hub code>, error
            last_error_detail TEXT,   -- the technical message, for the log
            failures INTEGER NOT NULL DEFAULT 0,  -- failed attempts in a row
            next_attempt_at TEXT,     -- when the daemon tries again
            progress TEXT,            -- JSON, while a sync runs: sent, received, to_send
            last_report TEXT          -- JSON summary of the last attempt
        ) STRICT;
        INSERT INTO sync_status (id) VALUES (1);
        """
    )


@MIGRATIONS()
def m0003_account_photos(db):
    # synced: the SHA-256 of a person's photo in the media store (sync.media), shown on the
    # sign-in list for people who read names slowly; the photo travels where the account goes.
    db.execute("ALTER TABLE accounts ADD COLUMN photo TEXT")


@MIGRATIONS()
def m0004_courses(db):
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

        -- synced, owned by the centre, sent to the hub: classes and learning records
        CREATE TABLE classes (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            name TEXT NOT NULL DEFAULT '',
            course_id TEXT NOT NULL DEFAULT '',
            facilitator_id TEXT NOT NULL DEFAULT '',
            archived INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX classes_by_centre ON classes (centre_id, archived);
        -- id: UUIDv5 of class and learner; leaving a class sets active = 0 (a delete is final)
        CREATE TABLE enrolments (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            class_id TEXT NOT NULL DEFAULT '',
            learner_id TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            enrolled_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX enrolments_by_class ON enrolments (class_id, active);
        CREATE INDEX enrolments_by_learner ON enrolments (learner_id);
        CREATE TABLE class_sessions (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            class_id TEXT NOT NULL DEFAULT '',
            held_on TEXT NOT NULL DEFAULT '',       -- the day, YYYY-MM-DD, by the hub's clock
            created_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX class_sessions_by_class ON class_sessions (class_id, held_on);
        -- id: UUIDv5 of session and learner
        CREATE TABLE attendance (
            id TEXT PRIMARY KEY,
            centre_id TEXT NOT NULL DEFAULT '',
            session_id TEXT NOT NULL DEFAULT '',
            learner_id TEXT NOT NULL DEFAULT '',
            present INTEGER NOT NULL DEFAULT 0,
            marked_at TEXT NOT NULL DEFAULT ''
        ) STRICT;
        CREATE INDEX attendance_by_session ON attendance (session_id);
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
