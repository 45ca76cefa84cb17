"""Development tools of this repository: the local Stripe test server's distribution
(`tools/stripe_local/`) and the import contracts' own contract type. None of it is in the
product's wheel."""
