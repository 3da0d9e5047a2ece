"""Sound recordings recognised by what they hold, never by a file's name or the type a browser
claims: WebM and Ogg (with the codec inside: Opus, Vorbis), MP3, WAV and MP4 audio.

A voice recorded at the kiosk (the courses area's "Record the voice") must be Opus, in WebM (as
Chromium's MediaRecorder makes it) or in Ogg (as Firefox's and ``opusenc`` make it): every
browser of a centre plays it, and a minute weighs about 200 KB. Other areas (stories) accept
more kinds with ``check(data, kinds=...)``.

Imports ``kiosk.errors`` and ``kiosk.i18n`` only (messages and numbers in the person's
language); otherwise pure functions of bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import KioskError
from .i18n import _, format_number

MiB = 1024 * 1024
VOICE_LIMIT = 5 * MiB  # about twenty minutes of speech in Opus; a page is read in one
HEAD = 64 * 1024  # how far into a file its kind and codec are looked for


@dataclass(frozen=True)
class Sound:
    kind: str  # the media type the kiosk sends it with: audio/webm, audio/ogg, ...
    codec: str | None  # opus, vorbis, mp3, pcm; None when the container does not say here
    extension: str  # webm, ogg, mp3, wav, m4a

    @property
    def name(self) -> str:
        """"webm/opus", "mp3": what the kiosk calls this kind in its rules."""
        same = self.codec in (None, self.extension)
        return self.extension if same else f"{self.extension}/{self.codec}"


VOICE_KINDS = frozenset({"webm/opus", "ogg/opus"})
STORY_KINDS = frozenset({"webm/opus", "ogg/opus", "ogg/vorbis", "mp3", "wav/pcm", "webm/vorbis"})

_EBML = b"\x1a\x45\xdf\xa3"
# Matroska's CodecID element (0x86), a one-byte size, and the codec's name.
_WEBM_CODECS = {b"\x86\x86A_OPUS": "opus", b"\x86\x88A_VORBIS": "vorbis"}


def recognise(data: bytes) -> Sound | None:
    """The sound ``data`` holds (its first bytes are enough), or None if it is none we know."""
    head = data[:HEAD]
    if head.startswith(_EBML):
        if b"\x42\x82\x84webm" not in head and b"\x42\x82\x88matroska" not in head:
            return None  # EBML, but not a Matroska or WebM file
        codec = next((name for mark, name in _WEBM_CODECS.items() if mark in head), None)
        return Sound("audio/webm", codec, "webm")
    if head.startswith(b"OggS") and len(head) >= 36:
        # The first page holds one packet: the codec's identification header.
        segments = head[26]
        packet = head[27 + segments:27 + segments + 8]
        if packet.startswith(b"OpusHead"):
            return Sound("audio/ogg", "opus", "ogg")
        if packet.startswith(b"\x01vorbis"):
            return Sound("audio/ogg", "vorbis", "ogg")
        return Sound("audio/ogg", None, "ogg")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sound("audio/wav", "pcm", "wav")
    if head.startswith(b"ID3") or (len(head) > 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0
                                   and head[1] & 0x06):  # an MPEG audio frame, layer I-III
        return Sound("audio/mpeg", "mp3", "mp3")
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"mp4", b"iso", b"das"):
        return Sound("audio/mp4", None, "m4a")
    return None


def check(data, *, kinds=VOICE_KINDS, limit: int = VOICE_LIMIT) -> Sound:
    """The sound in ``data`` (bytes), if it is one of ``kinds`` and at most ``limit`` bytes;
    else KioskError saying what is wrong, in the person's language."""
    if not isinstance(data, (bytes, bytearray)):
        raise KioskError(_("No recording arrived. Record again, or choose a sound file."))
    if not data:
        raise KioskError(_("The recording is empty. Record again, a little longer."))
    if len(data) > limit:
        raise KioskError(_("The recording is too long: %(size)s MB, and %(limit)s MB at most "
                           "may be kept. Record a shorter part.",
                           size=_megabytes(len(data)), limit=_megabytes(limit)))
    sound = recognise(bytes(data[:HEAD]))
    if sound is None:
        raise KioskError(_("This file is not a sound recording. Record again here, or choose "
                           "a recording made by a browser (WebM or Ogg).") if kinds == VOICE_KINDS
                         else _("This file is not a sound recording. Record again here, or "
                                "choose a recording in Ogg, MP3, WebM or WAV."))
    if sound.name not in kinds and kinds == VOICE_KINDS:
        raise KioskError(_("This kind of sound file (%(kind)s) cannot be kept here: only "
                           "recordings in Opus (WebM or Ogg), as a browser records them. Record "
                           "the voice again here.", kind=sound.name.upper()))
    if sound.name not in kinds:
        raise KioskError(_("This kind of sound file (%(kind)s) cannot be kept here: only "
                           "recordings in Ogg, MP3, WebM or WAV.", kind=sound.name.upper()))
    return sound


def _megabytes(size: int) -> str:
    tenths = math.ceil(size * 10 / MiB) / 10  # 5 MB and 3 KB is "5.1", not "5"
    return format_number(int(tenths) if tenths == int(tenths) else tenths)


__all__ = ["STORY_KINDS", "VOICE_KINDS", "VOICE_LIMIT", "Sound", "check", "recognise"]
