"""The `kp` command: one entry point composing the build and paywall command groups.

Sub-commands are registered by `site_builder.cli` (build, new, check) and `paywall.cli`
(serve, db, members, stripe, events); `kp demo` (kp.demo) runs both with the local Stripe
test server. This module only wires them together, so the two halves stay independent.
"""

from __future__ import annotations

import click

from kp.demo import demo
from paywall.cli import register as register_paywall
from site_builder.cli import register as register_builder


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="knowledge-pay", prog_name="kp")
def main() -> None:
    """Knowledge Pay: build the site, serve it with the paywall, manage members."""


register_builder(main)
register_paywall(main)
main.add_command(demo)
