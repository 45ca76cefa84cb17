"""`kp build|new|check` commands."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach the build commands to the `kp` group."""
