"""The sync engine: pure replication logic over a ``sqlite_utils.Database``.

Imports the standard library and sqlite-utils only: no Flask, no requests, nothing from kiosk.
"""

from .registry import OWNER, REGION, SchemaProblem, SyncedTable, check_schema

__all__ = ["OWNER", "REGION", "SchemaProblem", "SyncedTable", "check_schema"]
