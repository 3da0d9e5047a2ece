"""Spreadsheets a person imports (``infocentre market import``, ``infocentre stories import``):
the text of a CSV file as spreadsheets save it, its separator, and the problems of a file
refused whole, each with its line and column. Imports ``kiosk.errors`` and ``kiosk.i18n``."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from .errors import KioskError
from .i18n import _, ngettext


@dataclass
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("line %(line)d: %(column)s: %(problem)s", line=self.line,
                     column=self.column, problem=self.message)
        return _("line %(line)d: %(problem)s", line=self.line, problem=self.message)


class ImportRefused(KioskError):
    """The file has problems: each is in ``problems``; nothing was written."""

    def __init__(self, problems: list[Problem], path: Path):
        self.problems = problems
        super().__init__(ngettext("Nothing was imported: %(path)s has %(num)d problem (above).",
                                  "Nothing was imported: %(path)s has %(num)d problems (above).",
                                  len(problems), path=path.name))


def decode(data: bytes, path: Path) -> str:
    """The file's text: UTF-8, with or without the byte-order mark spreadsheets write; anything
    else (Latin-1, UTF-16 "Unicode text") is refused with what to do instead."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise KioskError(_("%(path)s is not UTF-8 text. In the spreadsheet, save it as "
                           "\"CSV UTF-8\" and import it again.", path=path.name))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise KioskError(_("%(path)s is not UTF-8 text (line %(line)d). In the spreadsheet, "
                           "save it as \"CSV UTF-8\" and import it again.", path=path.name,
                           line=line)) from None
    return text.removeprefix("\ufeff")


def separator(text: str) -> str:
    """``;`` when the header line has more semicolons than commas (a Spanish spreadsheet's
    CSV), else ``,``."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def data_rows(reader, columns: list[str], problems: list[Problem], *, limit: int,
              too_many: str) -> list[dict]:
    """The lines after the header of ``reader`` (a csv.reader), as {column: cell} with the
    line's number under ``_line``; cells of a column named "" (unknown) are left out. Blank
    lines are skipped; a line with more cells than columns, or one the CSV module cannot read,
    is added to ``problems``; more than ``limit`` rows is refused at once (``too_many``)."""
    rows = []
    last = 1
    try:
        for cells in reader:
            line = last + 1
            last = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= limit:
                raise KioskError(too_many)
            if len(cells) > len(columns):
                problems.append(Problem(line, "", _(
                    "This line has %(found)d cells but the first line names %(count)d columns.",
                    found=len(cells), count=len(columns))))
                continue
            row = {c: v for c, v in zip(columns, cells) if c}
            row["_line"] = line
            rows.append(row)
    except csv.Error as e:
        problems.append(Problem(reader.line_num, "", _("The line cannot be read: %(error)s",
                                                       error=e)))
    return rows


__all__ = ["ImportRefused", "Problem", "data_rows", "decode", "separator"]
