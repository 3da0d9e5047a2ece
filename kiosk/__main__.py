"""``python -m kiosk`` runs the ``infocentre`` command (tests spawn servers this way)."""

from .cli import main

if __name__ == "__main__":
    main()
