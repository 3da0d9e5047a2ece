"""Course packs made to hurt the importer (issue 14): links to files elsewhere, files of
gigabytes, TOML nested beyond reason, floods of unknown settings. Each is refused through
``infocentre content import`` with a message naming the file, within bounded memory and time,
and installs nothing."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from .live import db_rows, infocentre
from .packs import png, write_pack

GB = 1024 ** 3


@pytest.fixture
def node(tmp_path):
    path = tmp_path / "centre"
    infocentre(path, "init", "--role", "node", "--name", "Centro")
    return path


def import_bounded(node, folder, memory=GB, timeout=60) -> subprocess.CompletedProcess:
    """``content import`` as the user runs it, in at most ``memory`` bytes of address space
    (a command reading a 4 GB file whole dies there) and ``timeout`` seconds."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "kiosk", "--data-dir", str(node), "content",
                           "import", str(folder)], capture_output=True, text=True,
                          preexec_fn=limit, timeout=timeout)


def assert_refused(node, result, *words):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "cannot be imported" in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert db_rows(node, "SELECT count(*) FROM courses") == [(0,)]
    assert db_rows(node, "SELECT count(*) FROM lesson_texts") == [(0,)]
    assert not [p for p in (node / "media").rglob("*") if p.is_file()]


def secret_lesson(tmp_path):
    secret = tmp_path / "private" / "notes.md"
    secret.parent.mkdir()
    secret.write_text("# Claves del centro\n\nLa clave del router es 1234.\n", "utf-8")
    return secret


def link_lesson_file(tmp_path, folder):
    target = folder / "lessons" / "mouse.es.md"
    target.unlink()
    target.symlink_to(secret_lesson(tmp_path))
    return "lessons/mouse.es.md"


def link_lessons_folder(tmp_path, folder):
    elsewhere = tmp_path / "elsewhere"
    (folder / "lessons").rename(elsewhere)
    (folder / "lessons").symlink_to(elsewhere, target_is_directory=True)
    return "lessons/mouse.es.md"


def link_quiz(tmp_path, folder):
    outside = tmp_path / "quiz.toml"
    (folder / "quiz.toml").rename(outside)
    (folder / "quiz.toml").symlink_to(outside)
    return "quiz.toml"


def link_picture(tmp_path, folder):
    outside = tmp_path / "photo.png"
    outside.write_bytes(png())
    (folder / "media" / "mouse.png").unlink()
    (folder / "media" / "mouse.png").symlink_to(outside)
    return "mouse.png"


def link_inside(tmp_path, folder):
    """A link to another file of the pack: refused too, since what it points at may change."""
    (folder / "lessons" / "mouse.es.md").unlink()
    (folder / "lessons" / "mouse.es.md").symlink_to(folder / "lessons" / "keyboard.es.md")
    return "lessons/mouse.es.md"


@pytest.mark.parametrize("make_link", [link_lesson_file, link_lessons_folder, link_quiz,
                                       link_picture, link_inside])
def test_a_link_to_a_file_elsewhere_is_refused_and_never_read(node, tmp_path, make_link):
    folder = write_pack(tmp_path / "p")
    named = make_link(tmp_path, folder)
    result = infocentre(node, "content", "import", str(folder), check=False)
    assert_refused(node, result, named, "is a link")
    assert "router" not in result.stdout + result.stderr


def test_a_manifest_that_is_a_link_is_refused(node, tmp_path):
    folder = write_pack(tmp_path / "p")
    outside = tmp_path / "course.toml"
    (folder / "course.toml").rename(outside)
    (folder / "course.toml").symlink_to(outside)
    assert_refused(node, import_bounded(node, folder), "course.toml", "is a link")


def huge_file(path):
    with open(path, "wb") as f:  # sparse: no disk is used
        f.write(b"# T\n")
    os.truncate(path, 4 * GB)


@pytest.mark.parametrize("where", ["lessons/mouse.es.md", "quiz.toml", "course.toml",
                                   "link"])
def test_a_file_of_gigabytes_is_refused_by_its_size_without_reading_it(node, tmp_path, where):
    folder = write_pack(tmp_path / "p")
    if where == "link":
        huge_file(tmp_path / "huge.md")
        (folder / "lessons" / "mouse.es.md").unlink()
        (folder / "lessons" / "mouse.es.md").symlink_to(tmp_path / "huge.md")
        named, words = "lessons/mouse.es.md", "is a link"
    else:
        huge_file(folder / where)
        named, words = where, "too large (4194304 KB; at most 256 KB)"
    assert_refused(node, import_bounded(node, folder), named, words)


def test_a_picture_of_gigabytes_is_refused_by_its_size(node, tmp_path):
    folder = write_pack(tmp_path / "p")
    picture = folder / "media" / "mouse.png"
    picture.write_bytes(png())
    os.truncate(picture, 4 * GB)
    assert_refused(node, import_bounded(node, folder), "media/mouse.png is empty or too large")


def deep(kind: str) -> str:
    levels = 60_000
    if kind == "arrays":
        return "[" * levels + "]" * levels
    return "{a=" * levels + "1" + "}" * levels  # 240 KB, under the 256 KB limit


@pytest.mark.parametrize("file", ["course.toml", "quiz.toml"])
@pytest.mark.parametrize("kind", ["arrays", "tables"])
def test_toml_nested_sixty_thousand_deep_is_refused_in_words(node, tmp_path, file, kind):
    folder = write_pack(tmp_path / "p")
    path = folder / file
    path.write_text(path.read_text("utf-8") + f"\ndeep = {deep(kind)}\n", "utf-8")
    result = import_bounded(node, folder)
    assert_refused(node, result, f"{file}: this file is nested too deeply to read")


def test_fifteen_thousand_unknown_settings_are_reported_quickly_and_readably(node, tmp_path):
    folder = write_pack(tmp_path / "p")
    manifest = folder / "course.toml"
    unknown = "".join(f"k{n:05d} = 1\n" for n in range(15_000))
    manifest.write_text(unknown + manifest.read_text("utf-8"), "utf-8")
    # It took 29 s (each setting looked for in the whole file); a few seconds at most now,
    # starting Python included.
    result = import_bounded(node, folder, timeout=15)
    assert_refused(node, result, "course.toml, line 1: unknown setting 'k00000'",
                   "course.toml, line 20: unknown setting 'k00019'",
                   "and 14980 more problems.")
    assert "k00020" not in result.stderr
    assert len(result.stderr.splitlines()) < 30


def test_a_picture_of_too_many_pixels_is_refused_at_import(node, tmp_path):
    """A small file that would take the kiosk hundreds of MB to decode: refused at import,
    not installed at every centre to show nothing."""
    from PIL import Image

    folder = write_pack(tmp_path / "p")
    Image.new("P", (7000, 7000)).save(folder / "media" / "mouse.png", format="PNG")
    assert_refused(node, import_bounded(node, folder), "mouse.png", "million pixels")
