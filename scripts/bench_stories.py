#!/usr/bin/env python3
"""How much a minute of recorded voice weighs, as the kiosk records it.

    python scripts/bench_stories.py [--json] [--seconds 60]

Chromium (Debian's, headless) records with MediaRecorder exactly as the kiosk's recorder does
(``kiosk/static/js/recorder.js``: WebM/Opus, 32 kbit/s asked), for ``--seconds`` of wall time,
from two microphones: Chromium's fake device (a beep each second) and a file of speech played as
the microphone (the demo's recorded voices, decoded with PyAV and looped). The page is served on
127.0.0.1 by this script. Figures: bytes of the recording, bytes per minute, and the time a
5-minute story of that weight needs at 64 kbit/s at the very least. The time a 5-minute story
really takes to reach the hub over the emulated rural link is `bash scripts/bench_link.sh
--runs story` (it makes network namespaces, so it needs root).

Needs Playwright and Chromium (``scripts/test`` installs them) and PyAV (the hub's extra) for
the speech file; without PyAV only the fake device is measured.
"""

from __future__ import annotations

import argparse
import http.server
import json
import re
import sys
import tempfile
import threading
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATE_KBIT = 64
SPEECH = sorted((ROOT / "content" / "demo" / "voices").glob("*.ogg"))
RECORDER = ROOT / "kiosk" / "static" / "js" / "recorder.js"
GOAL_BYTES_PER_MINUTE = 300 * 1024  # the kiosk's promise: about 200 KB a minute (kiosk/audio.py)

PAGE = """<!doctype html><meta charset="utf-8"><title>record</title><script>
async function record(seconds, bits) {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const type = "audio/webm;codecs=opus";
  const recorder = new MediaRecorder(stream, {mimeType: type, audioBitsPerSecond: bits});
  const parts = [];
  recorder.ondataavailable = (e) => { if (e.data.size) parts.push(e.data); };
  const done = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start(1000);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recorder.stop();
  await done;
  stream.getTracks().forEach((t) => t.stop());
  const blob = new Blob(parts, {type: "audio/webm"});
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  return {size: blob.size, data: btoa(text)};
}
</script>"""


def recorder_bitrate() -> int:
    """The bit rate the kiosk's recorder asks for (read from its script, so the figure follows
    it); 32,000 when the script does not say."""
    for path in (RECORDER, ROOT / "kiosk" / "static" / "js" / "voices.js"):
        if path.exists():
            found = re.search(r"audioBitsPerSecond:\s*(\d+)", path.read_text())
            if found:
                return int(found.group(1))
    return 32000


def speech_wav(target: Path, seconds: float) -> Path | None:
    """The demo's voices, decoded and looped to ``seconds``, as 48 kHz mono 16-bit WAV (what
    Chromium plays as a fake microphone); None without PyAV."""
    try:
        import av
    except ImportError:
        return None
    pcm = bytearray()
    for path in SPEECH:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    pcm += bytes(out.planes[0])[:out.samples * 2]
        pcm += bytes(48000 * 2 // 2)  # half a second of silence between sentences
    if not pcm:
        return None
    wanted = int(seconds * 48000) * 2
    looped = (bytes(pcm) * (wanted // len(pcm) + 1))[:wanted]
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(looped)
    return target


def five_minute_story(target: Path, bits: int = 32000, seconds: int = 300) -> Path | None:
    """A 5-minute story as the kiosk's recorder makes one (WebM/Opus at ``bits``), encoded by
    PyAV from the looped demo voices; None without PyAV."""
    try:
        import av
    except ImportError:
        return None
    wav = speech_wav(target.with_suffix(".wav"), seconds)
    if wav is None:
        return None
    with av.open(str(wav)) as source, av.open(str(target), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        stream.bit_rate = bits
        for frame in source.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    wav.unlink()
    return target


def record(seconds: int, bits: int, wav: Path | None) -> tuple[int, bytes]:
    """One recording of ``seconds`` in Chromium; (size, bytes)."""
    import base64

    from playwright.sync_api import sync_playwright

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required"]
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            result = page.evaluate("([s, b]) => record(s, b)", [seconds, bits])
            browser.close()
    finally:
        server.shutdown()
    return result["size"], base64.b64decode(result["data"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=int, default=60, help="length of each recording")
    parser.add_argument("--keep", help="write the speech recording to this file")
    args = parser.parse_args()
    bits = recorder_bitrate()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="bench-stories-") as tmp:
        wav = speech_wav(Path(tmp) / "speech.wav", args.seconds + 10)
        sources = {"fake device (beeps)": None}
        if wav is not None:
            sources["speech (the demo's voices)"] = wav
        for name, source in sources.items():
            size, data = record(args.seconds, bits, source)
            per_minute = size * 60 / args.seconds
            runs[name] = {"seconds": args.seconds, "bytes": size,
                          "bytes_per_minute": round(per_minute),
                          "five_minutes_bytes": round(per_minute * 5),
                          "five_minutes_at_64_kbit_s": round(per_minute * 5 * 8 /
                                                             (RATE_KBIT * 1000), 1)}
            if args.keep and source is not None:
                Path(args.keep).write_bytes(data)
    speech = runs.get("speech (the demo's voices)") or runs["fake device (beeps)"]
    figures = {"recorder_bits_per_second": bits, "runs": runs,
               "goal": f"≤ {GOAL_BYTES_PER_MINUTE:,} bytes per minute of speech",
               "met": speech["bytes_per_minute"] <= GOAL_BYTES_PER_MINUTE}
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    print(f"Chromium MediaRecorder, WebM/Opus, {bits:,} bit/s asked (the kiosk's recorder)")
    print(f"{'microphone':<28} {'seconds':>8} {'bytes':>10} {'bytes/min':>10} "
          f"{'5 min':>10} {'5 min at 64 kbit/s':>19}")
    for name, run in runs.items():
        print(f"{name:<28} {run['seconds']:>8} {run['bytes']:>10,} {run['bytes_per_minute']:>10,} "
              f"{run['five_minutes_bytes']:>10,} {run['five_minutes_at_64_kbit_s']:>17} s")
    print(f"goal: {figures['goal']}: {'met' if figures['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
