"""The `kp` command: one entry point composing the build and paywall command groups.

Sub-commands are registered by `kp.commands.build` (build, new, check) and `kp.commands.serve`
(serve, db, members, stripe, events); `kp demo` (kp.commands.demo) runs both with the local Stripe
test server; `kp deploy` (kp.commands.deploy) writes the nginx and systemd files. This module
only wires them together, so the two halves stay independent.

The paywall's commands (and the demo) are registered the first time a command the build
half does not know is asked for, or when help lists them all: `kp build` then never imports
the paywall's database and Stripe stack, about half a second of every build.
"""

from __future__ import annotations

import click

from kp import fast_exit
from kp.commands.build import register as register_builder


def _register_rest(group: click.Group) -> None:
    from kp.commands.demo import demo
    from kp.commands.deploy import deploy
    from kp.commands.serve import register as register_paywall

    register_paywall(group)
    group.add_command(demo)
    group.add_command(deploy)


class _KpGroup(click.Group):
    """A click group whose paywall half is registered on first need (see the docstring)."""

    _complete = False

    def _load_rest(self) -> None:
        if not self._complete:
            self._complete = True
            _register_rest(self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._load_rest()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_rest()
        return super().list_commands(ctx)


@click.group(cls=_KpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="knowledge-pay", prog_name="kp")
def main() -> None:
    """Knowledge Pay: build the site, serve it with the paywall, manage members."""


register_builder(main)


def run() -> None:
    """The `kp` console script: `main`, then a quick exit when the command asked for one
    (kp.fast_exit)."""
    try:
        main()
    except SystemExit as done:
        fast_exit.exit_if_requested(done.code)
        raise
