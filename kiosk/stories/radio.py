"""The radio export: every approved ``public`` story's recording, decoded, its loudness brought
to -16 LUFS integrated (EBU R128 / ITU-R BS.1770), encoded in one format, in a ZIP with a
playlist. Imports the area's models and ``export`` (the ZIP's writing), ``kiosk.data``,
``kiosk.errors`` and ``kiosk.i18n``; PyAV (the hub's extra) only when an export runs.

One format for every file: MP3, 48 kHz, mono, 128 kbit/s constant bit rate. Community radios
play out from whatever their studio PC runs (ZaraRadio, RadioDJ, Rivendell, a plain media
player), and every one of them plays MP3; Opus would be smaller, but older playout software
does not read it. Stories are one voice, so mono loses nothing; 48 kHz is the rate the loudness
meter works at, so nothing is resampled twice.

Loudness: a first pass measures the recording with FFmpeg's ``ebur128`` meter; the second
applies the gain that brings it to -16 LUFS and a limiter that keeps peaks under -1 dBFS (a
quiet recording with a loud cough would otherwise clip), and encodes. The MP3 written is then
measured as a listener's player decodes it, and encoded again with the difference when the
limiter or the encoder moved it by more than a third of a unit (a pure tone loses 0.4 in MP3).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable

from sqlite_utils import Database

from ..data import fetch, iso, reading
from ..errors import KioskError
from ..i18n import _
from .export import file_stem, finish_zip, start_zip

TARGET_LUFS = -16.0
CEILING_DB = -1.0  # peaks the limiter lets through, dBFS
TOLERANCE_LU = 0.3  # off by more, the file is encoded again with the difference
ATTEMPTS = 3
MAX_GAIN_DB = 40.0  # a silent recording is not made into a roar of hiss
RATE = 48_000
BIT_RATE = 128_000
FORMAT = {"codec": "libmp3lame", "extension": "mp3", "type": "audio/mpeg"}

Progress = Callable[[int, int], None]


def _av():
    """PyAV, imported only when audio is decoded: centres do without it."""
    try:
        import av
    except ImportError:
        raise KioskError(_("The radio export needs PyAV, which is not installed here: install "
                           "the hub's extra (pip install 'infocentre[hub]').")) from None
    return av


def available() -> bool:
    try:
        _av()
    except KioskError:
        return False
    return True


def _run(av, path: Path, chain: list[tuple[str, str]], each=None) -> dict:
    """Decode ``path`` through the filters ``chain`` and the ``ebur128`` meter, calling
    ``each(frame)`` with every frame out of them; returns the meter's last readings."""
    from av.filter import Graph

    with av.open(str(path)) as source:
        if not source.streams.audio:
            raise ValueError("no sound")
        stream = source.streams.audio[0]
        graph = Graph()
        nodes = [graph.add_abuffer(template=stream)]
        for name, args in [*chain, ("ebur128", "metadata=1:peak=true")]:
            nodes.append(graph.add(name, args))
        nodes.append(graph.add("abuffersink"))
        for a, b in zip(nodes, nodes[1:]):
            a.link_to(b)
        graph.configure()
        readings: dict = {}

        def drain():
            nonlocal readings
            while True:
                try:
                    frame = graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                readings = dict(frame.metadata)
                if each:
                    each(frame)

        for frame in source.decode(stream):
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
    return readings


def _lufs(readings: dict) -> float | None:
    """Integrated loudness from the meter's readings; None for silence."""
    value = float(readings.get("lavfi.r128.I", "-inf"))
    return value if math.isfinite(value) and value > -70 else None


MONO = [("aresample", f"{RATE}"), ("aformat", "sample_fmts=flt:channel_layouts=mono")]


def measure(path: Path) -> float | None:
    """The integrated loudness of the recording at ``path``, in LUFS (None: silent)."""
    return _lufs(_run(_av(), path, MONO))


def normalise(source: Path, target: Path, *, title: str = "", artist: str = "") -> dict:
    """Write ``source`` to ``target`` as MP3 at -16 LUFS; returns {"before", "after",
    "seconds"} (loudness in LUFS, None when silent). ValueError or FFmpeg's error if it is
    not sound."""
    av = _av()
    before = _lufs(_run(av, source, MONO))
    gain = 0.0 if before is None else min(MAX_GAIN_DB, TARGET_LUFS - before)
    for _attempt in range(ATTEMPTS):
        seconds = _encode(av, source, target, gain, title=title, artist=artist)
        after = _lufs(_run(av, target, MONO))
        if before is None or after is None or abs(after - TARGET_LUFS) <= TOLERANCE_LU \
                or gain >= MAX_GAIN_DB:
            break
        gain = min(MAX_GAIN_DB, gain + TARGET_LUFS - after)
    return {"before": before, "after": after, "seconds": seconds}


def _encode(av, source: Path, target: Path, gain: float, *, title: str, artist: str) -> float:
    """Encode ``source`` with ``gain`` dB and the limiter; its length in seconds."""
    ceiling = 10 ** (CEILING_DB / 20)
    chain = [*MONO, ("volume", f"{gain:.3f}dB"),
             ("alimiter", f"limit={ceiling:.4f}:attack=5:release=50:level=0")]
    samples = 0
    with av.open(str(target), "w", format="mp3") as out:
        out.metadata.update({k: v for k, v in (("title", title), ("artist", artist)) if v})
        stream = out.add_stream(FORMAT["codec"], rate=RATE)
        stream.layout = "mono"
        stream.bit_rate = BIT_RATE

        def each(frame):
            nonlocal samples
            samples += frame.samples
            frame.pts = None  # the encoder numbers the frames it makes
            for packet in stream.encode(frame):
                out.mux(packet)

        _run(av, source, chain, each)
        for packet in stream.encode(None):
            out.mux(packet)
    return samples / RATE


# The export.


def radio_stories(db: Database) -> list[dict]:
    """The stories the radio may broadcast: approved, ``public``, with a recording; oldest
    first, as a playlist is listened to."""
    return fetch(db, "SELECT s.id, s.title, s.teller_name, s.village, s.year, s.decade, "
                     "s.lang, s.audio, s.audio_kind, s.centre_id, (SELECT name FROM centres "
                     "WHERE id = s.centre_id) AS centre_name FROM stories s WHERE "
                     "s.status = 'approved' AND s.consent = 'public' AND s.audio IS NOT NULL "
                     "ORDER BY s.created_at, s.id")


def export_radio(db: Database, store, target: Path, *, now: dt.datetime,
                 progress: Progress | None = None) -> dict:
    """Write the radio ZIP to ``target`` (replaced whole when done, never half-written): one
    MP3 per story at -16 LUFS named after it, ``playlist.m3u8`` and ``radio.json``. Returns
    {"stories", "skipped": [{"id", "title", "reason"}], "bytes"}."""
    av = _av()  # before anything is written: one clear line when PyAV is missing
    del av
    with reading(db):
        stories = radio_stories(db)
    total = len(stories)
    done, skipped, entries, names = 0, [], [], set()
    part, archive = start_zip(target)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".radio-") as work:
            for story in stories:
                if progress:
                    progress(done, total)
                done += 1
                if not store.has(story["audio"]):
                    skipped.append({"id": story["id"], "title": story["title"],
                                    "reason": "missing"})
                    continue
                name = file_stem(story, names) + "." + FORMAT["extension"]
                encoded = Path(work) / name
                try:
                    result = normalise(store.path(story["audio"]), encoded,
                                       title=story["title"], artist=story["teller_name"])
                except (ValueError, OSError, _av().error.FFmpegError):
                    skipped.append({"id": story["id"], "title": story["title"],
                                    "reason": "unreadable"})
                    continue
                archive.write(encoded, name, compress_type=zipfile.ZIP_STORED)
                os.unlink(encoded)
                entries.append({"id": story["id"], "file": name, "title": story["title"],
                                "teller": story["teller_name"], "village": story["village"],
                                "centre": story["centre_name"] or story["centre_id"],
                                "seconds": round(result["seconds"], 1),
                                "loudness_before": _rounded(result["before"]),
                                "loudness": _rounded(result["after"])})
            archive.writestr("playlist.m3u8", _playlist(entries),
                             compress_type=zipfile.ZIP_DEFLATED)
            archive.writestr("radio.json", json.dumps(
                {"exported_at": iso(now), "format": {**FORMAT, "sample_rate": RATE,
                                                     "channels": 1, "bit_rate": BIT_RATE},
                 "loudness_target": TARGET_LUFS, "stories": entries, "skipped": skipped},
                ensure_ascii=False, indent=1), compress_type=zipfile.ZIP_DEFLATED)
    except BaseException:
        archive.close()
        part.unlink(missing_ok=True)
        raise
    size = finish_zip(archive, part, target)
    if progress:
        progress(total, total)
    return {"stories": len(entries), "skipped": skipped, "bytes": size}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _playlist(entries: list[dict]) -> str:
    """An extended M3U playlist in UTF-8: each file with its length and "teller - title"."""
    lines = ["#EXTM3U"]
    for entry in entries:
        label = " - ".join(x for x in (entry["teller"], entry["title"]) if x)
        label = " ".join(label.split())  # one line, whatever was typed
        lines += [f"#EXTINF:{round(entry['seconds'])},{label}", entry["file"]]
    return "\n".join(lines) + "\n"


__all__ = ["FORMAT", "TARGET_LUFS", "available", "export_radio", "measure", "normalise",
           "radio_stories"]
