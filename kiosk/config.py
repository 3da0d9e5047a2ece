"""Configuration: every key described once, the load order, and validation.

Order: the defaults below, then the data directory's ``config.json`` (written by ``infocentre
init``), then ``INFOCENTRE_<KEY>`` environment variables, then the mapping given to
``create_app``. Only this module and ``kiosk.cli`` read ``os.environ``. Imports only
``kiosk.errors``, ``kiosk.i18n`` and ``kiosk.shipped``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import numbers

from .errors import ConfigError
from .i18n import LANGUAGES, _
from .shipped import catalogue_file, shipped

LOCALES_DIR = shipped("locales")
CONTENT_DIR = shipped("content")
CONFIG_FILE = "config.json"
SECRET_FILE = "secret_key"
TOKEN_FILE = "sync_token"
DATABASE_FILE = "infocentre.db"
ROLES = ("node", "hub")
DEFAULT_AREAS = ["kiosk.home", "kiosk.auth", "kiosk.admin", "kiosk.courses", "kiosk.classes",
                 "kiosk.market", "kiosk.stories"]


@dataclass(frozen=True)
class Option:
    name: str
    default: object
    help: str
    in_file: bool = False  # written to config.json by ``infocentre init``


def _list(value) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _optional_float(value) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


OPTIONS = [
    Option("DATA_DIR", "instance", "The installation's data directory: database, media, config "
           "file and secret key. Set with --data-dir or INFOCENTRE_DATA."),
    Option("ROLE", None, "'node' for a centre, 'hub' for the regional office.", True),
    Option("CENTRE_ID", None, "This installation's centre id (a UUID made at init); every row "
           "born here records it as centre_id.", True),
    Option("CENTRE_NAME", None, "The centre's name, shown at the top of every page.", True),
    Option("LANGUAGES", list(LANGUAGES), "Languages offered, as catalogue codes "
           "(es, en, fr, qu_EC, ar); comma-separated in the environment.", True),
    Option("DEFAULT_LANGUAGE", "es", "Language of the pages until a person chooses one.", True),
    Option("CURRENCY", "USD", "ISO 4217 code of the currency prices are shown in.", True),
    Option("TIMEZONE", "America/Guayaquil", "IANA time zone in which dates and times are shown.",
           True),
    Option("IDLE_MINUTES", 5.0, "Minutes without activity after which a person is signed out "
           "(decimals allowed, at least 0.1).", True),
    Option("PIN_MAX_FAILURES", 5, "Wrong PINs in a row that lock an account."),
    Option("PIN_LOCK_MINUTES", 5.0, "How long a locked account stays locked, in minutes."),
    Option("SECURE_COOKIES", False, "Send cookies over HTTPS only (set when serving HTTPS)."),
    Option("THREADS", 4, "Worker threads of the web server (4 measured best on 2 cores)."),
    Option("AREAS", DEFAULT_AREAS, "The app's areas, as Python modules in order; a deployment "
           "may add its own (the sync benchmark does). Comma-separated in the environment.",
           True),
    Option("LOCALES_DIR", str(LOCALES_DIR), "Where the compiled gettext catalogues are."),
    Option("CONTENT_DIR", str(CONTENT_DIR), "Where course packs and demo data are."),
    Option("HUB_URL", None, "A centre's regional hub, e.g. http://hub.example:5000 (set by "
           "init --hub or join).", True),
    Option("SYNC_TOKEN", None, "A centre's credentials at the hub, read from the data "
           "directory's sync_token file (owner-only), never from config.json."),
    Option("SYNC_BATCH", 1000, "Changes a centre sends per request."),
    Option("SYNC_PAGE", 2000, "Changes the hub sends per request, at most."),
    Option("SYNC_QUEUE_MAX", 20.0, "Hub: seconds a centre's request may wait for its turn; one "
           "that waited longer is answered 'busy, try again shortly' at once, before the "
           "centre gives up on it."),
    Option("SYNC_MIN_SCHEMA", 1, "Hub: the oldest centre data version it accepts; older centres "
           "are asked to update."),
    Option("SYNC_DAEMON", True, "A centre's server also syncs by itself (infocentre serve); "
           "off when `infocentre sync daemon` runs as its own service.", True),
    Option("SYNC_INTERVAL", 300.0, "Seconds between syncs while the hub answers."),
    Option("SYNC_RETRY_MIN", 30.0, "Seconds before the first retry when the hub does not "
           "answer; each failure doubles it, with jitter."),
    Option("SYNC_RETRY_MAX", 3600.0, "The longest wait between retries, in seconds."),
    Option("SYNC_TIMEOUT", 60.0, "Seconds a centre waits for the hub to answer one request "
           "before it counts the link as down."),
    Option("DISK_RESERVE_MB", None, "Free space, in MB, that a sync leaves on the data "
           "directory's disk: below it, photos and recordings wait for a later sync (the rows "
           "still sync). Unset: 5 % of the disk, at least 200 MB and at most 1 GB."),
    Option("BACKUP_DIR", None, "Where the daily backups go (infocentre backup's folder when "
           "none is given). Unset: the data directory's backups folder; a USB stick or "
           "another disk survives the PC's.", True),
    Option("BACKUP_KEEP", 7, "How many backups to keep; older ones are removed after each new "
           "one.", True),
    Option("BACKUP_DAILY", True, "A centre's server takes a backup a day.", True),
    Option("HUB_SILENT_DAYS", 7.0, "Hub: days without a sync after which a centre is shown "
           "to the regional staff as silent (decimals allowed, 0.01 to 365)."),
    Option("NOW", None, "A callable returning the current UTC datetime; tests pass a fake clock."),
]
OPTION_NAMES = {o.name for o in OPTIONS}
_TYPES = {
    "LANGUAGES": _list, "AREAS": _list, "IDLE_MINUTES": float, "PIN_MAX_FAILURES": int,
    "PIN_LOCK_MINUTES": float, "SECURE_COOKIES": _bool, "THREADS": int, "SYNC_BATCH": int,
    "SYNC_PAGE": int, "SYNC_MIN_SCHEMA": int, "SYNC_DAEMON": _bool, "SYNC_INTERVAL": float,
    "SYNC_RETRY_MIN": float, "SYNC_RETRY_MAX": float, "SYNC_TIMEOUT": float,
    "SYNC_QUEUE_MAX": float, "DISK_RESERVE_MB": _optional_float, "BACKUP_KEEP": int,
    "BACKUP_DAILY": _bool, "HUB_SILENT_DAYS": float,
}


def data_dir_from(value: str | os.PathLike | None, environ: Mapping[str, str]) -> Path:
    """The data directory: the given value, else INFOCENTRE_DATA, else ./instance."""
    return Path(value or environ.get("INFOCENTRE_DATA") or "instance").resolve()


def locales_dir_from(environ: Mapping[str, str]) -> Path:
    """The catalogues before an installation's settings exist: INFOCENTRE_LOCALES_DIR, else the
    shipped ones (``infocentre init``, and the command's own messages)."""
    return Path(environ.get("INFOCENTRE_LOCALES_DIR") or LOCALES_DIR)


def load(mapping: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    """Merge the four layers into one dict of Flask config keys, validated."""
    environ = os.environ if environ is None else environ
    mapping = dict(mapping or {})
    data_dir = data_dir_from(mapping.get("DATA_DIR"), environ)
    settings = _layered(read_file(data_dir), mapping, data_dir, environ)
    settings.setdefault("SECRET_KEY", read_secret(data_dir))
    if settings.get("SYNC_TOKEN") is None:
        settings["SYNC_TOKEN"] = read_token(data_dir)
    validate(settings)
    return settings


def check_new(data_dir: Path, role: str, name: str, centre_id: str,
              environ: Mapping[str, str] | None = None, **extra) -> None:
    """Would the installation ``write_new`` is about to write load, with this environment's
    settings? ConfigError if not, before anything is written (issue 15: ``init`` with a made-up
    currency wrote a centre that then refused to start, and a second ``init`` said "already
    set up")."""
    environ = os.environ if environ is None else environ
    stored = _file_settings(_stored(role, name, centre_id, extra))
    settings = _layered(stored, {}, data_dir, environ)
    settings.update(SECRET_KEY="made by write_new", SYNC_TOKEN=None)
    validate(settings)


def _layered(stored: dict, mapping: dict, data_dir: Path, environ: Mapping[str, str]) -> dict:
    """Defaults, then the config file's settings, the environment's and the mapping's, typed."""
    settings = {o.name: o.default for o in OPTIONS}
    settings.update(stored)
    for name in OPTION_NAMES - {"DATA_DIR", "NOW", "SYNC_TOKEN"}:
        if f"INFOCENTRE_{name}" in environ:
            settings[name] = environ[f"INFOCENTRE_{name}"]
    settings.update(mapping)
    settings["DATA_DIR"] = str(data_dir)
    for name, convert in _TYPES.items():
        try:
            settings[name] = convert(settings[name])
        except (TypeError, ValueError):
            raise ConfigError(_("The setting %(name)s has an invalid value.", name=name)) from None
    settings["DATABASE"] = str(data_dir / DATABASE_FILE)
    return settings


def read_file(data_dir: Path) -> dict:
    """The settings in the data directory's config file; ConfigError when there is none."""
    path = data_dir / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            _("No centre is set up in %(path)s. Run: infocentre init --role node --name "
              "\"Centre name\"", path=data_dir))
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(_("The config file %(path)s cannot be read.", path=path)) from None
    if not isinstance(stored, dict):
        raise ConfigError(_("The config file %(path)s cannot be read.", path=path))
    return _file_settings(stored)


def _file_settings(stored: dict) -> dict:
    by_file_key = {o.name.lower(): o.name for o in OPTIONS if o.in_file}
    return {by_file_key[k]: v for k, v in stored.items() if k in by_file_key}


def read_secret(data_dir: Path) -> str:
    try:
        secret = (data_dir / SECRET_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        secret = ""
    if len(secret) < 32:
        raise ConfigError(_("The secret key in %(path)s is missing or too short; run infocentre "
                            "init --force to make a new one.", path=data_dir))
    return secret


def read_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / TOKEN_FILE).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_token(data_dir: Path, token: str) -> None:
    fd = os.open(data_dir / TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")


def update_file(data_dir: Path, **changes) -> None:
    """Change keys of the data directory's config file, written whole and then renamed."""
    path = data_dir / CONFIG_FILE
    stored = json.loads(path.read_text(encoding="utf-8"))
    stored.update({k.lower(): v for k, v in changes.items()})
    temporary = path.with_suffix(".tmp")
    _write_private(temporary, json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    os.replace(temporary, path)


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (issue 14), replacing what it held."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def validate(settings: dict) -> None:
    """Raise ConfigError with one clear sentence for the first invalid setting."""
    if settings["ROLE"] not in ROLES:
        raise ConfigError(_("The role must be 'node' or 'hub'."))
    if not settings["CENTRE_ID"] or not settings["CENTRE_NAME"]:
        raise ConfigError(_("The centre id and name must be set."))
    unknown = [code for code in settings["LANGUAGES"] if code not in LANGUAGES]
    if unknown or not settings["LANGUAGES"]:
        raise ConfigError(_("Languages must be chosen among: %(codes)s.",
                            codes=", ".join(LANGUAGES)))
    if settings["DEFAULT_LANGUAGE"] not in settings["LANGUAGES"]:
        raise ConfigError(_("The default language must be one of the languages offered."))
    if not numbers.is_currency(str(settings["CURRENCY"])):
        raise ConfigError(_("%(code)s is not a valid currency code (for example USD).",
                            code=settings["CURRENCY"]))
    try:
        ZoneInfo(str(settings["TIMEZONE"]))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(_("%(zone)s is not a valid time zone (for example America/Guayaquil).",
                            zone=settings["TIMEZONE"])) from None
    if not 0.1 <= settings["IDLE_MINUTES"] <= 240:
        raise ConfigError(_("IDLE_MINUTES must be between 0.1 and 240."))
    if settings["PIN_MAX_FAILURES"] < 1 or settings["PIN_LOCK_MINUTES"] <= 0:
        raise ConfigError(_("PIN_MAX_FAILURES and PIN_LOCK_MINUTES must be positive."))
    if not (0 < settings["SYNC_RETRY_MIN"] <= settings["SYNC_RETRY_MAX"]
            and settings["SYNC_INTERVAL"] > 0 and settings["SYNC_TIMEOUT"] > 0):
        raise ConfigError(_("SYNC_INTERVAL, SYNC_RETRY_MIN and SYNC_TIMEOUT must be positive, and "
                            "SYNC_RETRY_MAX at least SYNC_RETRY_MIN."))
    if settings["DISK_RESERVE_MB"] is not None and not settings["DISK_RESERVE_MB"] >= 0:
        raise ConfigError(_("DISK_RESERVE_MB must be a number of megabytes, 0 or more."))
    if not 1 <= settings["BACKUP_KEEP"] <= 1000:
        raise ConfigError(_("BACKUP_KEEP must be between 1 and 1000."))
    if not 1 <= settings["THREADS"] <= 64:
        raise ConfigError(_("THREADS must be between 1 and 64."))
    if not (1 <= settings["SYNC_BATCH"] <= 100_000 and 1 <= settings["SYNC_PAGE"] <= 100_000):
        raise ConfigError(_("SYNC_BATCH and SYNC_PAGE must be between 1 and 100000."))
    if not 0.01 <= settings["HUB_SILENT_DAYS"] <= 365:
        raise ConfigError(_("HUB_SILENT_DAYS must be between 0.01 and 365."))
    if settings["SYNC_TOKEN"] and not settings["HUB_URL"]:
        raise ConfigError(_("This centre has a sync token but no hub address (HUB_URL)."))
    check_catalogue(settings["LOCALES_DIR"], settings["DEFAULT_LANGUAGE"])


def check_catalogue(locales_dir: str | Path, code: str) -> None:
    """Raise ConfigError unless ``code``'s compiled catalogue is in ``locales_dir``: without it
    every page would be English inside ``<html lang="es">`` (issue 15)."""
    if not Path(locales_dir).is_dir():
        raise ConfigError(_("The language catalogues were not found in %(path)s.",
                            path=locales_dir))
    if not catalogue_file(locales_dir, code).is_file():
        raise ConfigError(_("%(file)s is missing: the language catalogues are not compiled "
                            "(scripts/catalogues.py compile).",
                            file=catalogue_file(locales_dir, code)))


def _stored(role: str, name: str, centre_id: str, extra: dict) -> dict:
    """What a new installation's config file holds."""
    stored = {"role": role, "centre_id": centre_id, "centre_name": name}
    stored.update({k.lower(): v for k, v in extra.items()})
    stored.setdefault("languages", list(LANGUAGES))
    return stored


def write_new(data_dir: Path, role: str, name: str, centre_id: str, **extra) -> None:
    """Write a fresh config file and secret key (used by ``infocentre init``)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored = _stored(role, name, centre_id, extra)
    secret_path = data_dir / SECRET_FILE
    # The key is made here, on this machine, and never committed or shown (issue 3).
    fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    _write_private(data_dir / CONFIG_FILE,
                   json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
