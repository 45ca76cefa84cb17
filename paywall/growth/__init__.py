"""The growth engine: invites and rewards, partners and commissions, the funnel and the
newsletter. It attaches to sign-in and fulfilment through `hooks.install`, so the layers
below never import it."""
