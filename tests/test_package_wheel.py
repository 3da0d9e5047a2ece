"""The package installs anywhere (issue 15): built as a release is, sdist then wheel, from a
clean copy of the tree, installed with the pinned versions into a fresh virtualenv, it sets up
a centre, loads the demo and serves its pages in Spanish, with nothing of the checkout in reach.

Slow (a build and an install): marked ``slow``; ``./scripts/test`` runs it. Installing reuses
pip's cache, so only a first run on a machine downloads the dependencies.
"""

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import urllib.request
from pathlib import Path

import pytest

from .live import start_server

ROOT = Path(__file__).resolve().parent.parent
# What a fresh clone has and a build may read; never a build left over from another day.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                    "*.mo", "instance", "tests", "scripts", ".*cache", ".bench",
                                    "screenshots")

pytestmark = pytest.mark.slow


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            timeout=600, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(work: Path) -> Path:
    """sdist, then the wheel from the unpacked sdist, as ``python -m build`` does (so a file
    missing from MANIFEST.in is missing here too). The build uses this environment's setuptools
    and Babel; ``test_the_build_declares_what_it_needs`` checks pyproject.toml asks for them."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    run(sys.executable, "-c", "from setuptools import build_meta; "
        f"build_meta.build_sdist({str(work / 'sdist')!r})", cwd=source)
    [sdist] = (work / "sdist").glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        # Our own archive; Python 3.11 before 3.11.4 has no extraction filters.
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(work / "unpacked", **safe)
    [unpacked] = (work / "unpacked").iterdir()
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "--disable-pip-version-check", "--wheel-dir", work / "dist", unpacked)
    [wheel] = (work / "dist").glob("infocentre-*.whl")
    return wheel


def test_the_build_declares_what_it_needs():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert {r.split(">")[0].split("=")[0] for r in requires} >= {"setuptools", "wheel", "babel"}


def test_the_wheel_installs_anywhere_and_serves_spanish_pages(tmp_path):
    wheel = build_wheel(tmp_path)
    # Nothing of the checkout in reach: no PYTHONPATH (pip would take the checkout's metadata
    # for an installed infocentre), no INFOCENTRE_*, and commands run from elsewhere.
    environ = {k: v for k, v in os.environ.items()
               if k != "PYTHONPATH" and not k.startswith("INFOCENTRE_")}
    environ["LANG"] = "C.UTF-8"
    venv = tmp_path / "venv"
    # No pip inside: this environment's pip installs into it (faster, same cache).
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
        "--no-compile", "--disable-pip-version-check", "--constraint", ROOT / "constraints.txt",
        wheel, env=environ)

    where = run(python, "-c", "import kiosk.config as c; print(c.__file__, c.LOCALES_DIR, "
                "c.CONTENT_DIR)", cwd=tmp_path, env=environ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    infocentre = venv / "bin" / "infocentre"
    centre = tmp_path / "centre"
    made = run(infocentre, "--data-dir", centre, "init", "--role", "node", "--name",
               "Centro Comunitario Demo", cwd=tmp_path, env=environ)
    assert "is set up in" in made.stdout
    demo = run(infocentre, "--data-dir", centre, "demo", cwd=tmp_path, env=environ)
    assert "Rosa Quishpe" in demo.stdout and "Usar una computadora" in demo.stdout

    server = start_server(centre, command=[str(infocentre)], environ=environ)
    try:
        with urllib.request.urlopen(server.url + "/", timeout=10) as response:
            page = response.read().decode()
        assert '<html lang="es"' in page
        assert "Bienvenidos al infocentro" in page and "Welcome" not in page
        with urllib.request.urlopen(server.url + "/static/img/icons.svg", timeout=10) as icons:
            assert icons.status == 200
    finally:
        server.stop()
