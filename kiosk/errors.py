"""The kiosk package's exceptions: one base, each mapped to one HTTP status and CLI exit code.

Imports nothing from kiosk. Messages are already translated when raised (``kiosk.i18n._``
follows the request's language on pages and the terminal's language in the CLI).
"""


class KioskError(Exception):
    """Base of every expected failure in the kiosk package."""

    http_status = 400
    exit_code = 1


class ConfigError(KioskError):
    """The installation's configuration is missing or invalid."""

    http_status = 500


class NotFound(KioskError):
    """A ``get_x`` function found no such row."""

    http_status = 404


class ValidationError(KioskError):
    """Input failed validation; ``errors`` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        messages = [m for ms in errors.values() for m in ms]
        super().__init__(" ".join(messages))
