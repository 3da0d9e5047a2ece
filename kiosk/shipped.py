"""Where the files that ship with the code are: the compiled catalogues and the course content.

A wheel carries them inside this package (``setup.py`` copies and compiles them); a source
checkout, installed editable, keeps them beside the packages. Imports the standard library only.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent


def shipped(name: str) -> Path:
    """The folder ``name`` ("locales" or "content"): the installed package's, else the
    checkout's. pip unpacks wheels, so the package's resources are plain folders."""
    inside = resources.files(__package__) / name
    if isinstance(inside, Path) and inside.is_dir():
        return inside
    return SOURCE_ROOT / name


def catalogue_file(locales_dir: str | Path, code: str) -> Path:
    """The compiled catalogue of language ``code`` that the pages and the command read."""
    return Path(locales_dir, code, "LC_MESSAGES", "messages.mo")
