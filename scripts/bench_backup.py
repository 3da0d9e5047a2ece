#!/usr/bin/env python3
"""Measure backups and restores of a village centre (issue 15's figures).

    .venv/bin/python scripts/bench_backup.py [--photos N] [--json]

Sets up a demo centre in a temporary directory, seeds the village of the kiosk benchmark (1,000
villagers, 50 classes, 20,000 progress rows: bench_kiosk.seed_village) and gives 500 of them a
photo of 300 KB (the size of a photo the kiosk keeps: 1600 pixels, JPEG, 200-400 KB; random
bytes behind a JPEG header, as a backup never decodes them). Then times, as an admin runs them:
- `infocentre backup DIR`, the first (every blob copied);
- a second one after a day's work (20 new accounts with photos): only new blobs copied, the
  rest hard links to the first backup's;
- `infocentre restore DIR` into a new data directory (every file checked first).
Sizes are bytes on disk, counting a hard-linked file once. Prints a table, or with --json one
JSON object: {"accounts", "photos", "database_mb", "media_mb", "backup_s", "backup_mb",
"second_backup_s", "second_backup_added_mb", "restore_s", "restored_mb"}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_kiosk import seed_village
from local_server import command, environment, log

ROOT = Path(__file__).resolve().parent.parent
PHOTO_BYTES = 300 * 1024
MB = 1000 * 1000


def infocentre(data_dir: Path, *args: str) -> tuple[float, str]:
    """Run a command as an admin would; (seconds, its output)."""
    start = time.perf_counter()
    done = subprocess.run([*command(), "--data-dir", str(data_dir), *args], env=environment(),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"infocentre {' '.join(args)} failed:\n{done.stderr}")
    return seconds, done.stdout


def add_photos(data_dir: Path, count: int, *, where: str = "1") -> None:
    """Give ``count`` villagers a photo each, stored in the media store as the kiosk stores one
    (written straight into the store's layout, and named by the rows, as a sync would)."""
    db = sqlite3.connect(data_dir / "infocentre.db")
    people = [r[0] for r in db.execute(f"SELECT id FROM accounts WHERE role = 'villager' AND "
                                       f"photo IS NULL AND {where} ORDER BY id LIMIT ?", [count])]
    for person in people:
        data = b"\xff\xd8\xff\xe0" + os.urandom(PHOTO_BYTES - 4)
        sha = hashlib.sha256(data).hexdigest()
        path = data_dir / "media" / sha[:2] / sha
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_bytes(data)
        db.execute("UPDATE accounts SET photo = ? WHERE id = ?", [sha, person])
    db.commit()
    db.close()


def a_days_work(data_dir: Path, count: int) -> None:
    db = sqlite3.connect(data_dir / "infocentre.db")
    centre = db.execute("SELECT centre_id FROM accounts WHERE role = 'facilitator'").fetchone()[0]
    for n in range(count):
        db.execute("INSERT INTO accounts (id, centre_id, name, role, created_at, updated_at) "
                   "VALUES (lower(hex(randomblob(16))), ?, ?, 'villager', datetime('now'), "
                   "datetime('now'))", [centre, f"Nueva Persona {n}"])
    db.commit()
    db.close()
    add_photos(data_dir, count, where="name LIKE 'Nueva Persona %'")


def disk_bytes(*roots: Path) -> int:
    """Bytes the files under ``roots`` take on disk, a file with several names counted once."""
    seen, total = set(), 0
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                st = os.lstat(os.path.join(folder, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def measure(photos: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
        centre, folder, restored = Path(tmp, "centre"), Path(tmp, "backups"), Path(tmp, "new")
        infocentre(centre, "init", "--role", "node", "--name", "Centro de Medición")
        infocentre(centre, "demo")
        seed_village(centre / "infocentre.db")
        log(f"storing {photos} photos of {PHOTO_BYTES // 1024} KB ...")
        add_photos(centre, photos)
        db = sqlite3.connect(centre / "infocentre.db")
        accounts = db.execute("SELECT count(*) FROM accounts").fetchone()[0]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        figures = {"accounts": accounts, "photos": photos,
                   "database_mb": (centre / "infocentre.db").stat().st_size / MB,
                   "media_mb": disk_bytes(centre / "media") / MB}
        log("first backup ...")
        figures["backup_s"], _ = infocentre(centre, "backup", str(folder))
        figures["backup_mb"] = disk_bytes(folder) / MB
        a_days_work(centre, 20)
        log("second backup, after a day's work ...")
        figures["second_backup_s"], _ = infocentre(centre, "backup", str(folder))
        figures["second_backup_added_mb"] = disk_bytes(folder) / MB - figures["backup_mb"]
        log("restore ...")
        figures["restore_s"], _ = infocentre(restored, "restore", str(folder))
        figures["restored_mb"] = disk_bytes(restored) / MB
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in figures.items()}


ROWS = [
    ("accounts", "accounts in the village", ""),
    ("photos", "photos (300 KB each)", ""),
    ("database_mb", "database", "MB"),
    ("media_mb", "media store", "MB"),
    ("backup_s", "first backup", "s"),
    ("backup_mb", "first backup's size on disk", "MB"),
    ("second_backup_s", "second backup (a day's work later)", "s"),
    ("second_backup_added_mb", "second backup's added size on disk", "MB"),
    ("restore_s", "restore (every file checked)", "s"),
    ("restored_mb", "restored data directory", "MB"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=500, help="Photos in the media store.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    figures = measure(args.photos)
    if args.json:
        print(json.dumps(figures))
        return
    for key, label, unit in ROWS:
        print(f"{label:<40} {figures[key]:>10} {unit}")


if __name__ == "__main__":
    main()
