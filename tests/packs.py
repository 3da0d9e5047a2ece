"""Course packs written into temporary folders, as a regional office would write them."""

from __future__ import annotations

import io
from pathlib import Path

from kiosk.courses import models, packs
from sync.media import Store


def png(colour=(30, 120, 90), size=(40, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


QUIZ = '''pass_mark = {pass_mark}

[title]
es = "Prueba final"
en = "Final quiz"
{questions}'''

QUESTION = '''
[[questions]]
id = "q{n}"
correct = {correct}
[questions.prompt]
es = "¿Pregunta {n}?"
en = "Question {n}?"
[questions.explanation]
es = "Porque sí {n}."
en = "Because {n}."
[[questions.choices]]
id = "a"
es = "Uno"
en = "One"
[[questions.choices]]
id = "b"
es = "Dos"
en = "Two"
[[questions.choices]]
id = "c"
es = "Tres"
en = "Three"
'''


def write_pack(folder: Path, *, pack_id: str = "first-steps", version: int = 1,
               lessons: tuple[str, ...] = ("mouse", "keyboard", "windows"),
               questions: int = 3, pass_mark: int = 60, topic: str = "computer",
               languages: tuple[str, ...] = ("es", "en"), audio: bytes | None = None) -> Path:
    """A pack of reading lessons (two pages each, a picture on the first) and a final quiz.

    Question 1 is "b"; question 2 wants "a" and "c" (several answers); the others "c".
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lessons").mkdir(exist_ok=True)
    (folder / "media").mkdir(exist_ok=True)
    (folder / "media" / "cover.png").write_bytes(png((200, 80, 40)))
    entries = []
    for key in lessons:
        (folder / "media" / f"{key}.png").write_bytes(png((len(key) * 20 % 255, 90, 140)))
        for lang in languages:
            word = {"es": "Lección", "en": "Lesson"}.get(lang, lang)
            (folder / "lessons" / f"{key}.{lang}.md").write_text(
                f"# {word} {key} ({version})\n\nPrimera página de **{key}**.\n\n"
                f"![Dibujo de {key}](../media/{key}.png)\n\n---\n\n"
                f"Segunda página de {key}, versión {version}.\n", "utf-8")
        entry = f'[[lessons]]\nid = "{key}"\nminutes = 5\nimage = "media/{key}.png"\n'
        if audio is not None and key == lessons[0]:
            (folder / "media" / f"{key}.es.wav").write_bytes(audio)
            entry += f'audio.es = "media/{key}.es.wav"\n'
        entries.append(entry)
    if questions:
        body = "".join(QUESTION.format(n=n, correct={1: '["b"]', 2: '["a", "c"]'}.get(
            n, '["c"]')) for n in range(1, questions + 1))
        (folder / "quiz.toml").write_text(QUIZ.format(pass_mark=pass_mark, questions=body),
                                          "utf-8")
        entries.append('[[lessons]]\nid = "final-quiz"\nminutes = 10\nquiz = "quiz.toml"\n')
    langs = ", ".join(f'"{code}"' for code in languages)
    titles = "\n".join(f'{code} = "Curso {pack_id} {code}"' for code in languages)
    summaries = "\n".join(f'{code} = "Resumen {code}"' for code in languages)
    (folder / "course.toml").write_text(
        f'format = 1\nid = "{pack_id}"\nversion = {version}\ntopic = "{topic}"\n'
        f'languages = [{langs}]\nimage = "media/cover.png"\n\n[title]\n{titles}\n\n'
        f'[summary]\n{summaries}\n\n' + "\n".join(entries), "utf-8")
    return folder


def install(db, folder: Path, *, centre_id: str, role: str = "node", data_dir: Path,
            now=None) -> str:
    """Read and import a pack as ``infocentre content import`` does; the outcome."""
    from .factories import WHEN

    return models.import_pack(db, packs.read_pack(folder), centre_id=centre_id, role=role,
                              store=Store(Path(data_dir) / "media"), now=now or WHEN)
