"""Hybrid logical clocks: milliseconds in the high bits, a counter in the low 16 bits.

A replica stamps each change with ``max(last + 1, (wall_ms + offset_ms) << 16)``, where
``offset_ms`` is the hub's time minus the local time, learned from every reply of the hub. The
same formula runs in the capture triggers, in plain SQL (``STAMP_SQL``), so writes made with the
``sqlite3`` command-line tool are stamped too. See sync/README.md, "Clocks".
"""

from __future__ import annotations

import time

SHIFT = 16
# The hub refuses stamps further ahead of its own time than this (DESIGN property 5).
MAX_AHEAD_MS = 5 * 60 * 1000
# A change of offset smaller than this is measuring noise, not a wrong clock.
OFFSET_TOLERANCE_MS = 2000

# The next stamp, as an SQL expression over the _sync_state row.
STAMP_SQL = ("max(hlc + 1, (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
             " + offset_ms) << 16)")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


def pack(ms: int, counter: int = 0) -> int:
    return (ms << SHIFT) | counter


def physical_ms(hlc: int) -> int:
    return hlc >> SHIFT


def is_too_far_ahead(hlc: int, hub_now_ms: int) -> bool:
    return physical_ms(hlc) > hub_now_ms + MAX_AHEAD_MS
