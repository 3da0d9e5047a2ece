"""The wheel build: put the catalogues and the course content inside the ``kiosk`` package.

In the source tree they stay beside the packages (``locales/``, ``content/``, as DESIGN lays
out); a wheel installs anywhere, so ``build_py`` copies ``content/`` to ``kiosk/content`` and
compiles ``locales/*/LC_MESSAGES/messages.po`` into ``kiosk/locales`` (the ``.mo`` files only),
where ``kiosk.shipped`` finds them with ``importlib.resources`` (issue 15). Everything else is in
setup.cfg.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _catalogues():
    """``kiosk/catalogues.py`` on its own: importing ``kiosk`` would need Flask, which the
    build environment does not have (it has Babel, from pyproject.toml)."""
    spec = importlib.util.spec_from_file_location("_infocentre_catalogues",
                                                  HERE / "kiosk" / "catalogues.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithShippedFiles(build_py):
    def run(self):
        super().run()
        # An editable install reads them where they are (kiosk.shipped falls back to the tree).
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "kiosk"
        for name in ("content", "locales"):
            shutil.rmtree(package / name, ignore_errors=True)  # nothing left from a past build
        shutil.copytree(HERE / "content", package / "content",
                        ignore=shutil.ignore_patterns("__pycache__", ".*"))
        _catalogues().compile_all(HERE / "locales", into=package / "locales")


setup(cmdclass={"build_py": BuildWithShippedFiles})
