#!/usr/bin/env python3
"""Measure syncing over an emulated rural link: 64 kbit/s, 300 ms each way, 2 % loss.

    bash scripts/bench_link.sh [--json] [--tcp reno]   (root: it makes namespaces)

The hub and the centre each run in a network namespace of their own, joined by a veth pair, so
that both directions cross the link and nothing of this machine's own network is touched. This
kernel has no netem, so each namespace shapes its own egress: `tc tbf` for the rate, an nftables
`numgen random` rule for the loss, and for the delay an NFQUEUE helper (this file with --delay)
that holds every packet 300 ms. The helper also counts the TCP payload each end puts on the wire
once (TCP's own retransmissions apart): "sent twice" below is measured there, not estimated.

Three runs, each as the real `infocentre sync now` process, each with its own hub and centre
(rows are region-wide: a second centre of the same hub would pull the first one's photos):
  transfer     500 records and 10 photos of 100 KiB pushed through the link: seconds, bytes on
               the wire (veth counters, both directions, headers and resends included) and the
               ratio to the physical limit, (gzip size of the rows as JSON + photo bytes) × 8
               ÷ 64,000 seconds;
  interrupted  500 records and 2 photos, first synced whole (the baseline), then on a fresh
               hub and centre cut off (every packet dropped, both ways) once half the
               baseline's bytes have left the centre; once that sync gives up, the link comes
               back and the sync runs again. Sent twice = what the cut and resumed runs put on
               the wire − what the baseline did (headers and the resumed sync's questions
               included); also as the centre's reports count it (rows, photo bytes);
  loss30       500 records and 2 photos with 30 % loss each way, syncing again at once after
               each failed attempt (as the daemon does, without its waits) until it completes;
  story        a five-minute story recorded at a centre (WebM/Opus, as the kiosk records it;
               made with PyAV, the hub's extra, from the demo's voices) sent to the hub.
`--runs story` (comma-separated) runs only some. Every run stops after 15 minutes. With --json,
one object: {"link", "transfer", "interrupted", "loss30", "story", "goals", "met"}; where
namespaces cannot be made, {"skipped": why} (exit 0).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import bench_area  # noqa: E402
from bench_sync import environment  # noqa: E402
from local_server import command, log  # noqa: E402

from sync.media import CHUNK, Store  # noqa: E402

RATE_KBIT, DELAY_MS, LOSS_PCT, HARD_LOSS_PCT = 64, 300, 2, 30
CAP = 15 * 60  # seconds, each run
TIMEOUT = 60  # INFOCENTRE_SYNC_TIMEOUT (the default): a 64 KiB chunk takes ~9 s on this link
RESUME_OVERHEAD = 2048  # a resumed sync's own questions and one chunk's headers, in the goal
PHOTO_BYTES = 100 * 1024
CONGESTION = "/proc/sys/net/ipv4/tcp_congestion_control"
HUB_ADDR, NODE_ADDR = "10.77.0.1", "10.77.0.2"  # only inside the namespaces made here
GOALS = (f"transfer ≤ 1.5 × the physical limit; an interrupted run sends at most one chunk "
         f"({CHUNK:,} bytes, + {RESUME_OVERHEAD:,} of headers and questions) twice; with "
         f"{HARD_LOSS_PCT} % loss the sync completes; a 5-minute story reaches the hub within "
         f"1.5 × the physical limit; each run within {CAP // 60} minutes")


def sh(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(args, input=stdin, check=True, capture_output=True, text=True).stdout


class Link:
    """Two namespaces, centre and hub, joined by one veth pair whose ends are both called
    `wan`. Each namespace shapes its own egress, so upload and download both see the link.

    Netfilter order on the way out: the cut (priority -100, before the helper counts), the
    helper's queue (iptables, priority 0), the loss (priority 10: a lost packet was sent)."""

    def __init__(self, prefix: str, tmp: Path, tcp: str | None = None):
        self.ns = {"node": f"{prefix}-node", "hub": f"{prefix}-hub"}
        self.tcp = tcp  # congestion control: the machine's unless given
        self.tmp = tmp
        self.helpers: dict[str, subprocess.Popen] = {}
        self.made: list[str] = []
        self.is_cut = False

    def __enter__(self) -> Link:
        try:
            self._up()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _up(self) -> None:
        for ns in self.ns.values():
            sh("ip", "netns", "add", ns)
            self.made.append(ns)
        node, hub = self.ns["node"], self.ns["hub"]
        sh("ip", "-n", node, "link", "add", "wan", "type", "veth", "peer", "name", "wan",
           "netns", hub)
        for side, addr in (("node", NODE_ADDR), ("hub", HUB_ADDR)):
            ns = self.ns[side]
            sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "wan")
            # One packet per segment through netfilter and tbf: each is lost or delayed alone.
            sh("ip", "-n", ns, "link", "set", "wan", "gso_max_segs", "1", "up")
            if self.tcp:  # a namespace may choose among the "allowed" ones only
                sh("ip", "netns", "exec", ns, "sh", "-c", f"echo {self.tcp} > {CONGESTION}")
            self.tcp = sh("ip", "netns", "exec", ns, "cat", CONGESTION).strip()
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            # A queue of about one bandwidth × delay: a small modem's buffer.
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "wan", "root", "tbf",
               "rate", f"{RATE_KBIT}kbit", "burst", "1600", "latency", "500ms")
            self.helpers[side] = self._helper(side)
            sh("ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-o", "wan", "-j",
               "NFQUEUE", "--queue-num", "1")
        self.set_loss(LOSS_PCT)

    def _helper(self, side: str) -> subprocess.Popen:
        """The delay helper of one side, once it holds the queue (a queue without a reader
        drops every packet)."""
        stats = self.tmp / f"delay-{side}.json"
        helper = subprocess.Popen(
            ["ip", "netns", "exec", self.ns[side], sys.executable, __file__, "--delay",
             f"1,{DELAY_MS},{stats}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while not stats.exists():
            if helper.poll() is not None or time.monotonic() > deadline:
                helper.kill()
                raise SystemExit(f"the delay helper did not start: {helper.stderr.read()}")
            time.sleep(0.05)
        return helper

    def set_loss(self, percent: int) -> None:
        """Drop ``percent`` % of the packets each side sends (replacing the rule before)."""
        for ns in self.ns.values():
            sh("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=(
                "table inet emu {}\ndelete table inet emu\ntable inet emu {\n"
                "  chain out { type filter hook output priority 10; "
                f'oifname "wan" numgen random mod 100 < {percent} counter drop; }}\n}}\n'))

    def cut(self) -> None:
        """Drop everything both ways, also what the helpers still hold."""
        for ns in self.ns.values():
            sh("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=(
                "table inet cut {\n"
                '  chain out { type filter hook output priority -100; oifname "wan" drop; }\n'
                '  chain post { type filter hook postrouting priority 0; oifname "wan" drop; }\n'
                '  chain inp { type filter hook input priority -100; iifname "wan" drop; }\n'
                "}\n"))
        self.is_cut = True

    def restore(self) -> None:
        if self.is_cut:
            for ns in self.ns.values():
                sh("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "cut")
            self.is_cut = False

    def counters(self) -> dict:
        """Bytes each side has put on the wire (veth, frames whole) and sent as TCP payload
        (the helper; TCP's retransmissions apart, counted in ``resent``)."""
        out = {}
        for side, ns in self.ns.items():
            link = json.loads(sh("ip", "-n", ns, "-s", "-j", "link", "show", "dev", "wan"))[0]
            stats = link.get("stats64") or link["stats"]
            helper = json.loads((self.tmp / f"delay-{side}.json").read_text())
            out[side] = {"wire": stats["tx"]["bytes"], "payload": helper["payload"],
                         "resent": helper["resent"]}
        return out

    def close(self) -> None:
        for helper in self.helpers.values():
            if helper.poll() is None:
                helper.terminate()
                try:
                    helper.wait(10)
                except subprocess.TimeoutExpired:
                    helper.kill()
                    helper.wait()
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made.clear()


def photo(seed: int, size: int = PHOTO_BYTES) -> bytes:
    """A JPEG of exactly ``size`` bytes that does not compress, like a real photo on the wire:
    seeded noise at the highest quality that fits, topped up with a comment of noise."""
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (320, 320), rng.randbytes(320 * 320 * 3))
    for quality in range(95, 50, -1):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        data = out.getvalue()
        pad = size - len(data) - 4
        if 0 <= pad <= 65533:
            break
    else:
        raise SystemExit(f"no noisy JPEG of {size} bytes")
    comment = b"\xff\xfe" + (pad + 2).to_bytes(2, "big") + rng.randbytes(pad)
    return data[:2] + comment + data[2:]


class Site:
    """One hub and one centre for one run: the hub serves in the hub's namespace, the centre
    syncs in its own, so every request crosses the link."""

    def __init__(self, link: Link, tmp: Path, name: str, port: int, env: dict | None = None):
        self.link, self.name, self.port = link, name, port
        self.env = env or environment()
        self.hub, self.node = tmp / f"{name}-hub", tmp / f"{name}-node"
        self.server: subprocess.Popen | None = None

    def run(self, data_dir: Path, *args: str) -> str:
        return subprocess.run([*command(), "--data-dir", str(data_dir), *args],
                              env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def start(self) -> Site:
        self.run(self.hub, "init", "--role", "hub", "--name", f"Hub {self.name}")
        made = json.loads(self.run(self.hub, "hub", "add-node", self.name, "--json"))
        self.run(self.node, "init", "--role", "node", "--name", self.name, "--hub",
                 f"http://{HUB_ADDR}:{self.port}", "--token", made["token"])
        self.node_id = made["node_id"]
        log_path = self.hub / "server.log"
        with log_path.open("w") as log_file:  # a pipe nobody reads would block the server
            self.server = subprocess.Popen(
                ["ip", "netns", "exec", self.link.ns["hub"], *command(), "--data-dir",
                 str(self.hub), "serve", "--host", HUB_ADDR, "--port", str(self.port)],
                env=self.env, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while f":{self.port}/" not in log_path.read_text():  # printed once it listens
            if self.server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the hub did not start: {log_path.read_text()}")
            time.sleep(0.1)
        first = self.sync()  # the hub's centres rows: the measured runs carry only records
        if first["status"] != "synced":
            raise SystemExit(f"the first sync of {self.name} failed: {first['message']}")
        return self

    def stop(self) -> None:
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(15)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    def add(self, records: int, photos: int, seed: int) -> dict:
        """``records`` seeded records, the first ``photos`` listings with a photo each; their
        payload: the gzip size of the rows as JSON (like bench_sync.py) and the photo bytes."""
        rng = random.Random(seed)
        rows = list(bench_area.records(records, self.node_id, seed))
        store = Store(self.node / "media")
        listings = [row for table, row in rows if table == "bench_listings"][:photos]
        for row in listings:
            row["photo"] = store.add_bytes(photo(rng.getrandbits(32))).sha
        with sqlite3.connect(self.node / "infocentre.db") as db:
            for table in {t for t, _ in rows}:
                batch = [r for t, r in rows if t == table]
                columns = sorted({c for r in batch for c in r})
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                    f"({', '.join('?' * len(columns))})", [[r.get(c) for c in columns]
                                                           for r in batch])
        plain = json.dumps([r for _, r in rows], ensure_ascii=False).encode()
        return {"records": records, "photos": photos, "gzip_json_bytes": len(gzip.compress(
            plain, 6)), "photo_bytes": photos * PHOTO_BYTES}

    def sync(self, cap: float = CAP, on_tick=None) -> dict:
        """One `infocentre sync now` in the centre's namespace, stopped after ``cap`` seconds;
        ``on_tick(seconds, bytes the centre has sent)`` is called ten times a second."""
        env = dict(self.env)
        env["INFOCENTRE_SYNC_TIMEOUT"] = str(TIMEOUT)
        before = self.link.counters()
        started = time.monotonic()
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.link.ns["node"], *command(), "--data-dir",
             str(self.node), "sync", "now", "--json"], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        timed_out = False
        try:
            while process.poll() is None:
                seconds = time.monotonic() - started
                if seconds > cap:
                    timed_out = True
                    break
                if on_tick:
                    sent = self.link.counters()["node"]["payload"] - before["node"]["payload"]
                    on_tick(seconds, sent)
                time.sleep(0.1)
        finally:  # the cap, or this driver stopped: no sync left behind in a namespace
            if process.poll() is None:
                process.kill()
        out, err = process.communicate()
        seconds = time.monotonic() - started
        time.sleep(DELAY_MS / 1000 + 0.3)  # the helpers' last packets and counts
        after = self.link.counters()
        try:
            report = json.loads(out)
        except ValueError:
            report = {"status": "error"}
        return {
            "status": "timed out" if timed_out else report["status"],
            "exit": process.returncode,
            "seconds": round(seconds, 1),
            "wire_up": after["node"]["wire"] - before["node"]["wire"],
            "wire_down": after["hub"]["wire"] - before["hub"]["wire"],
            "payload_up": after["node"]["payload"] - before["node"]["payload"],
            "payload_down": after["hub"]["payload"] - before["hub"]["payload"],
            "tcp_resent": sum(after[s]["resent"] - before[s]["resent"] for s in after),
            **{k: report.get(k) for k in ("sent", "requests", "blobs_sent", "blob_bytes_sent")},
            "message": err.strip().splitlines()[-1] if err.strip() else None,
        }


def transfer(link: Link, tmp: Path) -> dict:
    site = Site(link, tmp, "transfer", 8001).start()
    try:
        made = site.add(500, 10, seed=1)
        log("transfer: 500 records and 10 photos through the link ...")
        run = site.sync()
    finally:
        site.stop()
    payload = made["gzip_json_bytes"] + made["photo_bytes"]
    limit = payload * 8 / (RATE_KBIT * 1000)
    wire = run["wire_up"] + run["wire_down"]
    return {**made, "payload_bytes": payload, "limit_seconds": round(limit, 1), **run,
            "wire_bytes": wire, "ratio": round(run["seconds"] / limit, 2),
            "wire_per_payload": round(wire / payload, 2)}


def interrupted(link: Link, tmp: Path) -> dict:
    site = Site(link, tmp, "baseline", 8002).start()
    try:
        made = site.add(500, 2, seed=2)
        log("interrupted: 500 records and 2 photos, whole (the baseline) ...")
        baseline = site.sync()
    finally:
        site.stop()
    if baseline["status"] != "synced":
        return {**made, "baseline": baseline, "sent_twice_bytes": None}
    site = Site(link, tmp, "cut", 8003).start()
    cut_at = {}

    def maybe_cut(seconds: float, sent: int) -> None:
        if not cut_at and sent >= baseline["payload_up"] / 2:
            link.cut()
            cut_at.update(seconds=round(seconds, 1), bytes_sent=sent)
            log(f"  cut after {seconds:.0f} s, {sent:,} bytes sent; waiting for the sync to "
                "give up ...")

    try:
        site.add(500, 2, seed=2)  # the baseline's rows and photos, to another hub
        log("interrupted: the same again, cut half way ...")
        cut = site.sync(on_tick=maybe_cut)
        link.restore()
        media = site.hub / "media"  # whole blobs and media/partial, where a resume starts
        hub_had = sum(f.stat().st_size for f in media.rglob("*")
                      if f.is_file() and f.relative_to(media).parts[0] != "tmp")
        log("interrupted: the link is back; syncing again ...")
        resumed = site.sync()
    finally:
        link.restore()  # if an error came between the cut and the restore
        site.stop()
    twice = cut["payload_up"] + resumed["payload_up"] - baseline["payload_up"]
    return {
        **made, "baseline": baseline, "cut_at": cut_at or None, "cut": cut, "resumed": resumed,
        "noticed_after_seconds": round(cut["seconds"] - cut_at["seconds"], 1) if cut_at
        else None,
        "hub_had_bytes": hub_had,
        "sent_twice_bytes": twice,
        "sent_twice_chunks": round(twice / CHUNK, 2),
        # The centre's own count: rows once the hub answered, a chunk once its request began.
        "rows_sent_twice": (cut["sent"] or 0) + (resumed["sent"] or 0) - made["records"],
        "photo_bytes_sent_twice": (cut["blob_bytes_sent"] or 0)
        + (resumed["blob_bytes_sent"] or 0) - made["photo_bytes"],
    }


def loss30(link: Link, tmp: Path) -> dict:
    site = Site(link, tmp, "loss", 8004).start()
    attempts = []
    try:
        made = site.add(500, 2, seed=4)
        link.set_loss(HARD_LOSS_PCT)
        log(f"loss30: 500 records and 2 photos with {HARD_LOSS_PCT} % loss, until synced ...")
        started = time.monotonic()
        while True:
            left = CAP - (time.monotonic() - started)
            if left <= 0:
                break
            attempts.append(site.sync(cap=left))
            log(f"  attempt {len(attempts)}: {attempts[-1]['status']} after "
                f"{attempts[-1]['seconds']} s")
            if attempts[-1]["status"] == "synced":
                break
    finally:
        link.set_loss(LOSS_PCT)
        site.stop()
    last = attempts[-1] if attempts else {"status": "timed out"}
    return {**made, "status": last["status"], "attempts": len(attempts),
            "seconds": round(time.monotonic() - started, 1),
            "wire_bytes": sum(a["wire_up"] + a["wire_down"] for a in attempts),
            "tcp_resent": sum(a["tcp_resent"] for a in attempts), "runs": attempts}


def story(link: Link, tmp: Path) -> dict:
    """A five-minute story recorded at a centre (WebM/Opus as the kiosk records it, made by
    scripts/bench_stories.py) reaching the hub: one sync, its seconds and bytes."""
    import bench_stories

    recording = bench_stories.five_minute_story(tmp / "story.webm")
    if recording is None:
        return {"status": "skipped", "message": "PyAV (the hub's extra) is not installed"}
    env = environment()
    env["INFOCENTRE_AREAS"] = "kiosk.home,kiosk.auth,kiosk.admin,kiosk.stories"
    site = Site(link, tmp, "story", 8005, env=env).start()
    try:
        blob = Store(site.node / "media").add_bytes(recording.read_bytes())
        with sqlite3.connect(site.node / "infocentre.db") as db:
            db.execute("INSERT INTO stories (id, centre_id, title, teller_name, audio, "
                       "audio_kind, audio_bytes, audio_seconds, village, consent, status, "
                       "created_at, updated_at) VALUES ('0190a8f0-0000-7000-8000-000000000001', "
                       "?, 'La minga del canal', 'Mama Rosa', ?, 'audio/webm', ?, 300, "
                       "'Urcuquí', 'region', 'pending', '2026-12-01T10:00:00+00:00', "
                       "'2026-12-01T10:00:00+00:00')", [site.node_id, blob.sha, blob.size])
        log(f"story: a five-minute story ({blob.size:,} bytes) through the link ...")
        run = site.sync()
        arrived = Store(site.hub / "media").has(blob.sha)
    finally:
        site.stop()
    limit = blob.size * 8 / (RATE_KBIT * 1000)
    return {"recording_bytes": blob.size, "recording_seconds": 300,
            "limit_seconds": round(limit, 1), **run, "at_hub": arrived,
            "status": run["status"] if arrived else "not at the hub",
            "ratio": round(run["seconds"] / limit, 2)}


def delay_helper(spec: str) -> None:
    """Run inside a namespace: hold every packet of NFQUEUE ``queue`` for ``ms`` before letting
    it go, and keep in ``stats`` the TCP payload sent once and sent again (per connection,
    by sequence number), written ten times a second."""
    import asyncio
    import struct

    from netfilterqueue import NetfilterQueue

    queue, ms, stats = spec.split(",", 2)
    delay, stats = int(ms) / 1000, Path(stats)
    counts = {"payload": 0, "resent": 0, "packets": 0}
    flows: dict[bytes, list[int]] = {}  # connection: [first sequence number, highest sent]

    def count(packet: bytes) -> None:
        counts["packets"] += 1
        if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
            return
        ihl = (packet[0] & 15) * 4
        total = struct.unpack_from("!H", packet, 2)[0]
        seq = struct.unpack_from("!I", packet, ihl + 4)[0]
        doff, flags = packet[ihl + 12] >> 4, packet[ihl + 13]
        size = total - ihl - doff * 4
        key = packet[12:20] + packet[ihl:ihl + 4]
        if flags & 0x02 or key not in flows:  # SYN: a new connection
            flows[key] = [seq + (1 if flags & 0x02 else 0)] * 2
        if size <= 0:
            return
        base, high = flows[key]
        start = (seq - base) % 2**32
        end = start + size
        new = max(0, end - max(start, high - base))
        flows[key][1] = max(high, base + end)
        counts["payload"] += new
        counts["resent"] += size - new

    def write() -> None:
        tmp = stats.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, stats)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        nfq = NetfilterQueue()

        def held(pkt) -> None:
            count(pkt.get_payload())
            loop.call_later(delay, pkt.accept)

        nfq.bind(int(queue), held, max_len=4096)
        loop.add_reader(nfq.get_fd(), lambda: nfq.run(block=False))
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        write()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except asyncio.TimeoutError:
                write()
        nfq.unbind()

    asyncio.run(main())


def netns_allowed(prefix: str) -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = subprocess.run(["ip", "netns", "add", f"{prefix}-probe"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        return f"`ip netns add` failed: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"{prefix}-probe"], capture_output=True)
    return None


def show(figures: dict) -> None:
    t, i, h = (figures.get(k) for k in ("transfer", "interrupted", "loss30"))
    s = figures.get("story")
    print(f"link: {RATE_KBIT} kbit/s, {DELAY_MS} ms each way, {LOSS_PCT} % loss, both "
          f"directions (centre and hub in network namespaces of their own); TCP "
          f"{figures['link']['tcp']}; sync timeout {TIMEOUT} s")
    print(f"{'run':<26} {'status':<12} {'seconds':>8} {'wire up':>10} {'wire down':>10} "
          f"{'requests':>9}")

    def row(label: str, run: dict) -> None:
        print(f"{label:<26} {run['status']:<12} {run['seconds']:>8} {run['wire_up']:>10,} "
              f"{run['wire_down']:>10,} {run['requests'] or '-':>9}")
        if run["status"] != "synced" and run["message"]:
            print(f"  {run['message']}")

    if t:
        row("transfer 500 + 10 photos", t)
        print(f"  payload {t['payload_bytes']:,} bytes (gzip rows {t['gzip_json_bytes']:,} + "
              f"photos {t['photo_bytes']:,}); limit {t['limit_seconds']} s; time / limit "
              f"{t['ratio']}; wire / payload {t['wire_per_payload']}")
    if i:
        row("baseline 500 + 2 photos", i["baseline"])
    if i and i.get("cut"):
        row("  cut half way", i["cut"])
        row("  resumed", i["resumed"])
        cut_at = i["cut_at"] or {}
        print(f"  cut after {cut_at.get('seconds')} s and {cut_at.get('bytes_sent', 0):,} bytes; "
              f"the sync gave up {i['noticed_after_seconds']} s later; the hub then had "
              f"{i['hub_had_bytes']:,} photo bytes")
        print(f"  sent twice: {i['sent_twice_bytes']:,} bytes on the wire "
              f"({i['sent_twice_chunks']} chunk); by the centre's reports, rows "
              f"{i['rows_sent_twice']} and photo bytes {i['photo_bytes_sent_twice']:,}")
    for n, run in enumerate(h["runs"] if h else (), 1):
        row(f"{HARD_LOSS_PCT} % loss, attempt {n}", run)
    if h:
        print(f"  {HARD_LOSS_PCT} % loss: {h['status']} after {h['attempts']} attempt(s), "
              f"{h['seconds']} s in all; TCP resent {h['tcp_resent']:,} bytes")
    if s and s["status"] == "skipped":
        print(f"story: skipped: {s['message']}")
    elif s:
        row("story of 5 minutes", s)
        print(f"  recording {s['recording_bytes']:,} bytes; limit {s['limit_seconds']} s; "
              f"time / limit {s['ratio']}; at the hub: {'yes' if s['at_hub'] else 'NO'}")
    print(f"goals: {GOALS}")
    print("met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in figures["met"].items()))


RUNS = {"transfer": transfer, "interrupted": interrupted, "loss30": loss30, "story": story}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--prefix", default=f"ibl{os.getpid()}",
                        help="names of the namespaces made (unique per run)")
    parser.add_argument("--tcp", help="TCP congestion control in the namespaces (default: the "
                        "machine's; one of net.ipv4.tcp_allowed_congestion_control)")
    parser.add_argument("--runs", default=",".join(RUNS),
                        help=f"which runs, comma-separated (default: {','.join(RUNS)})")
    parser.add_argument("--delay", help=argparse.SUPPRESS)  # the helper: QUEUE,MS,STATS
    args = parser.parse_args()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = [r for r in runs if r not in RUNS]
    if unknown or not runs:
        parser.error(f"unknown run {', '.join(unknown)}: choose among {', '.join(RUNS)}")
    if args.delay:
        delay_helper(args.delay)
        return 0
    why = netns_allowed(args.prefix)
    if why:
        print(json.dumps({"skipped": why}) if args.json else f"bench_link: skipped: {why}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # tear down as for Ctrl+C
    try:
        with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
            tmp = Path(tmp)
            with Link(args.prefix, tmp, args.tcp) as link:
                figures = {
                    "link": {"rate_kbit": RATE_KBIT, "delay_ms_each_way": DELAY_MS,
                             "loss_percent": LOSS_PCT, "tcp": link.tcp, "sync_timeout": TIMEOUT},
                }
                for name in runs:
                    figures[name] = RUNS[name](link, tmp)
    except KeyboardInterrupt:
        log("bench_link: interrupted; the namespaces are removed")
        return 130
    figures["goals"] = GOALS
    met = figures["met"] = {}
    if "transfer" in figures:
        met["within_1.5x"] = (figures["transfer"]["status"] == "synced"
                              and figures["transfer"]["ratio"] <= 1.5)
    if "interrupted" in figures:
        twice = figures["interrupted"]["sent_twice_bytes"]
        met["one_chunk"] = (twice is not None and figures["interrupted"]["resumed"]["status"]
                            == "synced" and twice <= CHUNK + RESUME_OVERHEAD)
    if "loss30" in figures:
        met["loss30_completes"] = figures["loss30"]["status"] == "synced"
    if figures.get("story", {}).get("status") not in (None, "skipped"):
        met["story_within_1.5x"] = (figures["story"]["status"] == "synced"
                                    and figures["story"]["ratio"] <= 1.5)
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        show(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
