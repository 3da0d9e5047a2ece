"""Photos made to hurt the server (issue 14): small files of enormous pictures, six at once,
against a real server. Each is refused in words that say the largest size accepted, or taken;
the server stays under 150 MB and keeps answering."""

from __future__ import annotations

import io
import re
import threading
import urllib.parse
import urllib.request
import uuid

from PIL import Image

from .live import DEMO, DEMO_PIN, db_rows, start_demo_server

PEAK_LIMIT_KB = 150 * 1024


def palette_png(width=7000, height=7000) -> bytes:
    image = Image.new("P", (width, height))
    image.putpalette([n % 256 for n in range(768)])
    image.paste(7, (0, 0, width // 3, height // 2))  # a little to draw, still 48 KB or so
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def webp(width=16383, height=3000) -> bytes:
    image = Image.new("RGB", (width, height), (30, 120, 90))
    out = io.BytesIO()
    image.save(out, "WEBP", quality=10, method=0)
    return out.getvalue()


def jpeg(width, height) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


class Browser:
    """One signed-in session over HTTP: cookies kept, CSRF token read from the pages."""

    def __init__(self, url: str):
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

    def get(self, path: str) -> str:
        with self.opener.open(self.url + path, timeout=60) as response:
            return response.read().decode()

    def token(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.get("/language"))[1]

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=body,
                                         headers={"Content-Type": content_type})
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def form(self, path: str, **fields) -> tuple[int, str]:
        body = urllib.parse.urlencode({"csrf_token": self.token(), **fields}).encode()
        return self.post(path, body, "application/x-www-form-urlencoded")

    def upload(self, path: str, token: str, data: bytes, filename: str) -> tuple[int, str]:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
                f"{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; "
                f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        return self.post(path, body, f"multipart/form-data; boundary={boundary}")


def kilobytes(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.M)[1])


def test_six_enormous_pictures_at_once_are_refused_and_the_server_stays_small(tmp_path):
    pictures = [("plan.png", palette_png()), ("panorama.webp", webp())] * 3
    assert all(len(data) < 200_000 for _name, data in pictures)
    server = start_demo_server(tmp_path / "centre", courses=False)
    try:
        ids = dict(db_rows(server.data_dir, "SELECT name, id FROM accounts"))
        browser = Browser(server.url)
        browser.form(f"/auth/signin/{ids[DEMO['facilitator']]}", pin=DEMO_PIN["facilitator"])
        browser.form("/language", lang="en")
        assert "Sign out" in browser.get("/auth/people")
        path, token = f"/auth/people/{ids[DEMO['villager']]}/photo", browser.token()
        before = kilobytes(server.process.pid, "VmRSS")

        answers = upload_at_once(browser, path, token, pictures)
        peak = kilobytes(server.process.pid, "VmHWM")
        after = kilobytes(server.process.pid, "VmRSS")

        for status, page in answers:
            assert status == 400, page[:300]
            assert "This photo is too large to use." in page
            assert "The largest PNG or WebP photo we accept has 3 million pixels (a JPEG " \
                   "photo, 50 million)." in page
        assert db_rows(server.data_dir, "SELECT photo FROM accounts WHERE id = ?",
                       [ids[DEMO["villager"]]]) == [(None,)]
        assert peak < PEAK_LIMIT_KB, f"peak {peak} kB (from {before} kB)"
        assert after < before + 30 * 1024, f"{after} kB kept after (from {before} kB)"

        # Still answering, and a phone's 48-megapixel photo is still taken, decoded small.
        assert "Sign out" in browser.get("/auth/people")
        status, page = browser.upload(path, browser.token(), jpeg(8000, 6000), "phone.jpg")
        assert status == 200 and "has a new photo" in page  # after the redirect
        assert db_rows(server.data_dir, "SELECT photo FROM accounts WHERE id = ?",
                       [ids[DEMO["villager"]]]) != [(None,)]
        assert kilobytes(server.process.pid, "VmHWM") < PEAK_LIMIT_KB
    finally:
        server.stop()


def upload_at_once(browser, path: str, token: str, pictures) -> list[tuple[int, str]]:
    """Each (name, bytes) picture sent as the photo at once, one thread each: the answers."""
    answers = [None] * len(pictures)

    def send(index, name, data):
        answers[index] = browser.upload(path, token, data, name)

    threads = [threading.Thread(target=send, args=(n, *picture))
               for n, picture in enumerate(pictures)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return answers


def largest_accepted() -> list[tuple[str, bytes]]:
    """Six pictures just within the limit for PNG and WebP, in their costliest modes."""
    size = (2000, 1500)  # 3 million pixels: the limit
    made = []
    for kind, mode in (("PNG", "RGBA"), ("WEBP", "RGBA"), ("PNG", "P")):
        image = Image.new(mode, size, (30, 120, 90, 128) if mode == "RGBA" else 3)
        out = io.BytesIO()
        image.save(out, kind, **({"transparency": 0} if mode == "P" else {}))
        made.append((f"big.{kind.lower()}", out.getvalue()))
    return made * 2


def test_six_of_the_largest_accepted_pictures_at_once_keep_the_server_small(tmp_path):
    pictures = largest_accepted()
    server = start_demo_server(tmp_path / "centre", courses=False)
    try:
        ids = dict(db_rows(server.data_dir, "SELECT name, id FROM accounts"))
        browser = Browser(server.url)
        browser.form(f"/auth/signin/{ids[DEMO['facilitator']]}", pin=DEMO_PIN["facilitator"])
        browser.form("/language", lang="en")
        path, token = f"/auth/people/{ids[DEMO['villager']]}/photo", browser.token()
        answers = upload_at_once(browser, path, token, pictures)
        peak = kilobytes(server.process.pid, "VmHWM")
        assert [status for status, _page in answers] == [200] * 6  # taken, then redirected
        assert all("has a new photo" in page for _status, page in answers)
        assert peak < PEAK_LIMIT_KB, f"peak {peak} kB"
        sha = db_rows(server.data_dir, "SELECT photo FROM accounts WHERE id = ?",
                      [ids[DEMO["villager"]]])[0][0]
        with urllib.request.urlopen(f"{server.url}/media/{sha}/800", timeout=30) as thumb:
            assert Image.open(io.BytesIO(thumb.read())).size == (800, 600)
    finally:
        server.stop()
