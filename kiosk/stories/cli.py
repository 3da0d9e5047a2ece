"""``infocentre stories ...``: import a collection, list stories, change a story's consent,
export what consent allows."""

from __future__ import annotations

import click


@click.group(help="Stories: import a collection, list, change consent, export.")
def cli():
    pass

from . import cli_export  # noqa: E402,F401  (export and radio, on this group)
