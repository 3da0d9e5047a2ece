"""The home area: the start page with each area's buttons, and the language picker."""

from .views import bp

__all__ = ["bp"]
