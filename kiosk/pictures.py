"""Pictures decoded within bounds: a photo's size is read from its header before any pixel is
decoded, JPEGs are decoded at a reduced scale, and one picture is decoded at a time.

Issue 14: a 48 KB palette PNG of 7000 × 7000 pixels took the server to 744 MB, a 100 KB WebP
of 16383 × 3000 to 1 GB, six at once to 2 GB. A kiosk keeps photos 1600 pixels wide at most and
shows thumbnails, so nothing needs more than these limits. Pure: Pillow and kiosk.i18n/errors,
no Flask (course packs use it too).
"""

from __future__ import annotations

import ctypes
import functools
import io
import threading
import warnings

from .errors import KioskError
from .i18n import _

# JPEG is decoded at 1/2 to 1/8 of its size (libjpeg's scaling), so a 50-megapixel phone photo
# costs about 3 megapixels; PNG and WebP are decoded whole, at 4 bytes a pixel and a copy.
MAX_PIXELS = 50_000_000
MAX_PLAIN_PIXELS = 3_000_000  # 2000 × 1500: such a WebP costs 70 MB to decode and shrink
FORMATS = ("JPEG", "PNG", "WEBP")
# One picture at a time in a process, from its decoding to its saving (callers hold it around
# all of that): six at once cost six times as much.
decoding = threading.RLock()


@functools.cache
def pillow():
    """Pillow, imported the first time a picture is handled: every command and every server
    start would otherwise pay for it (18 ms of a 260 ms start)."""
    from PIL import Image, ImageOps

    _give_back_big_blocks()
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns beyond this, and refuses beyond twice
    return Image, ImageOps


def _give_back_big_blocks() -> None:
    """Have glibc return a picture's memory to the system when it is freed.

    glibc serves blocks of 128 KB or more with mmap, given back on free, but raises that
    threshold to the size of each such block freed, up to 32 MB: from then on Pillow's 16 MB
    blocks come from the heap of each server thread and stay with it (six pictures, decoded one
    at a time on four threads, still left 330 MB behind). A fixed threshold stops the rise.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 1024 * 1024)  # M_MMAP_THRESHOLD (malloc.h)
    except (OSError, AttributeError):
        pass  # not glibc: its allocator has its own ways


def not_readable() -> KioskError:
    return KioskError(_("This file is not a photo we can read. Choose a JPEG, PNG or WebP "
                        "photo."))


def too_large(image_format: str = "") -> KioskError:
    """In the person's language: this photo is too large, and what the largest accepted is."""
    if image_format == "JPEG":
        largest = _("The largest photo we accept has %(limit)d million pixels.",
                    limit=MAX_PIXELS // 1_000_000)
    else:
        largest = _("The largest PNG or WebP photo we accept has %(limit)d million pixels (a "
                    "JPEG photo, %(jpeg)d million).", limit=MAX_PLAIN_PIXELS // 1_000_000,
                    jpeg=MAX_PIXELS // 1_000_000)
    return KioskError(_("This photo is too large to use. Take it again at a smaller size.")
                      + " " + largest)


def check(image) -> None:
    """KioskError unless ``image`` (opened, not decoded) is a photo within the limits."""
    if image.format not in FORMATS:
        raise not_readable()
    limit = MAX_PIXELS if image.format == "JPEG" else MAX_PLAIN_PIXELS
    if image.width * image.height > limit:
        raise too_large(image.format)


def check_file(f) -> None:
    """KioskError unless the picture in binary file ``f`` is a photo within the limits (only
    its header is read)."""
    Image, _ops = pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as image:
                check(image)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_large() from None  # Pillow refuses before it says the format
    except (OSError, ValueError, SyntaxError):
        raise not_readable() from None


def load(source, side: int, cover: bool = False):
    """The picture in ``source`` (bytes, or a path), decoded small: its long side (its short
    side if ``cover``) at least ``side`` pixels unless smaller, and less than twice that where
    the format allows. KioskError if it is not a photo within the limits; the caller closes
    the image returned."""
    measure = min if cover else max
    Image, _ops = pillow()
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    with decoding:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(source)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise too_large() from None
        except (OSError, ValueError, SyntaxError):
            raise not_readable() from None
        try:
            check(image)
            width, height = image.size
            scale = max(1, measure(width, height) // side)
            # JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 of the size directly.
            image.draft("RGB", (max(1, width // scale), max(1, height // scale)))
            image.load()
            if image.mode not in ("L", "LA", "RGB", "RGBA"):  # palette, 16 bits, CMYK: what
                image = _replace(image, image.convert(  # resizes well and reduces
                    "RGBA" if image.has_transparency_data else "RGB"))
            factor = max(1, measure(image.size) // side)
            if factor > 1:  # shrunk before anything else is made of it
                image = _replace(image, image.reduce(factor))
            return image
        except KioskError:
            image.close()
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            image.close()
            raise not_readable() from None


def _replace(old, new):
    """``new``, with ``old`` closed now: its pixels are freed before the next step."""
    old.close()
    return new
