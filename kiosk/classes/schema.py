"""The classes area's migration set: classes, enrolments, sessions and attendance.
Imports only sqlite-utils and ``kiosk.schema`` (``adopts``).

Synced tables carry a text ``id`` and the owning ``centre_id``, and avoid constraints a valid
sync batch could break (``kiosk/schema.py``).
"""

from sqlite_utils import Migrations

from ..schema import adopts

MIGRATIONS = Migrations("classes")


@MIGRATIONS()
@adopts("m0004_courses")
def m0001_classes(db):
    db.executescript(
        """
        -- synced, owned by the centre, sent to the hub
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
        """
    )
