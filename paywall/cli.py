"""`kp serve|db|members|stripe|events` commands."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach the paywall commands to the `kp` group."""
