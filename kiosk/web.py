"""What every page shares: CSRF, security and cache headers, error pages, versioned assets.

Imports Flask, Flask-WTF and ``kiosk.i18n``/``kiosk.errors``/``kiosk.data``; no area.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
import sqlite3
import unicodedata
from pathlib import Path
from urllib.parse import unquote_to_bytes

from flask import (
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from .data import is_disk_full
from .errors import KioskError
from .i18n import _, list_separator
from .media import avatar

csrf = CSRFProtect()

# Nothing may come from anywhere but this server (offline always; issue 3).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "font-src 'self'; connect-src 'self'; media-src 'self' blob:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def init_app(app) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.before_request(_refuse_undecodable_forms)
    csrf.init_app(app)
    app.after_request(_compress)  # runs last: after_request functions run in reverse order
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(KioskError, _kiosk_error)
    app.register_error_handler(sqlite3.Error, _disk_full_error)
    app.register_error_handler(OSError, _disk_full_error)
    versions = _asset_versions(Path(app.static_folder))
    urls: dict[str, str] = {}

    def asset(path: str) -> str:
        """The URL of a static file, with its content hash; built once per file."""
        if path not in urls:
            urls[path] = url_for("static", filename=path, v=versions.get(path))
        return urls[path]

    icons: dict[tuple[str, str], Markup] = {}

    def icon(name: str, cls: str = "") -> Markup:
        """An icon from the sprite, beside a label (decorative: hidden from screen readers)."""
        key = (name, cls)
        if key not in icons:
            icons[key] = Markup(
                '<svg class="icon {}" aria-hidden="true" focusable="false"><use href="{}#{}">'
                "</use></svg>").format(cls, asset("img/icons.svg"), name)
        return icons[key]

    built: dict[tuple[str, str], str] = {}

    def cached_url_for(endpoint: str, **values) -> str:
        """url_for, remembered for links without arguments (a page has a dozen of them)."""
        if values or endpoint.startswith("."):
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint)
        if key not in built:
            built[key] = url_for(endpoint)
        return built[key]

    app.jinja_env.globals.update(asset=asset, icon=icon, url_for=cached_url_for, csrf=csrf_field,
                                 avatar=avatar)


def _asset_versions(static: Path) -> dict[str, str]:
    """A short content hash per static file, so assets can be cached until they change."""
    return {p.relative_to(static).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:10]
            for p in static.rglob("*") if p.is_file()}


def csrf_field() -> Markup:
    """The hidden CSRF field every form carries (made once a request: a class page has
    eighty forms)."""
    if "csrf_field" not in g:
        g.csrf_field = Markup('<input type="hidden" name="csrf_token" value="{}">').format(
            generate_csrf())
    return g.csrf_field


def _refuse_undecodable_forms():
    """A form whose bytes are not UTF-8 is refused whole: Werkzeug would keep the bad bytes as
    literal "%FF" text, which no field check can tell from what a person typed."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    raw = request.get_data(cache=True)  # the form is then parsed from this cached copy
    try:
        unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return error_response(400, _("The form could not be read"),
                              _("Some letters arrived damaged. Please type them again."),
                              "encoding")
    return None


def _headers(response):
    headers = response.headers
    if request.path.startswith("/api/"):
        return response  # JSON for programs: page headers would only cost bytes on slow links
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if request.endpoint == "static":
        if request.args.get("v"):
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
    elif request.blueprint == "media" and response.status_code == 200:
        # Named by their SHA-256, so never changed; kept by this terminal's browser only.
        headers["Cache-Control"] = "private, max-age=31536000, immutable"
    else:
        # Pages are never stored: after sign-out, Back must not show the last person's pages.
        headers["Cache-Control"] = "no-store"
        response.vary.add("Cookie")
    return response


# Text worth compressing (issue 14: a village's sign-in list was 230 KB, 32 KB gzipped);
# photos, recordings and fonts are compressed already.
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript",
                "application/json", "image/svg+xml", "text/plain", "text/csv"}
COMPRESS_MIN_BYTES = 1024  # below this, the gzip header and the CPU cost more than they save
# A page is compressed for every request, at level 1: a class grid of 85 KB takes 0.15 ms
# (level 6: 0.7 ms, under a lock every request waits for) and is 5.2 KB, not 4.2, which a
# LAN does not notice. A static file is compressed once per release, so at level 9.
GZIP_LEVEL = 1
GZIP_STATIC_LEVEL = 9
_static_gzipped: dict[tuple[str, str], bytes] = {}


def _compress(response):
    """Gzip a text response when the browser accepts it; the JSON API compresses (and signs)
    its own bodies, and a stream is sent as it is made."""
    if (request.path.startswith("/api/") or response.status_code != 200
            or request.method == "HEAD" or response.mimetype not in COMPRESSIBLE
            or "Content-Encoding" in response.headers or "Content-Range" in response.headers
            or (response.is_streamed and not response.direct_passthrough)):
        return response
    length = response.content_length
    if length is not None and length < COMPRESS_MIN_BYTES:
        return response
    response.vary.add("Accept-Encoding")  # caches must not give gzip to a browser without it
    if not request.accept_encodings["gzip"]:
        return response
    etag, weak = response.get_etag()
    key = (request.path, etag or "") if request.endpoint == "static" else None
    body = _static_gzipped.get(key) if key else None
    if body is None:
        source = response.response
        response.direct_passthrough = False  # a static file: read it to compress it
        plain = response.get_data()
        if hasattr(source, "close"):
            source.close()
        if len(plain) < COMPRESS_MIN_BYTES:
            return response
        body = gzip.compress(plain, compresslevel=GZIP_STATIC_LEVEL if key else GZIP_LEVEL,
                             mtime=0)
        if key:
            _static_gzipped[key] = body  # a handful of files, each changed only by a release
    elif hasattr(response.response, "close"):
        response.response.close()  # the file send_file opened, not read
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        response.set_etag(etag, weak=True)  # the same content, in another encoding
    return response


def _cell(value) -> str | int:
    """A value a spreadsheet shows as text: "=1+2" stays text, never a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_download(rows: list[list], name: str, what: str, *, unnamed: str) -> Response:
    """A CSV download that opens in columns in the reader's spreadsheet, named after ``name``
    (a class, a centre; ``unnamed`` where it has no letters to name a file with) and ``what``
    it holds: ``maria-s-class-progress.csv``.

    Columns are split by the separator of the reader's language (``;`` in Spanish and French),
    every text is quoted, so a name holding a separator (``Ana;=cmd|...``) stays one cell
    whichever separator the spreadsheet splits on, and no cell can become a formula.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=list_separator(), quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    # The BOM lets a spreadsheet on Windows read the accents as UTF-8.
    body = out.getvalue().encode("utf-8-sig")
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:60] or unnamed
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{stem}-{what}.csv"'})


def wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json")


def error_response(status: int, title: str, message: str, code: str):
    if wants_json():
        return jsonify(ok=False, errors=[{"code": code, "message": message}]), status
    return render_template("errors/error.html", status=status, title=title,
                           message=message), status


def _csrf_error(error):
    if request.endpoint == "auth.signout":
        # Signing out must always work, even from a page whose session already ended.
        session.clear()
        return redirect(url_for("home.index"))
    return error_response(400, _("This page has expired"),
                          _("For your safety the form was not sent. Go back, reload the page "
                            "and try again."), "csrf")


_HTTP = {
    400: ("bad_request", lambda: _("Something is wrong with what was sent"),
          lambda: _("Please go back and try again.")),
    403: ("forbidden", lambda: _("You cannot open this page"),
          lambda: _("Your account does not allow it. Ask the facilitator if you need it.")),
    404: ("not_found", lambda: _("Page not found"),
          lambda: _("This page does not exist. Go back to the start.")),
    405: ("method_not_allowed", lambda: _("This action is not possible here"),
          lambda: _("Please go back and try again.")),
    413: ("too_large", lambda: _("What was sent is too big"),
          lambda: _("Please send something smaller.")),
}


def _http_error(error: HTTPException):
    code, title, message = _HTTP.get(
        error.code, ("error", lambda: _("Something went wrong"),
                     lambda: _("Please try again in a moment.")))
    return error_response(error.code or 500, title(), message(), code)


def _kiosk_error(error: KioskError):
    return error_response(error.http_status, _("Something went wrong"), str(error), "error")


def _disk_full_error(error: Exception):
    """A write that failed because the centre's disk is full: a plain page (507) saying so and
    whom to tell, not "something went wrong". The write was rolled back whole (``writing``).
    Any other database or file error goes on to the 500 page."""
    if not is_disk_full(error, current_app.config["DATA_DIR"]):
        raise error
    current_app.logger.error("a write failed, the disk is full: %s", error)
    return error_response(507, _("The centre's computer is full"),
                          _("There is no space left on this computer's disk, so this could not "
                            "be saved. Nothing was changed. Please tell the facilitator or the "
                            "centre's admin."), "disk_full")


def handle_internal_error(error):
    current_app.logger.exception("unhandled error", exc_info=error)
    return error_response(500, _("Something went wrong"),
                          _("Please try again in a moment. If it happens again, tell the "
                            "facilitator."), "internal")
