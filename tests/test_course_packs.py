"""Course packs: every kind of mistake named with its file and line, nothing half-imported,
re-imports that keep learners' progress, and lessons that no script survives."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from kiosk.classes import models as classes
from kiosk.classes.grid import class_grid
from kiosk.courses import models, packs, render
from kiosk.data import open_db

from .factories import WHEN
from .live import db_rows, infocentre
from .packs import install, write_pack


@pytest.fixture
def node(tmp_path):
    path = tmp_path / "centre"
    infocentre(path, "init", "--role", "node", "--name", "Centro")
    return path


def problems(folder) -> list[str]:
    with pytest.raises(packs.PackError) as caught:
        packs.read_pack(folder)
    return [str(p) for p in caught.value.problems]


def test_a_good_pack_imports_with_progress_and_lists(node, tmp_path):
    folder = write_pack(tmp_path / "first-steps")
    result = infocentre(node, "content", "import", str(folder))
    assert "first-steps version 1: installed (4 lessons)" in result.stdout
    assert "Importing first-steps" in result.stdout  # progress is shown
    listed = json.loads(infocentre(node, "content", "list", "--json").stdout)
    assert listed == [{"id": "first-steps", "title": "Curso first-steps es", "version": 1,
                       "languages": ["es", "en"], "lessons": 4, "topic": "computer",
                       "course_id": packs.course_id("first-steps")}]
    assert "first-steps  v1" in infocentre(node, "content", "list").stdout
    # One row per language; pictures are in the media store, named by their hash.
    assert db_rows(node, "SELECT lang FROM course_texts ORDER BY lang") == [("en",), ("es",)]
    body = db_rows(node, "SELECT body FROM lesson_texts WHERE lang = 'es' LIMIT 1")[0][0]
    sha = body.split("](sha256:")[1][:64]
    assert (node / "media" / sha[:2] / sha).exists() or any((node / "media").rglob(sha))
    assert db_rows(node, "SELECT count(*) FROM course_media")[0][0] == 4  # cover + 3 pictures


def test_a_folder_of_packs_imports_each_and_a_bad_one_fails_alone(node, tmp_path):
    write_pack(tmp_path / "packs" / "a-course", pack_id="a-course")
    bad = write_pack(tmp_path / "packs" / "b-course", pack_id="b-course")
    (bad / "lessons" / "keyboard.en.md").unlink()
    result = infocentre(node, "content", "import", str(tmp_path / "packs"), check=False)
    assert result.returncode == 1
    assert "a-course version 1: installed" in result.stdout
    assert "course.toml, line" in result.stderr and "keyboard.en.md is missing" in result.stderr
    assert db_rows(node, "SELECT pack FROM courses") == [("a-course",)]  # nothing of b-course
    assert db_rows(node, "SELECT count(*) FROM lessons WHERE course_id = ?",
                   [packs.course_id("b-course")]) == [(0,)]


def test_a_broken_manifest_names_its_line(tmp_path):
    folder = write_pack(tmp_path / "p")
    text = (folder / "course.toml").read_text()
    (folder / "course.toml").write_text(text.replace('topic = "computer"', 'topic = computer'))
    found = problems(folder)
    assert len(found) == 1 and found[0].startswith("course.toml, line 4: this is not valid TOML")


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace('version = 1', 'version = "one"'), "course.toml, line 3: 'version'"),
    (lambda t: t.replace('id = "first-steps"', 'id = "First Steps!"'), "course.toml, line 2:"),
    (lambda t: t.replace('topic = "computer"', 'topic = "cooking"'), "'topic' must be one of"),
    (lambda t: t.replace('languages = ["es", "en"]', 'languages = ["es", "xx"]'),
     "'languages' must list"),
    (lambda t: t.replace('en = "Curso first-steps en"', ''), "'title' has no words in en"),
    (lambda t: t.replace('minutes = 5', 'minuets = 5', 1), "unknown setting 'minuets'"),
    (lambda t: t.replace('id = "keyboard"', 'id = "mouse"'), "two lessons have the id 'mouse'"),
    (lambda t: t.replace('image = "media/cover.png"', 'image = "../../etc/passwd"'),
     "is outside the pack"),
    (lambda t: t.replace('image = "media/cover.png"', 'image = "lessons/mouse.es.md"'),
     "is not a picture"),
])
def test_manifest_mistakes_are_named_with_file_and_line(tmp_path, change, expected):
    folder = write_pack(tmp_path / "p")
    manifest = folder / "course.toml"
    manifest.write_text(change(manifest.read_text()))
    assert any(expected in p for p in problems(folder)), problems(folder)


def test_a_missing_lesson_file_is_named(tmp_path):
    folder = write_pack(tmp_path / "p")
    (folder / "lessons" / "windows.es.md").unlink()
    found = problems(folder)
    assert found == ["course.toml, line 26: the file lessons/windows.es.md is missing."]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace('correct = ["b"]', 'correct = []'),
     "quiz.toml, line 9: question 'q1' has no correct answer"),
    (lambda t: t.replace('correct = ["b"]', 'correct = ["z"]'),
     "question 'q1' says 'z' is correct, but it has no such choice"),
    (lambda t: t.replace('id = "q2"', 'id = "q1"'), "two questions have the id 'q1'"),
    (lambda t: t.replace('en = "Two"', '', 1), "choice 'b' of question 'q1' has no words in en"),
    (lambda t: t.replace('pass_mark = 60', 'pass_mark = 500'), "quiz.toml, line 1: 'pass_mark'"),
])
def test_quiz_mistakes_are_named(tmp_path, change, expected):
    folder = write_pack(tmp_path / "p")
    quiz = folder / "quiz.toml"
    quiz.write_text(change(quiz.read_text()))
    assert any(expected in p for p in problems(folder)), problems(folder)


@pytest.mark.parametrize(("markdown", "expected"), [
    ("Hola <script>alert(1)</script>", "line 3: HTML is not allowed in lessons (<script>"),
    ("<div onclick='x()'>hola</div>", "line 3: HTML is not allowed"),
    ("Un [enlace](otra-leccion.html)", "line 3: a link must go to a web address"),
    ("![](../media/mouse.png)", "a picture needs words"),
    ("![Falta](../media/nothing.png)", "the file ../media/nothing.png is missing"),
    ("Uno\n\n---\n\n---\n\nDos", "a page is empty"),
])
def test_lesson_mistakes_are_named_with_their_line(tmp_path, markdown, expected):
    folder = write_pack(tmp_path / "p")
    (folder / "lessons" / "mouse.es.md").write_text(f"# Título\n\n{markdown}\n", "utf-8")
    found = problems(folder)
    assert any(p.startswith("lessons/mouse.es.md") and expected in p for p in found), found


def test_a_lesson_in_the_wrong_encoding_or_without_a_title(tmp_path):
    folder = write_pack(tmp_path / "p")
    (folder / "lessons" / "mouse.es.md").write_bytes("# Ratón\n\nAñadir".encode("latin-1"))
    (folder / "lessons" / "keyboard.es.md").write_text("Sin título\n", "utf-8")
    found = problems(folder)
    assert "lessons/mouse.es.md, line 1: this is not UTF-8 text; save the file as UTF-8." in found
    assert any(p.startswith("lessons/keyboard.es.md, line 1: the first line") for p in found)


def test_a_pack_with_problems_imports_nothing(node, tmp_path):
    folder = write_pack(tmp_path / "p")
    (folder / "lessons" / "windows.en.md").write_text("# W\n\n<script>x</script>\n", "utf-8")
    result = infocentre(node, "content", "import", str(folder), check=False)
    assert result.returncode == 1 and "HTML is not allowed" in result.stderr
    assert db_rows(node, "SELECT count(*) FROM courses") == [(0,)]
    assert not list((node / "media").rglob("*.png"))


def test_reimporting_keeps_progress_updates_in_place_and_retires(node, tmp_path):
    folder = write_pack(tmp_path / "p")
    db = open_db(node / "infocentre.db")
    centre = db_rows(node, "SELECT node_id FROM _sync_state")[0][0]
    assert install(db, folder, centre_id=centre, data_dir=node) == "new"
    course_id = packs.course_id("first-steps")
    mouse = models.get_lesson(db, course_id, packs.lesson_id("first-steps", "mouse"), "es")
    models.finish_lesson(db, centre_id=centre, learner_id="learner-1", lesson=mouse, now=WHEN)
    windows = models.get_lesson(db, course_id, packs.lesson_id("first-steps", "windows"), "es")
    models.open_page(db, centre_id=centre, learner_id="learner-1", lesson=windows, page=1,
                     now=WHEN)

    # Same version again: nothing changes.
    before = db_rows(node, "SELECT * FROM lesson_texts ORDER BY id")
    assert install(db, folder, centre_id=centre, data_dir=node) == "same"
    assert db_rows(node, "SELECT * FROM lesson_texts ORDER BY id") == before

    # Version 2 drops "windows", adds "internet", and changes every text.
    write_pack(tmp_path / "p", version=2, lessons=("mouse", "keyboard", "internet"))
    (folder / "lessons" / "windows.es.md").unlink()
    (folder / "lessons" / "windows.en.md").unlink()
    assert install(db, folder, centre_id=centre, data_dir=node) == "updated"
    titles = [lesson["title"] for lesson in models.lessons_of(db, course_id, "es")]
    assert titles == ["Lección mouse (2)", "Lección keyboard (2)", "Lección internet (2)",
                      "Prueba final"]
    state = models.course_state(db, "learner-1", course_id, "es")
    assert [lesson["status"] for lesson in state["lessons"]] == ["done", "todo", "todo", "todo"]
    assert db_rows(node, "SELECT retired, page FROM lessons l JOIN progress p ON p.lesson_id = "
                         "l.id WHERE l.key = 'windows'") == [(1, 1)]  # kept, hidden
    assert db_rows(node, "SELECT count(*) FROM courses") == [(1,)]

    # An older version is refused whole.
    write_pack(tmp_path / "old", version=1)
    with pytest.raises(Exception, match="older than the installed version 2"):
        install(db, tmp_path / "old", centre_id=centre, data_dir=node)
    assert db_rows(node, "SELECT version FROM courses") == [(2,)]
    db.close()


def test_a_centre_installs_courses_quietly_and_the_hub_publishes_them(tmp_path):
    hub = tmp_path / "hub"
    infocentre(hub, "init", "--role", "hub", "--name", "Hub")
    node = tmp_path / "node"
    infocentre(node, "init", "--role", "node", "--name", "Centro")
    folder = write_pack(tmp_path / "p")
    for path in (hub, node):
        infocentre(path, "content", "import", str(folder))
    # At the hub each row is captured, to go to every centre; at a centre nothing waits to go
    # up (only the hub changes courses), even after a restart adopts uncaptured rows.
    captured = "SELECT count(*) FROM _sync_clock c JOIN _sync_tables t ON t.id = c.tbl " \
               "WHERE t.name = 'lessons'"
    assert db_rows(hub, captured) == [(4,)]
    infocentre(node, "content", "list")
    assert db_rows(node, captured) == [(0,)]
    assert json.loads(infocentre(node, "sync", "status", "--json").stdout)[
        "pending_changes"] == 0


def test_no_script_survives_whatever_a_lesson_holds():
    nasty = ("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
             "[click](javascript:alert(1)) [ok](https://example.org)\n\n"
             "![pic](sha256:" + "a" * 64 + ") ![other](http://evil.example/x.png)\n\n"
             "<iframe src='https://evil.example'></iframe> **bold**")
    html = str(render.to_html(nasty, lambda sha: f"/media/{sha}/800"))
    found = Tags()
    found.feed(html)
    assert found.tags <= {"p", "a", "img", "strong"}, found.tags
    assert not [a for a in found.attributes if a[0].startswith("on")]
    assert ("href", "https://example.org") in found.attributes
    assert [v for k, v in found.attributes if k in ("href", "src")] == [
        "https://example.org", f"/media/{'a' * 64}/800"]  # no javascript:, no outside picture
    assert "<strong>bold</strong>" in html


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs


def test_pages_split_at_rules_outside_code():
    assert packs.split_pages("one\n---\ntwo\n```\n---\n```\n") == ["one", "two\n```\n---\n```"]


def test_a_class_grid_names_lessons_in_the_language_the_course_is_shown_in(node, tmp_path):
    db = open_db(node / "infocentre.db")
    centre = db_rows(node, "SELECT node_id FROM _sync_state")[0][0]
    install(db, write_pack(tmp_path / "p"), centre_id=centre, data_dir=node)
    class_id = classes.create_class(db, centre_id=centre, name="Martes", now=WHEN,
                                   course_id=packs.course_id("first-steps"), facilitator_id="f")
    # An Arabic reader sees a Spanish and English course in Spanish: its title and its lessons.
    grid = class_grid(db, class_id, centre, "ar", WHEN)
    assert grid["class"]["course"]["title"] == "Curso first-steps es"
    assert [lesson["title"] for lesson in grid["lessons"]][:1] == ["Lección mouse (1)"]
    db.close()
