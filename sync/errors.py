"""Sync errors: one base, each with one code, one HTTP status and one CLI exit code.

Imports nothing. The hub answers every refusal as ``{"ok": false, "errors": [{"code",
"message"}]}`` with the status below, and leaves its data unchanged. The ``infocentre`` command
exits with the error's ``exit_code`` (kiosk/cli.py reads it, in one place): ``sync now`` exits 3
when the hub could not be reached and 4 when it refused.
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


class Busy(SyncError):
    """The hub has more centres at its door than it can answer in time: try again after
    ``retry_after`` seconds. Nothing was done."""

    code, http_status = "busy", 503


class AlreadySyncing(SyncError):
    """Another sync of this centre is running, in this process or another (``sync.lock``).
    Nothing was done, nor recorded."""

    code, http_status = "already_syncing", 409


class TooLarge(SyncError):
    code, http_status = "too_large", 413


class Unreachable(SyncError):
    """No answer from the hub, or an answer that is not the hub's (a captive portal).

    ``reason``: "no_answer" (no connection, DNS, TLS, timeout), "hub_error" (a 5xx), "not_hub"
    (a web page instead of the hub's JSON) or "damaged" (an answer cut or unreadable).
    """

    code, exit_code = "unreachable", 3

    def __init__(self, message: str, reason: str = "no_answer", **extra):
        super().__init__(message, **extra)
        self.reason = reason


class Refused(SyncError):
    """The hub answered with a refusal (a 4xx); ``code`` is the hub's."""

    exit_code = 4

    def __init__(self, message: str, code: str, status: int, **extra):
        super().__init__(message, **extra)
        self.code, self.http_status = code, status


class BundleError(SyncError):
    """A bundle file that is not imported (or cannot be written); nothing of it was applied.

    ``reason`` says why, for a translated message: "unreadable", "not_bundle", "newer",
    "cut_short", "damaged", "wrong_way", "other_centre", "unknown_centre", "revoked", "gap",
    "token". See sync/README.md, "Bundles".
    """

    code, exit_code = "bundle_refused", 1

    def __init__(self, message: str, reason: str, **extra):
        super().__init__(message, **extra)
        self.reason = reason


class MediaError(SyncError):
    """A photo or recording that is not kept, or a chunk of one that does not fit; ``code``:
    "unsupported" (not a kind we keep), "too_large", "empty", "offset" (``received`` says from
    where to send), "hash_mismatch" (it did not match its SHA-256: sent again from the start),
    "not_in_scope" (no row this centre may see names it), "missing" (not stored here)."""

    exit_code = 1
    STATUS = {"unsupported": 415, "too_large": 413, "empty": 400, "offset": 409,
              "hash_mismatch": 422, "not_in_scope": 403, "missing": 404}

    def __init__(self, message: str, code: str, **extra):
        super().__init__(message, **extra)
        self.code, self.http_status = code, self.STATUS.get(code, 400)
