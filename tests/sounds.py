"""Real sound for tests, made with PyAV: tones and noise at a chosen level, encoded as Opus, MP3
or WAV; and a loudness meter of our own (ITU-R BS.1770-4: K-weighting, 400 ms blocks, the
absolute and relative gates) in plain Python, so a test measures the radio export without the
FFmpeg meter the export itself uses."""

from __future__ import annotations

import array
import io
import math
import random

RATE = 48_000

# BS.1770's K-weighting at 48 kHz: a high shelf (the head), then a high-pass (RLB).
SHELF = ((1.53512485958697, -2.69169618940638, 1.19839281085285),
         (-1.69065929318241, 0.73248077421585))
HIGH_PASS = ((1.0, -2.0, 1.0), (-1.99004745483398, 0.99007225036621))


def signal(seconds: float, level_db: float, *, kind: str = "tone", freq: float = 440.0,
           seed: int = 1) -> list[float]:
    """Samples at 48 kHz whose peak is ``level_db`` dBFS: a sine, noise, or ``bursts`` (speech-
    like: noise that comes and goes, and a click every half second, far louder than the rest:
    brought to -16 LUFS, the clicks would clip without a limiter)."""
    peak = 10 ** (level_db / 20)
    rnd = random.Random(seed)
    n = int(seconds * RATE)
    if kind == "tone":
        return [peak * math.sin(2 * math.pi * freq * i / RATE) for i in range(n)]
    out = []
    for i in range(n):
        x = max(-1.0, min(1.0, rnd.gauss(0, 0.25)))
        if kind == "bursts":
            x *= 0.25 if (i // (RATE // 4)) % 3 == 0 else 0.03  # loud a quarter second in three
            x = 1.0 if i % (RATE // 2) == RATE // 4 else x
        out.append(peak * x)
    return out


def encode(samples: list[float], kind: str) -> bytes:
    """The samples as a file: ``ogg`` (Opus), ``mp3`` or ``wav`` (16-bit PCM)."""
    import av

    fmt, codec = {"ogg": ("ogg", "libopus"), "mp3": ("mp3", "libmp3lame"),
                  "wav": ("wav", "pcm_s16le")}[kind]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=RATE)
        stream.layout = "mono"
        step = 960
        for start in range(0, len(samples), step):
            part = samples[start:start + step]
            frame = av.AudioFrame(format="s16", layout="mono", samples=len(part))
            frame.planes[0].update(array.array(
                "h", (int(max(-1.0, min(1.0, x)) * 32767) for x in part)).tobytes())
            frame.sample_rate = RATE
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def decode(data: bytes) -> list[float]:
    """Any sound file as 48 kHz mono samples."""
    import av

    samples = array.array("f")
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    with av.open(io.BytesIO(data)) as source:
        for frame in source.decode(audio=0):
            for out in resampler.resample(frame):
                samples.frombytes(bytes(out.planes[0])[:out.samples * 4])
        for out in resampler.resample(None):
            samples.frombytes(bytes(out.planes[0])[:out.samples * 4])
    return list(samples)


def _biquad(samples, coefficients):
    (b0, b1, b2), (a1, a2) = coefficients
    x1 = x2 = y1 = y2 = 0.0
    out = []
    for x in samples:
        y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, x, y1, y
        out.append(y)
    return out


def loudness(samples: list[float]) -> float:
    """Integrated loudness in LUFS of 48 kHz mono samples (BS.1770-4); -inf for silence."""
    weighted = _biquad(_biquad(samples, SHELF), HIGH_PASS)
    block, step = RATE * 4 // 10, RATE // 10  # 400 ms blocks, overlapping by 75 %
    squares = [0.0]
    for x in weighted:
        squares.append(squares[-1] + x * x)
    powers = [(squares[i + block] - squares[i]) / block
              for i in range(0, len(weighted) - block + 1, step)]

    def lufs(power):
        return -0.691 + 10 * math.log10(power) if power > 0 else -math.inf

    gated = [p for p in powers if lufs(p) > -70]
    if not gated:
        return -math.inf
    relative = lufs(sum(gated) / len(gated)) - 10
    kept = [p for p in gated if lufs(p) > relative]
    return lufs(sum(kept) / len(kept))
