"""The admin area: the centre registry (and, later, settings, backups and sync status)."""

from .models import SYNCED_TABLES

__all__ = ["SYNCED_TABLES"]
