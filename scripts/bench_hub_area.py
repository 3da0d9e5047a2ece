"""An area for scripts/bench_hub.py only: bench_area's three tables and records, each row
owned by its centre and seen by that centre alone (OWNER scope, like learning records).

With bench_area's region-wide scope every centre would also receive every other centre's rows,
so the work per centre, and the hub's CPU per centre, would grow with the number of centres by
design; the hub benchmark measures the hub's own cost per centre, so it uses this area by
default (``--scope region`` uses bench_area instead). The suite itself never loads it.
"""

from __future__ import annotations

import bench_area
from sqlite_utils import Migrations

from sync.engine import OWNER, SyncedTable

MIGRATIONS = Migrations("bench_hub")

SYNCED_TABLES = [
    SyncedTable("bench_listings", scope=OWNER, media=("photo",)),
    SyncedTable("bench_lessons", scope=OWNER),
    SyncedTable("bench_stories", scope=OWNER),
]

records = bench_area.records


@MIGRATIONS()
def m0001_bench_tables(db):
    bench_area.m0001_bench_tables(db)  # the same tables, in this area's own migration set
