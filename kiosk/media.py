"""Photos and recordings at an installation: its media store (sync.media) under the data
directory, photos made ready to keep, and thumbnails made here, so list pages never send
originals over the centre's network.

Photos are turned upright, shrunk to at most ``PHOTO_SIDE`` pixels and saved without their
metadata before they are stored: a phone's photo can weigh 5 MB (eleven minutes on a 64 kbit/s
link) and say where it was taken. Thumbnails are local files under ``media/thumbs``, never
synced: each replica makes its own from the blob.

Imports Flask, Pillow, sync.media and kiosk.data/errors/i18n/pictures.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from pathlib import Path

from flask import Blueprint, abort, current_app, g, send_file
from markupsafe import Markup, escape

from sync import media as sync_media
from sync.media import SHA, Store, sniff

from . import pictures
from .data import media_dir
from .errors import KioskError
from .i18n import _

log = logging.getLogger("infocentre.media")
PHOTO_SIDE = 1600  # long side of a kept photo: sharp on a screen, about 200-400 KB
THUMB_SIZES = (96, 160, 320, 800)  # small avatar, big avatar, list, detail

bp = Blueprint("media", __name__)


def _pillow():
    return pictures.pillow()


def store() -> Store:
    return Store(media_dir(current_app.config))


def sweep(db, *, before_ms: int | None = None) -> list[str]:
    """Delete the blobs no row names any more, and their thumbnails (``sync.media.sweep``: at
    a centre at once, at the hub once every centre has pulled the change, or those noted
    before ``before_ms``, the purge horizon); their SHA-256s."""
    return sync_media.sweep(db, current_app.extensions["infocentre"]["synced_tables"],
                            store(), before_ms=before_ms)


def sweep_after(exc=None) -> None:
    """At the end of every request and command that wrote: blobs its writes stopped naming (a
    story withdrawn, a photo removed or replaced) leave the disk now, whatever page or command
    wrote them. One read of a small table when there are none."""
    db = g.get("db")
    if db is None or exc is not None or db.conn.in_transaction:
        return
    try:
        if db.execute("SELECT 1 FROM _sync_media_orphans WHERE seq IS NULL LIMIT 1").fetchone():
            sweep(db)
    except Exception:  # never the request's failure: the next sweep tries again
        log.exception("the media no row names could not be deleted")
        if db.conn.in_transaction:
            db.conn.rollback()


def prepare_photo(data: bytes) -> bytes:
    """The photo in ``data`` ready to keep (upright, shrunk, JPEG, no metadata); KioskError,
    in the person's language, if it is not a photo we can read or is too large (issue 14:
    its size is read from its header before it is decoded, and it is decoded small)."""
    if not data:
        raise KioskError(_("Choose a photo first."))
    Image, _ops = _pillow()
    try:
        with pictures.decoding, pictures.load(data, PHOTO_SIDE) as image:
            image.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)  # then copies
            photo = _upright_rgb(image)
            out = io.BytesIO()
            photo.save(out, "JPEG", quality=85, optimize=True, progressive=True)
            del photo
    except (OSError, ValueError, SyntaxError):
        raise pictures.not_readable() from None
    return out.getvalue()


def _upright_rgb(image):
    """The image turned as its camera meant, on white where it was transparent."""
    Image, ImageOps = _pillow()
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        return flat
    return image.convert("RGB")


def add_photo(data: bytes) -> str:
    """Prepare and store a photo; its SHA-256."""
    return store().add_bytes(prepare_photo(data)).sha


def thumbnail(sha: str, size: int) -> Path:
    """A JPEG of blob ``sha`` fitting ``size`` pixels (square and cropped for the avatar
    sizes), made once and kept. FileNotFoundError if the blob is not here (yet)."""
    media = store()
    path = media.root / "thumbs" / str(size) / sha[:2] / f"{sha}.jpg"
    if path.exists():
        return path
    Image, ImageOps = _pillow()
    square = size <= 160
    with pictures.decoding, pictures.load(media.path(sha), size, cover=square) as image:
        picture = _upright_rgb(image)
        if square:
            picture = ImageOps.fit(picture, (size, size), Image.Resampling.LANCZOS)
        else:
            picture.thumbnail((size, size), Image.Resampling.LANCZOS)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f".{secrets.token_hex(6)}.part")
        picture.save(part, "JPEG", quality=80, optimize=True)
    os.replace(part, path)  # two pages asking at once both get a whole file
    return path


def photo_url(sha: str | None, size: int) -> str | None:
    """The address of a thumbnail of ``sha``, or None when there is no photo here (none set,
    or it has not arrived from the hub yet)."""
    # Plain strings: a page of 24 cards asks 24 times, and Path objects cost a tenth of it.
    if not sha or not SHA.fullmatch(sha) or not os.path.isfile(
            os.path.join(current_app.config["DATA_DIR"], "media", sha[:2], sha)):
        return None
    return f"/media/{sha}/{size}"


def avatar(person: dict, size: str = "") -> Markup:
    """A person's photo, or their initials on their colour standing in for one."""
    url = photo_url(person.get("photo"), 160 if size == "big" else 96)
    # escape() joined by hand: a class page shows sixty avatars, and Markup.format's string
    # Formatter took a tenth of the page's time.
    if url:
        return Markup(f'<img class="avatar {escape(size)}" src="{escape(url)}" alt="" '
                      'loading="lazy">')
    return Markup(f'<span class="avatar av-{escape(person["colour"])} {escape(size)}" '
                  f'aria-hidden="true">{escape(person["initials"])}</span>')


# Blobs are named by their SHA-256 and never change: browsers may keep them for a year.
MAX_AGE = 365 * 24 * 3600


@bp.get("/media/<sha>")
def original(sha: str):
    """A blob as stored (recordings play from here; the browser may ask for ranges)."""
    media = store()
    if not media.has(sha):
        abort(404)
    path = media.path(sha)
    with path.open("rb") as f:
        kind = sniff(f.read(16))
    return send_file(path, mimetype=kind or "application/octet-stream", conditional=True,
                     max_age=MAX_AGE, etag=sha)


@bp.get("/media/<sha>/<int:size>")
def thumb(sha: str, size: int):
    if size not in THUMB_SIZES or not SHA.fullmatch(sha):
        abort(404)
    try:
        path = thumbnail(sha, size)
    except (OSError, ValueError, KioskError):
        abort(404)  # not here (yet), a recording, a blob Pillow cannot read, or too large
    return send_file(path, mimetype="image/jpeg", conditional=True, max_age=MAX_AGE,
                     etag=f"{sha}-{size}")
