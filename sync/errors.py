"""Sync errors: one base, each with one code, one HTTP status and one CLI exit code.

Imports nothing. The hub answers every refusal as ``{"ok": false, "errors": [{"code",
"message"}]}`` with the status below, and leaves its data unchanged; the node's ``sync now``
exits 3 when the hub could not be reached and 4 when it refused.
"""


class SyncError(Exception):
    code = "sync_error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra

    def as_json(self) -> dict:
        return {"ok": False, "errors": [{"code": self.code, "message": self.message}],
                **self.extra}


class Malformed(SyncError):
    code, http_status = "malformed", 400


class Unauthenticated(SyncError):
    code, http_status = "unauthenticated", 401


class Revoked(SyncError):
    code, http_status = "revoked", 401


class ForgedOrigin(SyncError):
    code, http_status = "forged_origin", 403


class ClockAhead(SyncError):
    """Stamps too far ahead of the hub's clock; ``hub_time`` tells the node the right time."""

    code, http_status = "clock_ahead", 409


class SchemaTooOld(SyncError):
    code, http_status = "schema_too_old", 409


class ResyncRequired(SyncError):
    code, http_status = "resync_required", 410


class TooLarge(SyncError):
    code, http_status = "too_large", 413


class Unreachable(SyncError):
    """No answer from the hub, or an answer that is not the hub's (a captive portal)."""

    code, exit_code = "unreachable", 3


class Refused(SyncError):
    """The hub answered with a refusal (a 4xx); ``code`` is the hub's."""

    exit_code = 4

    def __init__(self, message: str, code: str, status: int, **extra):
        super().__init__(message, **extra)
        self.code, self.http_status = code, status
