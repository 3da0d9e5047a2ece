"""The hub's high-water mark: the highest sequence number its database has reached, kept in a
small file beside the database, outside it. A database found behind it was put back from a
backup (a plain copy of an older file counts), and the hub renews its epoch before anything is
written (sync.engine.hub.check_high_water; sync/README.md, "Restores and clones").

Imports the standard library only. The file only ever grows; writes are atomic (a new file
renamed over the old), so a power cut leaves the old mark or the new one, never a torn one.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

FILE = "sync-high-water"
_lock = threading.Lock()
_known: dict[Path, int] = {}


def read(data_dir) -> int:
    """The mark (0 if there is none, or it cannot be read)."""
    path = Path(data_dir) / FILE
    try:
        value = int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        value = 0
    with _lock:
        _known[path] = max(_known.get(path, 0), value)
        return _known[path]


def raise_to(data_dir, seq: int) -> None:
    """Record that the database reached ``seq`` (after the transaction that reached it)."""
    path = Path(data_dir) / FILE
    if seq <= read(data_dir):  # another process may have raised it further
        return
    with _lock:
        part = path.with_name(f"{FILE}.{os.getpid()}.{threading.get_ident()}")
        try:
            part.write_text(f"{seq}\n")
            os.replace(part, path)
        except OSError:
            return  # a full disk: the mark stays lower, which only makes detection later
        _known[path] = seq
