"""The paywall: an ASGI app serving site/ and gating private/ with Stripe-backed entitlements.

Sub-packages, top to bottom (a package imports only those below it; `make lint` checks):

- `app`: the Starlette application, composed from the rest;
- `web`: HTTP routes and pages (serving the site, sign-in, checkout, account, admin);
- `growth`: invites, partners, the funnel and the newsletter, attached to sign-in and
  fulfilment through the hooks in `runtime.hooks` (`growth.hooks.install`);
- `billing`: Stripe Checkout, webhooks and fulfilment;
- `members`: members, entitlements, magic-link sign-in and sessions;
- `runtime`: the context every request and command works with (settings, database,
  clock, mailer, manifest, Stripe client), logs, secrets, language, page shell;
- `database`: engine, tables, race-safe upserts, Alembic migrations.
"""
