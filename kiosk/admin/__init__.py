"""The admin area: the centre registry (and, later, settings, backups and sync status)."""

from .cli import hub, sync
from .models import SYNCED_TABLES

commands = [hub, sync]

__all__ = ["SYNCED_TABLES", "commands"]
